"""Additive noise and room reverberation: the acoustic conditions a real prompt is recorded in.

`add_noise` mixes a noise at an exact signal-to-noise ratio (whole-clip powers), then scales the mix
uniformly if it would clip, so the ratio is kept. `add_reverb` convolves with a synthetic room impulse
response of a given RT60. The mixing helpers (`fit_length`, `mix_at_snr`) are shared with the
interfering-talker transform.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.signal import fftconvolve, welch

from rvcbench.audio import load_audio, resample
from rvcbench.transforms.base import AUDIO, Audio, TransformContext, TransformUnavailable, transform

NOISE_TYPES = ("white", "pink", "brown", "speech_shaped", "babble", "hum", "file")
PEAK = 0.99  # the mix is scaled uniformly below this peak, so the SNR is kept
BABBLE_TALKERS = 4
MIN_BABBLE_TALKERS = 2
MAINS_HZ = 50.0
HUM_HARMONICS = 8
HUM_BROADBAND_DB = -30.0  # broadband noise power relative to the hum's
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au")
MAX_RT60_S = 10.0
PREDELAY_S = 0.005


def power(wav: np.ndarray) -> float:
    """Mean square over the whole clip (float64)."""
    return float(np.mean(np.square(np.asarray(wav, dtype=np.float64)))) if len(wav) else 0.0


def fit_length(wav: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """Loop (or cut) `wav` to `length` samples, starting at an rng-chosen offset."""
    wav = np.asarray(wav, dtype=np.float64)
    if len(wav) == 0:
        raise ValueError("cannot fit an empty recording to a length")
    start = int(rng.integers(len(wav)))
    return np.resize(np.roll(wav, -start), length)


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`signal + g·noise` with 10·log10(P_signal / P_{g·noise}) = snr_db, peak-limited uniformly to PEAK.

    Powers are whole-clip mean squares. Scaling the whole mix keeps the ratio exactly.
    """
    p_signal, p_noise = power(signal), power(noise)
    if p_signal == 0.0:
        raise TransformUnavailable("the input is silent, so a signal-to-noise ratio is undefined")
    if p_noise == 0.0:
        raise TransformUnavailable("the noise is silent, so it cannot be mixed at a signal-to-noise ratio")
    gain = np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    mix = np.asarray(signal, dtype=np.float64) + gain * np.asarray(noise, dtype=np.float64)
    peak = float(np.max(np.abs(mix)))
    if peak > PEAK:
        mix *= PEAK / peak
    return mix.astype(np.float32)


def _colored_noise(length: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power spectral density ∝ 1/f^exponent (0 white, 1 pink, 2 brown)."""
    spectrum = rng.standard_normal(length // 2 + 1) + 1j * rng.standard_normal(length // 2 + 1)
    freqs = np.fft.rfftfreq(length)
    freqs[0] = freqs[1] if length > 1 else 1.0
    spectrum *= freqs ** (-exponent / 2.0)
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, length)


def _shaped_noise(length: int, sample_rate: int, references: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise whose spectrum follows the long-term average spectrum of `references`."""
    nperseg = min(1024, min(len(r) for r in references))
    freqs, _ = welch(references[0], fs=sample_rate, nperseg=nperseg)
    ltas = np.mean([welch(r, fs=sample_rate, nperseg=nperseg)[1] for r in references], axis=0)
    white = np.fft.rfft(rng.standard_normal(length))
    shape = np.sqrt(np.interp(np.fft.rfftfreq(length, 1.0 / sample_rate), freqs, ltas))
    return np.fft.irfft(white * shape, length)


def _other_recordings(context: TransformContext, sample_rate: int) -> list[np.ndarray]:
    return [resample(a.wav, a.sample_rate, sample_rate).astype(np.float64)
            for _, a in context.other_speakers(context.speaker_id)]


def _babble(length: int, sample_rate: int, context: TransformContext, rng: np.random.Generator) -> np.ndarray:
    others = [w for w in _other_recordings(context, sample_rate) if power(w) > 0.0]
    if len(others) < MIN_BABBLE_TALKERS:
        raise TransformUnavailable(f"babble needs at least {MIN_BABBLE_TALKERS} other speakers; "
                                   f"this dataset has {len(others)} besides this one")
    chosen = rng.choice(len(others), size=min(BABBLE_TALKERS, len(others)), replace=False)
    babble = np.zeros(length)
    for index in sorted(int(i) for i in chosen):
        talker = fit_length(others[index], length, rng)
        babble += talker / np.sqrt(max(power(talker), 1e-20))
    return babble


def _hum(length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum: 50 Hz and its harmonics (amplitude 1/k, random phases) plus broadband noise at −30 dB."""
    t = np.arange(length) / sample_rate
    hum = np.zeros(length)
    for k in range(1, HUM_HARMONICS + 1):
        if k * MAINS_HZ < sample_rate / 2:
            hum += np.sin(2 * np.pi * k * MAINS_HZ * t + rng.uniform(0, 2 * np.pi)) / k
    broadband = rng.standard_normal(length) * np.sqrt(power(hum) * 10.0 ** (HUM_BROADBAND_DB / 10.0))
    return hum + broadband


def _file_noise(length: int, sample_rate: int, noise_dir: str | None, rng: np.random.Generator) -> np.ndarray:
    if not noise_dir:
        raise ValueError("noise='file' needs noise_dir, a folder of noise recordings (e.g. DEMAND or MUSAN)")
    folder = Path(noise_dir).expanduser()
    if not folder.is_dir():
        raise TransformUnavailable(f"noise_dir {str(folder)!r} is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    for index in rng.permutation(len(files)):
        try:
            wav, sr = load_audio(files[int(index)])
        except (RuntimeError, OSError):  # soundfile's LibsndfileError is a RuntimeError: try the next file
            continue
        if len(wav) and power(wav) > 0.0:
            return fit_length(resample(wav, sr, sample_rate), length, rng)
    raise TransformUnavailable(f"noise_dir {str(folder)!r} has no readable, non-silent audio file")


def make_noise(noise: str, length: int, sample_rate: int, rng: np.random.Generator,
               context: TransformContext, reference: np.ndarray, noise_dir: str | None = None) -> np.ndarray:
    """A noise of type `noise` (see NOISE_TYPES), `length` samples at `sample_rate`, unscaled."""
    if noise == "white":
        return rng.standard_normal(length)
    if noise == "pink":
        return _colored_noise(length, 1.0, rng)
    if noise == "brown":
        return _colored_noise(length, 2.0, rng)
    if noise == "speech_shaped":
        references = [w for w in _other_recordings(context, sample_rate) if len(w) >= 16] or [reference]
        return _shaped_noise(length, sample_rate, references, rng)
    if noise == "babble":
        return _babble(length, sample_rate, context, rng)
    if noise == "hum":
        return _hum(length, sample_rate, rng)
    if noise == "file":
        return _file_noise(length, sample_rate, noise_dir, rng)
    raise ValueError(f"noise must be one of {', '.join(NOISE_TYPES)}; got {noise!r}")


@transform("add_noise", AUDIO)
def add_noise(audio: Audio, rng: np.random.Generator, context: TransformContext, *,
              snr_db: float, noise: str = "white", noise_dir: str | None = None) -> Audio:
    """Add noise (white, pink, brown, speech_shaped, babble, hum or file) at an exact whole-clip SNR in dB.

    speech_shaped follows the long-term average spectrum of the dataset's other speakers (of the input
    itself when there are none); babble sums up to 4 other speakers at equal levels (needs at least 2);
    file picks a recording from `noise_dir`. The mix is scaled down uniformly if it would clip.
    """
    if noise not in NOISE_TYPES:
        raise ValueError(f"noise must be one of {', '.join(NOISE_TYPES)}; got {noise!r}")
    if not -50.0 <= float(snr_db) <= 100.0:
        raise ValueError(f"snr_db must be between -50 and 100 dB; got {snr_db!r}")
    if len(audio.wav) < 2:
        raise TransformUnavailable("the input is empty")
    samples = make_noise(noise, len(audio.wav), audio.sample_rate, rng, context, audio.wav, noise_dir)
    return Audio(mix_at_snr(audio.wav, samples, float(snr_db)), audio.sample_rate)


def room_impulse_response(rt60_s: float, sample_rate: int, rng: np.random.Generator,
                          predelay_s: float = PREDELAY_S) -> np.ndarray:
    """Synthetic RIR: a unit direct path after `predelay_s`, then a Gaussian tail decaying 60 dB in `rt60_s`.

    The tail is white Gaussian noise times exp(-3·ln(10)·t/rt60_s) (amplitude −60 dB at t = rt60_s, so
    its energy decay curve falls 60 dB per rt60_s: Polack's statistical model of a diffuse field). The
    tail starts one sample after the direct path and its total energy equals the direct path's (direct-
    to-reverberant ratio 0 dB); it is cut where it has decayed by 80 dB.
    """
    start = int(round(predelay_s * sample_rate))
    tail_length = max(1, int(np.ceil(rt60_s * 80.0 / 60.0 * sample_rate)))
    t = np.arange(1, tail_length + 1) / sample_rate
    tail = rng.standard_normal(tail_length) * np.exp(-3.0 * np.log(10.0) * t / rt60_s)
    tail /= np.sqrt(np.sum(tail**2))
    rir = np.zeros(start + 1 + tail_length)
    rir[start] = 1.0
    rir[start + 1:] = tail
    return rir


@transform("add_reverb", AUDIO)
def add_reverb(audio: Audio, rng: np.random.Generator, context: TransformContext, *, rt60_s: float) -> Audio:
    """Reverberate with a synthetic room impulse response of the given RT60 (seconds); same length and RMS.

    The output keeps the input's length (the reverberant tail past the end is cut) and RMS, scaled down
    uniformly instead if that would clip.
    """
    if not 0.0 < float(rt60_s) <= MAX_RT60_S:
        raise ValueError(f"rt60_s must be in (0, {MAX_RT60_S:g}] seconds; got {rt60_s!r}")
    rir = room_impulse_response(float(rt60_s), audio.sample_rate, rng)
    wet = fftconvolve(np.asarray(audio.wav, dtype=np.float64), rir)[: len(audio.wav)]
    p_in, p_wet = power(audio.wav), power(wet)
    if p_wet > 0.0:
        wet *= np.sqrt(p_in / p_wet)
    peak = float(np.max(np.abs(wet))) if len(wet) else 0.0
    if peak > PEAK:
        wet *= PEAK / peak
    return Audio(wet.astype(np.float32), audio.sample_rate)
