"""An interfering talker: another speaker of the dataset mixed into the prompt at a given ratio.

This models a prompt recorded with someone else talking in the background, the hardest "noise" for
speaker encoders because it is itself a voice. The interferer comes from the transform context (other
speakers' recordings), never from files read here.
"""

from __future__ import annotations

import numpy as np

from rvcbench.audio import resample
from rvcbench.transforms.base import AUDIO, Audio, TransformContext, TransformUnavailable, transform
from rvcbench.transforms.noise import fit_length, mix_at_snr, power

GENDERS = ("same", "other", "any")


@transform("add_talker", AUDIO)
def add_talker(audio: Audio, rng: np.random.Generator, context: TransformContext, *,
               sir_db: float, gender: str = "any") -> Audio:
    """Mix one other speaker (same, other or any gender) at an exact whole-clip signal-to-interference ratio.

    The interferer is chosen by rng among the dataset's other speakers of that gender, looped or cut to
    the prompt's length from an rng-chosen offset; the mix is scaled down uniformly if it would clip.
    """
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of {', '.join(GENDERS)}; got {gender!r}")
    if not -50.0 <= float(sir_db) <= 100.0:
        raise ValueError(f"sir_db must be between -50 and 100 dB; got {sir_db!r}")
    candidates = [(sid, a) for sid, a in context.other_speakers(context.speaker_id, gender=gender)
                  if len(a.wav) and power(a.wav) > 0.0]
    if not candidates:
        which = "" if gender == "any" else f" of the {gender} gender"
        raise TransformUnavailable(f"the dataset has no other speaker{which} to use as an interfering talker")
    _, other = candidates[int(rng.integers(len(candidates)))]
    interferer = fit_length(resample(other.wav, other.sample_rate, audio.sample_rate), len(audio.wav), rng)
    return Audio(mix_at_snr(audio.wav, interferer, float(sir_db)), audio.sample_rate)
