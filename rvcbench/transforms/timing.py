"""Prompt length: how much reference speech a cloner gets.

`truncate` keeps the first N seconds of speech. Leading silence is trimmed first, so every condition
gets N seconds of actual speech rather than N seconds that may start with a pause.
"""

from __future__ import annotations

import numpy as np

from rvcbench.transforms.base import AUDIO, Audio, TransformContext, TransformUnavailable, transform

SILENCE_DB = -40.0  # below the peak: counts as leading silence


def trim_leading_silence(wav: np.ndarray, threshold_db: float = SILENCE_DB) -> np.ndarray:
    """Drop the samples before the first whose magnitude reaches `threshold_db` below the peak."""
    magnitude = np.abs(np.asarray(wav))
    if len(magnitude) == 0 or magnitude.max() == 0.0:
        return wav[:0]
    loud = np.flatnonzero(magnitude >= magnitude.max() * 10.0 ** (threshold_db / 20.0))
    return wav[int(loud[0]):]


@transform("truncate", AUDIO)
def truncate(audio: Audio, rng: np.random.Generator, context: TransformContext, *, seconds: float) -> Audio:
    """Keep the first `seconds` of the prompt after trimming leading silence (−40 dB below the peak)."""
    if not float(seconds) > 0.0:
        raise ValueError(f"seconds must be positive; got {seconds!r}")
    speech = trim_leading_silence(audio.wav)
    available = len(speech) / audio.sample_rate
    length = int(round(float(seconds) * audio.sample_rate))
    if len(speech) < length:
        raise TransformUnavailable(f"prompt is only {available:.2f} s, shorter than {float(seconds):g} s "
                                   "(after trimming leading silence)")
    return Audio(np.asarray(speech[:length], dtype=np.float32), audio.sample_rate)
