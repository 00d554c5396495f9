"""The input check every scorer shares: is this waveform scorable, and if not, why."""

from __future__ import annotations

import numpy as np

MIN_SAMPLES_16K = 1600  # 0.1 s at 16 kHz
SILENCE_PEAK = 1e-4  # a waveform whose peak is below this is treated as silent


def unusable_reason(wav: np.ndarray | None, min_samples: int = MIN_SAMPLES_16K) -> str | None:
    """Why a waveform cannot be scored (missing, too short, non-finite, silent), or None."""
    if wav is None:
        return "no audio"
    if wav.size < min_samples:
        return f"audio too short ({wav.size} samples, need {min_samples})"
    if not np.all(np.isfinite(wav)):
        return "audio contains NaN or Inf"
    if float(np.max(np.abs(wav))) < SILENCE_PEAK:
        return "audio is silent"
    return None
