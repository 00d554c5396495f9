"""The transform contract and registry.

Audio transforms take and return `Audio` (float32 mono + sample rate); text transforms take and
return a string. Every transform receives a `numpy.random.Generator` seeded from (task, condition,
pair id), so every model sees exactly the same perturbed input, and a `TransformContext` that gives
access to other recordings of the dataset (babble, interfering talkers) without the transform
reading files itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

AUDIO = "audio"
TEXT = "text"
TARGET = "target"  # rewrites what the model is asked to say (text and language) at plan time; WER follows it


@dataclass(frozen=True)
class Audio:
    wav: np.ndarray  # float32 mono
    sample_rate: int


@dataclass(frozen=True)
class Target:
    """What the model is asked to say: the intended text (WER's reference) and its language."""

    text: str
    language: str


class TransformUnavailable(Exception):
    """The transform cannot run here (a codec or a dataset resource is missing): the condition is unavailable."""


@dataclass
class TransformContext:
    """What a transform may need beyond its input: recordings of other speakers of the dataset.

    `other_speakers(speaker_id, gender=None)` returns (speaker_id, Audio) of recordings by speakers
    other than `speaker_id` (optionally only of the given gender: "same"/"other" resolved by the
    caller), in a deterministic order.
    `same_speaker(speaker_id, limit=None)` returns (recording id, Audio) of that speaker's own
    recordings (prompts and targets alike), sorted by recording id: what a per-speaker protection
    (a universal patch) is optimised on.
    """

    speaker_id: str = ""
    gender: str | None = None
    other_speakers: Callable[..., list[tuple[str, Audio]]] = field(default=lambda *a, **k: [])
    same_speaker: Callable[..., list[tuple[str, Audio]]] = field(default=lambda *a, **k: [])
    # transcripts of the dataset, for text and target transforms: `texts(language=None, speaker_id=None)`
    # → list of distinct transcripts in manifest order, optionally of one language and/or one speaker
    texts: Callable[..., list[str]] = field(default=lambda *a, **k: [])
    prompt_language: str = ""


@dataclass(frozen=True)
class TransformSpec:
    name: str
    kind: str  # AUDIO or TEXT
    function: Callable
    description: str

    @property
    def parameters(self) -> tuple[str, ...]:
        """Keyword parameters a task spec may set (everything after the input, rng and context)."""
        skip = {"audio", "text", "target", "rng", "context"}
        return tuple(p for p in inspect.signature(self.function).parameters if p not in skip)


TRANSFORMS: dict[str, TransformSpec] = {}


def transform(name: str, kind: str) -> Callable[[Callable], Callable]:
    """Register a transform function under `name` (decorator). Its docstring's first line describes it."""

    def register(function: Callable) -> Callable:
        if name in TRANSFORMS:
            raise ValueError(f"transform {name!r} registered twice")
        doc = (function.__doc__ or "").strip().splitlines()
        TRANSFORMS[name] = TransformSpec(name, kind, function, doc[0] if doc else "")
        return function

    return register
