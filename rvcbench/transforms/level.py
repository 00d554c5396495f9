"""Level conditions: loudness normalisation (ITU-R BS.1770-4) and overdriven, hard-clipped recordings.

`integrated_loudness` implements BS.1770-4 for one channel: the K-weighting pre-filter (high shelf +
RLB high-pass) designed at the input rate with the formulas of libebur128 (they reproduce the standard's
48 kHz coefficients), mean square over 400 ms blocks with 75 % overlap, an absolute gate at −70 LUFS and
a relative gate 10 LU below the loudness of the blocks that passed it. A clip shorter than one block is
measured as a single block.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from rvcbench.transforms.base import AUDIO, Audio, TransformContext, TransformUnavailable, transform

BLOCK_S = 0.4
OVERLAP = 0.75
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LUFS_RANGE = (-70.0, 0.0)
GAIN_DB_RANGE = (0.0, 60.0)


def k_weighting(sample_rate: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The two biquads (b, a) of the BS.1770 K-weighting at `sample_rate` (libebur128's design)."""
    # Stage 1: high shelf (+4 dB above ~1.7 kHz), the acoustic effect of the head.
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = np.tan(np.pi * f0 / sample_rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf_b = np.array([(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0])
    shelf_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    # Stage 2: the RLB high-pass (~38 Hz).
    f0, q = 38.13547087602444, 0.5003270373238773
    k = np.tan(np.pi * f0 / sample_rate)
    a0 = 1.0 + k / q + k * k
    highpass_b = np.array([1.0, -2.0, 1.0])
    highpass_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    return (shelf_b, shelf_a), (highpass_b, highpass_a)


def integrated_loudness(wav: np.ndarray, sr: int) -> float:
    """BS.1770-4 integrated loudness of a mono signal in LUFS (−inf if every block is gated out)."""
    (b1, a1), (b2, a2) = k_weighting(int(sr))
    weighted = lfilter(b2, a2, lfilter(b1, a1, np.asarray(wav, dtype=np.float64)))
    block = int(round(BLOCK_S * sr))
    step = max(1, int(round(block * (1.0 - OVERLAP))))
    if len(weighted) < block:
        powers = np.array([np.mean(weighted**2)]) if len(weighted) else np.zeros(0)
    else:
        starts = np.arange(0, len(weighted) - block + 1, step)
        cumulative = np.concatenate([[0.0], np.cumsum(weighted**2)])
        powers = (cumulative[starts + block] - cumulative[starts]) / block
    with np.errstate(divide="ignore"):
        loudness = -0.691 + 10.0 * np.log10(powers)
    gated = powers[loudness > ABSOLUTE_GATE_LUFS]
    if len(gated) == 0:
        return float("-inf")
    relative_gate = -0.691 + 10.0 * np.log10(np.mean(gated)) + RELATIVE_GATE_LU
    gated = powers[(loudness > ABSOLUTE_GATE_LUFS) & (loudness > relative_gate)]
    return float(-0.691 + 10.0 * np.log10(np.mean(gated)))


@transform("loudness", AUDIO)
def loudness(audio: Audio, rng: np.random.Generator, context: TransformContext, *, lufs: float) -> Audio:
    """Scale to a BS.1770-4 integrated loudness in LUFS, then hard-clip to [-1, 1] like a real gain stage.

    Targets that need more gain than the recording's headroom clip, and then measure below the target.
    """
    if not LUFS_RANGE[0] <= float(lufs) <= LUFS_RANGE[1]:
        raise ValueError(f"lufs must be between {LUFS_RANGE[0]:g} and {LUFS_RANGE[1]:g}; got {lufs!r}")
    measured = integrated_loudness(audio.wav, audio.sample_rate)
    if not np.isfinite(measured):
        raise TransformUnavailable("the input is silent (below −70 LUFS), so its loudness cannot be set")
    gain = 10.0 ** ((float(lufs) - measured) / 20.0)
    out = np.clip(np.asarray(audio.wav, dtype=np.float64) * gain, -1.0, 1.0)
    return Audio(out.astype(np.float32), audio.sample_rate)


@transform("clip", AUDIO)
def clip(audio: Audio, rng: np.random.Generator, context: TransformContext, *, gain_db: float) -> Audio:
    """Amplify by gain_db and hard-clip to [-1, 1] (an overdriven recording)."""
    if not GAIN_DB_RANGE[0] <= float(gain_db) <= GAIN_DB_RANGE[1]:
        raise ValueError(f"gain_db must be between {GAIN_DB_RANGE[0]:g} and {GAIN_DB_RANGE[1]:g} dB; got {gain_db!r}")
    out = np.clip(np.asarray(audio.wav, dtype=np.float64) * 10.0 ** (float(gain_db) / 20.0), -1.0, 1.0)
    return Audio(out.astype(np.float32), audio.sample_rate)
