"""Signal-level voice protection and the classical denoisers an attacker would use to strip it.

Protection methods (AntiFake, AttackVC, SafeSpeech, …) add an imperceptible perturbation δ to a
waveform in [-1, 1] under an L∞ budget ‖δ‖∞ ≤ ε, commonly ε = 8/255 as in image adversarial work. The
optimised perturbations need the target model's gradients; here are the model-free baselines with the
same budget that such papers compare against:

- `gaussian_protection`: δ = clip(ε·n, −ε, ε) with n ~ N(0, 1) i.i.d. (σ = ε, so the budget is used as
  fully as an optimised perturbation, which saturates it; about a third of the samples sit at ±ε).
- `spectral_protection`: Gaussian noise restricted to a frequency band (FFT mask), scaled so its peak
  is exactly ε.

The attacker's side, `spectral_gating` and `wiener_denoise`, estimates the noise spectrum from the
quietest 10 % of STFT frames (the pauses of speech; at least one frame), the usual assumption of
single-channel speech enhancement when no noise-only recording exists.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter
from scipy.signal import istft, stft

from rvcbench.transforms.base import AUDIO, Audio, TransformContext, TransformUnavailable, transform

FRAME_S = 0.032
QUIETEST_FRACTION = 0.10
WIENER_ALPHA = 0.98  # decision-directed smoothing of the a-priori SNR (Ephraim & Malah, 1984)
WIENER_FLOOR_DB = -25.0
GATE_SMOOTH = (3, 5)  # mask smoothing over (frequency bins, frames), against musical noise


def _check_epsilon(epsilon: float) -> float:
    if not 0.0 < float(epsilon) <= 1.0:
        raise ValueError(f"epsilon must be in (0, 1] (an L∞ budget on [-1, 1] waveforms); got {epsilon!r}")
    return float(epsilon)


@transform("gaussian_protection", AUDIO)
def gaussian_protection(audio: Audio, rng: np.random.Generator, context: TransformContext, *,
                        epsilon: float = 8 / 255) -> Audio:
    """Gaussian noise (σ = ε) clipped to the L∞ budget ε: the model-free protection baseline."""
    eps = _check_epsilon(epsilon)
    delta = np.clip(eps * rng.standard_normal(len(audio.wav)), -eps, eps)
    out = np.clip(np.asarray(audio.wav, dtype=np.float64) + delta, -1.0, 1.0)
    return Audio(out.astype(np.float32), audio.sample_rate)


@transform("spectral_protection", AUDIO)
def spectral_protection(audio: Audio, rng: np.random.Generator, context: TransformContext, *,
                        epsilon: float, band_hz: tuple[float, float] = (1000.0, 4000.0)) -> Audio:
    """A perturbation confined to a frequency band (Hz), scaled to peak exactly at the L∞ budget ε.

    The band's upper edge is capped at the Nyquist frequency; a band entirely above it is unavailable.
    """
    eps = _check_epsilon(epsilon)
    if not isinstance(band_hz, (tuple, list)) or len(band_hz) != 2:
        raise ValueError(f"band_hz must be a pair (low, high) in Hz; got {band_hz!r}")
    low, high = float(band_hz[0]), float(band_hz[1])
    if not 0.0 <= low < high:
        raise ValueError(f"band_hz must satisfy 0 <= low < high; got {band_hz!r}")
    nyquist = audio.sample_rate / 2.0
    if low >= nyquist:
        raise TransformUnavailable(f"band_hz {band_hz!r} lies above the Nyquist frequency ({nyquist:g} Hz)")
    n = len(audio.wav)
    freqs = np.fft.rfftfreq(n, 1.0 / audio.sample_rate)
    spectrum = np.fft.rfft(rng.standard_normal(n)) * ((freqs >= low) & (freqs <= min(high, nyquist)))
    delta = np.fft.irfft(spectrum, n)
    peak = float(np.max(np.abs(delta))) if n else 0.0
    if peak == 0.0:
        raise TransformUnavailable(f"the clip is too short to hold a perturbation in band {band_hz!r}")
    out = np.clip(np.asarray(audio.wav, dtype=np.float64) + delta * (eps / peak), -1.0, 1.0)
    return Audio(out.astype(np.float32), audio.sample_rate)


def _stft(wav: np.ndarray, sample_rate: int) -> tuple[int, np.ndarray]:
    nperseg = max(16, int(round(FRAME_S * sample_rate)))
    if len(wav) < nperseg:
        raise TransformUnavailable(f"the clip is shorter than one {FRAME_S * 1000:g} ms analysis frame")
    _, _, spec = stft(np.asarray(wav, dtype=np.float64), fs=sample_rate, nperseg=nperseg, noverlap=nperseg * 3 // 4)
    return nperseg, spec


def _istft(spec: np.ndarray, sample_rate: int, nperseg: int, length: int) -> np.ndarray:
    _, wav = istft(spec, fs=sample_rate, nperseg=nperseg, noverlap=nperseg * 3 // 4)
    out = np.zeros(length)
    out[: min(length, len(wav))] = wav[:length]
    return out.astype(np.float32)


def noise_power(spec: np.ndarray) -> np.ndarray:
    """Per-bin noise power: the mean power of the quietest 10 % of frames (at least one)."""
    power = np.abs(spec) ** 2
    count = max(1, int(round(QUIETEST_FRACTION * power.shape[1])))
    quietest = np.argsort(power.sum(axis=0), kind="stable")[:count]
    return power[:, quietest].mean(axis=1)


@transform("spectral_gating", AUDIO)
def spectral_gating(audio: Audio, rng: np.random.Generator, context: TransformContext, *,
                    threshold_db: float = 6.0) -> Audio:
    """Spectral gating denoiser: keep STFT bins more than threshold_db above the noise estimate.

    The binary mask is smoothed over 3 bins × 5 frames to limit musical noise.
    """
    if not 0.0 <= float(threshold_db) <= 40.0:
        raise ValueError(f"threshold_db must be between 0 and 40 dB; got {threshold_db!r}")
    nperseg, spec = _stft(audio.wav, audio.sample_rate)
    noise = np.sqrt(noise_power(spec))[:, None]
    mask = (np.abs(spec) > noise * 10.0 ** (float(threshold_db) / 20.0)).astype(np.float64)
    mask = uniform_filter(mask, size=GATE_SMOOTH, mode="nearest")
    return Audio(_istft(spec * mask, audio.sample_rate, nperseg, len(audio.wav)), audio.sample_rate)


@transform("wiener_denoise", AUDIO)
def wiener_denoise(audio: Audio, rng: np.random.Generator, context: TransformContext) -> Audio:
    """Wiener filter with a decision-directed a-priori SNR (α = 0.98) and a −25 dB gain floor."""
    nperseg, spec = _stft(audio.wav, audio.sample_rate)
    noise = np.maximum(noise_power(spec), 1e-20)
    power = np.abs(spec) ** 2
    floor = 10.0 ** (WIENER_FLOOR_DB / 20.0)
    gains = np.empty_like(power)
    previous = np.zeros(power.shape[0])  # |Ŝ|² of the previous frame
    for frame in range(power.shape[1]):
        posterior = power[:, frame] / noise
        prior = WIENER_ALPHA * previous / noise + (1.0 - WIENER_ALPHA) * np.maximum(posterior - 1.0, 0.0)
        gain = np.maximum(prior / (1.0 + prior), floor)
        gains[:, frame] = gain
        previous = gain**2 * power[:, frame]
    return Audio(_istft(spec * gains, audio.sample_rate, nperseg, len(audio.wav)), audio.sample_rate)
