"""The signal processing of stimuli: level alignment, MUSHRA's low anchor, the MOS test's degraded anchor.

Pure functions of (audio, sample rate[, seed]); files are read and written by rvcbench.audio only.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

TARGET_RMS_DBFS = -26.0  # every stimulus is played at the same RMS level, so loudness does not decide ratings
PEAK_LIMIT = 0.98
MUSHRA_ANCHOR_HZ = 3500.0  # ITU-R BS.1534-3: the low anchor is the reference low-passed at 3.5 kHz
DEGRADED_CUTOFF_HZ = 1000.0
DEGRADED_SNR_DB = 0.0


def lowpass(wav: np.ndarray, sample_rate: int, cutoff_hz: float, order: int = 8) -> np.ndarray:
    """Zero-phase Butterworth low-pass (applied forward and backward)."""
    if not 0 < cutoff_hz < sample_rate / 2:
        raise ValueError(f"a {cutoff_hz:.0f} Hz low-pass needs a sample rate above {2 * cutoff_hz:.0f} Hz, "
                         f"not {sample_rate}")
    sos = butter(order, cutoff_hz, btype="lowpass", fs=sample_rate, output="sos")
    return sosfiltfilt(sos, np.asarray(wav, dtype=np.float64)).astype(np.float32)


def align_level(wav: np.ndarray) -> np.ndarray:
    """Scale to TARGET_RMS_DBFS RMS, then down if a peak would pass PEAK_LIMIT; silence is returned unchanged."""
    wav = np.asarray(wav, dtype=np.float64)
    rms = float(np.sqrt(np.mean(wav**2))) if wav.size else 0.0
    if rms == 0.0:
        return wav.astype(np.float32)
    scaled = wav * (10 ** (TARGET_RMS_DBFS / 20) / rms)
    peak = float(np.max(np.abs(scaled)))
    if peak > PEAK_LIMIT:
        scaled *= PEAK_LIMIT / peak
    return scaled.astype(np.float32)


def mushra_anchor(reference: np.ndarray, sample_rate: int) -> np.ndarray:
    """MUSHRA's low anchor: the reference low-passed at 3.5 kHz."""
    return lowpass(reference, sample_rate, MUSHRA_ANCHOR_HZ)


def degraded_anchor(wav: np.ndarray, sample_rate: int, seed: int) -> np.ndarray:
    """Clearly degraded speech for the MOS test (expected "bad"): low-passed at 1 kHz, white noise at 0 dB SNR."""
    muffled = lowpass(wav, sample_rate, DEGRADED_CUTOFF_HZ).astype(np.float64)
    noise = np.random.default_rng(seed).standard_normal(muffled.size)
    power = float(np.mean(muffled**2)) or 1e-12
    noise *= np.sqrt(power / 10 ** (DEGRADED_SNR_DB / 10)) / (float(np.std(noise)) or 1.0)
    return (muffled + noise).astype(np.float32)
