"""A differentiable copy of the Resemblyzer speaker encoder, the white-box surrogate for optimised protections.

Resemblyzer's own pipeline (`preprocess_wav` → librosa mel → partial windows → GE2E LSTM) is not
differentiable: librosa works in numpy and the WebRTC VAD makes a hard keep/drop decision per 30 ms
window. Here the same maths runs in torch:

- `mel_spectrogram`: |STFT|² (400-sample periodic Hann window, hop 160, centred with zero padding,
  as librosa ≥ 0.10) times librosa's 40-band Slaney mel basis: the numbers of `audio.wav_to_mel_spectrogram`.
- `SurrogateView`: the non-differentiable decisions (volume gain of `normalize_volume`, the VAD's
  keep-mask of `trim_long_silences`, the partial-window slices) are taken once on the clean
  waveform and then held fixed, so the embedding of `clean + δ` is a differentiable function of δ.
  That is the usual treatment of preprocessing in attacks on speaker encoders; the effect of the
  finished perturbation is then measured with the real, non-differentiable Resemblyzer pipeline.

The encoder is loaded once per process (`load_encoder`) on the CPU, in evaluation mode, with its
weights frozen: an attack only needs gradients with respect to the input.
"""

from __future__ import annotations

import functools
import struct
import warnings
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_RATE = 1.3  # resemblyzer's embed_utterance defaults, as in the SIM scorer
MIN_COVERAGE = 0.75
VAD_WINDOW = 480  # 30 ms at 16 kHz
VAD_AVERAGE_WIDTH = 8
VAD_MAX_SILENCE = 6
NORM_TARGET_DBFS = -30.0
INT16_MAX = 2**15 - 1


@functools.lru_cache(maxsize=1)
def load_encoder():
    """Resemblyzer's pretrained GE2E encoder (weights ship in the pip package), CPU, frozen; once per process."""
    with warnings.catch_warnings():  # webrtcvad imports the deprecated pkg_resources; nothing to act on
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        from resemblyzer import VoiceEncoder
    encoder = VoiceEncoder(device="cpu", verbose=False)
    encoder.eval()
    for parameter in encoder.parameters():
        parameter.requires_grad_(False)
    return encoder


@functools.lru_cache(maxsize=1)
def _mel_basis():
    import librosa
    import torch

    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS)
    window = torch.hann_window(N_FFT, periodic=True, dtype=torch.float32)
    return torch.from_numpy(basis.astype(np.float32)), window


def mel_spectrogram(wav):
    """(frames, 40) mel power spectrogram of a 16 kHz torch waveform, as `resemblyzer.audio.wav_to_mel_spectrogram`."""
    import torch

    basis, window = _mel_basis()
    spec = torch.stft(wav, N_FFT, hop_length=HOP, win_length=N_FFT, window=window, center=True,
                      pad_mode="constant", return_complex=True)
    return (basis @ spec.abs() ** 2).T


def resample_torch(wav, sr_from: int, sr_to: int):
    """Band-limited (FFT) resampling in torch: linear, so gradients flow through it."""
    import torch

    if sr_from == sr_to:
        return wav
    n_in = wav.shape[-1]
    n_out = int(round(n_in * sr_to / sr_from))
    spectrum = torch.fft.rfft(wav)
    bins = n_out // 2 + 1
    if spectrum.shape[-1] >= bins:
        spectrum = spectrum[..., :bins]
    else:
        spectrum = torch.nn.functional.pad(spectrum, (0, bins - spectrum.shape[-1]))
    return torch.fft.irfft(spectrum, n_out) * (n_out / n_in)


def vad_keep_mask(wav16: np.ndarray) -> np.ndarray:
    """The boolean sample mask `resemblyzer.audio.trim_long_silences` keeps (length: wav truncated to 30 ms)."""
    import webrtcvad
    from scipy.ndimage import binary_dilation

    usable = len(wav16) - len(wav16) % VAD_WINDOW
    pcm = struct.pack(f"{usable}h", *np.round(wav16[:usable] * INT16_MAX).astype(np.int16))
    vad = webrtcvad.Vad(mode=3)
    flags = np.array([vad.is_speech(pcm[start * 2:(start + VAD_WINDOW) * 2], sample_rate=SAMPLE_RATE)
                      for start in range(0, usable, VAD_WINDOW)], dtype=np.float64)
    width = VAD_AVERAGE_WIDTH
    padded = np.concatenate((np.zeros((width - 1) // 2), flags, np.zeros(width // 2)))
    cumulative = np.cumsum(padded)
    cumulative[width:] = cumulative[width:] - cumulative[:-width]
    mask = np.round(cumulative[width - 1:] / width).astype(bool)
    mask = binary_dilation(mask, np.ones(VAD_MAX_SILENCE + 1))
    return np.repeat(mask, VAD_WINDOW)


def volume_gain(wav16: np.ndarray) -> float:
    """The factor of `normalize_volume(wav, -30 dBFS, increase_only=True)`."""
    rms = float(np.sqrt(np.mean((np.asarray(wav16, dtype=np.float64) * INT16_MAX) ** 2)))
    if rms == 0.0:
        return 1.0
    change_db = NORM_TARGET_DBFS - 20.0 * np.log10(rms / INT16_MAX)
    return float(10.0 ** (change_db / 20.0)) if change_db > 0 else 1.0


@dataclass
class SurrogateView:
    """How the encoder sees one clean recording: the fixed gain, VAD mask and partial slices, at its own rate."""

    sample_rate: int
    gain: float
    keep: np.ndarray  # sample indices (16 kHz) kept by the VAD
    pad_to: int  # the kept waveform is zero-padded to this length
    mel_slices: list[slice]

    @classmethod
    def of(cls, wav: np.ndarray, sample_rate: int) -> SurrogateView:
        """Take the non-differentiable decisions on the clean waveform (float32 mono at `sample_rate`)."""
        import torch

        wav16 = resample_torch(torch.as_tensor(np.asarray(wav, dtype=np.float32)), sample_rate, SAMPLE_RATE).numpy()
        gain = volume_gain(wav16)
        keep = np.flatnonzero(vad_keep_mask(wav16 * gain))
        if keep.size < VAD_WINDOW:
            raise ValueError("the surrogate speaker encoder found no speech (VAD) in the recording")
        wav_slices, mel_slices = load_encoder().compute_partial_slices(keep.size, PARTIAL_RATE, MIN_COVERAGE)
        return cls(sample_rate, gain, keep, max(keep.size, wav_slices[-1].stop), mel_slices)

    def embed(self, wav):
        """The L2-normalised utterance embedding (256,) of a torch waveform at `sample_rate`, differentiably."""
        import torch

        wav16 = resample_torch(wav, self.sample_rate, SAMPLE_RATE) * self.gain
        kept = wav16[torch.as_tensor(self.keep)]
        kept = torch.nn.functional.pad(kept, (0, self.pad_to - kept.shape[0]))
        mel = mel_spectrogram(kept)
        partials = load_encoder()(torch.stack([mel[s] for s in self.mel_slices]))
        raw = partials.mean(dim=0)
        return raw / torch.linalg.vector_norm(raw)
