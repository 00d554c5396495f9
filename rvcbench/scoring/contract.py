"""The scorer contract: each scorer declares what it needs, the engine feeds it (VERSA-style metadata).

The engine converts every waveform to the scorer's `sample_rate` before calling `score`, loads each
scorer once per run, and calls `score` with batches. A scorer returns one dict of metric values per
input, in order; a metric it cannot compute for one input is `float('nan')` with the reason under
the key `"<scorer>_error"` (recorded in the row, counted as a failure of that metric).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

NEEDS_TARGET_AUDIO = "target_audio"  # the real recording of the target utterance
NEEDS_PROMPT_AUDIO = "prompt_audio"  # the reference the model cloned from
NEEDS_INPUT_PROMPT_AUDIO = "input_prompt_audio"  # the prompt as the model received it (after prompt transforms)
NEEDS_TEXT = "text"  # the target text
NEEDS_PARALLEL_TARGET = "parallel_target"  # the target recording must say the target text (MCD, prosody)


@dataclass(frozen=True)
class Metric:
    """One number a scorer reports. `higher_is_better` drives ranking and plots."""

    name: str
    higher_is_better: bool
    description: str
    auxiliary: bool = False  # a per-row count behind a corpus-level metric (edits, reference words): not summarised
    top_level: bool = True  # False: only meaningful in the tasks that list it (e.g. SIM drift of long clips)


@dataclass(frozen=True)
class ScorerMeta:
    name: str
    version: str  # scorer code version + model identity, recorded with every row
    model: str  # the model id / file the scorer runs
    needs: frozenset[str]
    sample_rate: int
    metrics: tuple[Metric, ...]
    requirements: str = ""  # one line: what it needs installed
    gpu_compatible: bool = False
    settings: dict = field(default_factory=dict)


@dataclass
class ScoreInput:
    """What a scorer sees for one clip; audio is float32 mono at the scorer's sample rate."""

    pair_id: str
    audio: np.ndarray
    target_audio: np.ndarray | None = None
    prompt_audio: np.ndarray | None = None
    input_prompt_audio: np.ndarray | None = None  # = prompt_audio when no transform changed the prompt
    target_text: str = ""
    language: str = "en"


class Scorer:
    """Base class for scorers. `load` once per run, then `score` on batches."""

    meta: ClassVar[ScorerMeta]
    settings_tag: str = ""  # set by the profile when it changes a setting: part of the version rows record

    @property
    def version(self) -> str:
        """What a row records as this scorer's version: code and model, plus the profile's settings if any."""
        return self.meta.version + self.settings_tag

    def load(self, device: str) -> None:
        """Load models once per run."""

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        raise NotImplementedError
