"""The perceptual budget of a prompt transform: how far the prompt the model received is from the original.

For protections this is the cost side of the trade-off (a protection that destroys the recording
protects nothing worth having), so conditions are compared at matched budgets. All three compare the
model-input prompt (after the task's prompt transforms) with the original prompt, at 16 kHz:

- `input_snr_db` = 10·log10(Σ x² / Σ (y − x)²), x the original, y the model input (sample-aligned);
- `input_pesq`: wide-band PESQ (ITU-T P.862.2, `pesq` package), MOS-LQO from 1.04 to 4.64;
- `input_stoi`: STOI (Taal et al., 2011, `pystoi`), 0 to 1.

When the model received the original prompt (the `clean` condition) SNR is not applicable (it would
be infinite) and is reported as NaN with a note; PESQ and STOI are computed as usual (4.64 and 1).
A transform that changes the prompt's length (truncation, time-stretching) makes all three
not applicable: they need a sample-aligned reference.
"""

from __future__ import annotations

import math

import numpy as np

from rvcbench.environment import package_version
from rvcbench.errors import MissingDependencyError
from rvcbench.scoring.contract import (
    NEEDS_INPUT_PROMPT_AUDIO,
    NEEDS_PROMPT_AUDIO,
    Metric,
    ScoreInput,
    Scorer,
    ScorerMeta,
)

CODE_VERSION = "1"
SAMPLE_RATE = 16000
NAME = "perceptual_budget"


def snr_db(reference: np.ndarray, degraded: np.ndarray) -> float:
    """10·log10(signal energy / difference energy); NaN when the two are identical or the reference is silent."""
    ref = np.asarray(reference, dtype=np.float64)
    noise = np.sum((np.asarray(degraded, dtype=np.float64) - ref) ** 2)
    signal = np.sum(ref**2)
    if noise == 0.0 or signal == 0.0:
        return math.nan
    return float(10.0 * np.log10(signal / noise))


class PerceptualBudget(Scorer):
    meta = ScorerMeta(
        name=NAME,
        version=f"{CODE_VERSION}+pesq-{package_version('pesq')}+pystoi-{package_version('pystoi')}",
        model="PESQ wide band (P.862.2), STOI, SNR: model-input prompt vs original prompt",
        needs=frozenset({NEEDS_PROMPT_AUDIO, NEEDS_INPUT_PROMPT_AUDIO}),
        sample_rate=SAMPLE_RATE,
        metrics=(
            Metric("input_snr_db", True, "SNR (dB) of the prompt the model received vs the original prompt",
                   top_level=False),
            Metric("input_pesq", True, "Wide-band PESQ of the prompt the model received vs the original prompt",
                   top_level=False),
            Metric("input_stoi", True, "STOI of the prompt the model received vs the original prompt",
                   top_level=False),
        ),
        requirements="pip install pesq==0.0.4 pystoi==0.4.1",
        settings={"pesq_mode": "wb"},
    )

    def load(self, device: str) -> None:
        try:
            import pesq  # noqa: F401
            import pystoi  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError(f"The perceptual budget needs PESQ and STOI ({exc}): "
                                         f"{self.meta.requirements}") from exc

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        return [self._score_one(item) for item in batch]

    def _score_one(self, item: ScoreInput) -> dict[str, float | str]:
        from pesq import PesqError, pesq
        from pystoi import stoi

        nan = {"input_snr_db": math.nan, "input_pesq": math.nan, "input_stoi": math.nan}
        original, received = item.prompt_audio, item.input_prompt_audio
        if original is None or received is None:
            return {**nan, f"{NAME}_error": "not provided: the original and the model-input prompt are both needed"}
        if len(original) != len(received):
            return {**nan, f"{NAME}_error": "not applicable: the prompt transform changed the prompt's length "
                                            f"({len(original)} → {len(received)} samples at 16 kHz)"}
        out: dict[str, float | str] = {**nan, "input_snr_db": snr_db(original, received)}
        if math.isnan(out["input_snr_db"]):
            out[f"{NAME}_error"] = "not applicable: SNR of a prompt the transforms left unchanged (or silent)"
        try:
            out["input_pesq"] = float(pesq(SAMPLE_RATE, original.astype(np.float64), received.astype(np.float64),
                                           "wb"))
        except PesqError as exc:  # no speech found, or too short: this item's PESQ fails, the others stand
            out[f"{NAME}_error"] = f"PESQ: {type(exc).__name__}: {exc}"
        out["input_stoi"] = float(stoi(original.astype(np.float64), received.astype(np.float64), SAMPLE_RATE))
        return out
