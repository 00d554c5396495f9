"""The adapter contract every voice-cloning system implements.

An adapter only translates between this contract and an upstream API. Batching, timing, retries,
failure records and resampling for the scorers live in the engine (`rvcbench.runner`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

ANY_LANGUAGE = "*"  # in `languages`: the adapter takes every language


@dataclass(frozen=True)
class UpstreamCheckout:
    """An upstream project that runs from a clone (not an installable package), pinned to one commit.

    `variable` names the environment variable that points at the clone; `rvcbench env create MODEL
    --with-upstream` makes the clone and records it, so the variable is needed only for a clone made by
    hand. `marker` is a file every such clone has (a wrong folder is caught before the model is built);
    `import_paths` (relative to the clone) go to the front of `sys.path`, in the order given.
    """

    variable: str
    repo: str
    commit: str
    marker: str
    import_paths: tuple[str, ...] = ("",)


@dataclass(frozen=True)
class CloneRequest:
    """One clone to make: speak `target_text` in the voice of `prompt_audio`.

    `target_audio` is set only for adapters that declare `needs_target_audio` (the oracle); a real
    cloner never sees the recording it is compared with.
    """

    pair_id: str
    prompt_audio: np.ndarray  # float32 mono
    prompt_sample_rate: int
    prompt_text: str
    prompt_language: str
    target_text: str
    target_language: str
    seed: int
    target_audio: np.ndarray | None = field(default=None, repr=False)
    target_sample_rate: int | None = None


class VoiceCloner:
    """Base class for adapters. Subclasses set the class attributes and implement `load` and `clone`.

    `clone` returns one float32 mono waveform per request, in the order of the requests, at
    `sample_rate`. It may raise for the whole batch; the runner then retries the items one by one
    and records the ones that still fail. To fail one item and keep the rest, return
    `CloneFailure(reason)` in its place.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    sample_rate: ClassVar[int] = 16000
    languages: ClassVar[frozenset[str]] = frozenset({"en"})
    needs_prompt_text: ClassVar[bool] = False
    needs_target_audio: ClassVar[bool] = False
    batch_size: ClassVar[int] = 1  # most requests per `clone` call: 1 when the upstream call takes one request
    max_batch_seconds: ClassVar[float | None] = None  # most expected audio seconds per call (device memory)
    requirements: ClassVar[str] = ""  # one line: what it needs to run (packages, weights, GPU)
    version: ClassVar[str] = "0"  # adapter code version; bump when outputs change
    weights_id: ClassVar[str] = ""  # default checkpoint (a Hugging Face id); "" for adapters without weights
    extra_weights: ClassVar[tuple[str, ...]] = ()  # other Hugging Face ids `load` reads (codecs, tokenizers)
    checkout: ClassVar[UpstreamCheckout | None] = None  # the upstream clone `load` runs from, if any
    license: ClassVar[str] = ""  # licence of the weights, shown on the leaderboard
    stack_modules: ClassVar[tuple[str, ...]] = ()  # modules the model needs; when one does not import here,
    # the runner runs the adapter in a worker inside the model's own environment (`rvcbench env create`)
    weights: str | None = None  # set by `create_adapter` from `--weights`: a local folder or another id

    def weights_spec(self) -> str:
        """The checkpoint to load: the user's `--weights`, else the adapter's default id."""
        return self.weights or self.weights_id

    def supports_language(self, language: str) -> bool:
        return ANY_LANGUAGE in self.languages or language in self.languages

    def load(self, device: str) -> None:
        """Load weights once, before any `clone` call."""

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        raise NotImplementedError

    def describe(self) -> dict:
        """Metadata recorded with every run (what produced these clips)."""
        return {
            "name": self.name,
            "version": self.version,
            "sample_rate": self.sample_rate,
            "languages": sorted(self.languages),
            "needs_prompt_text": self.needs_prompt_text,
            "batch_size": self.batch_size,
            "max_batch_seconds": self.max_batch_seconds,
            "weights": self.weights_spec(),
            "license": self.license,
        }


@dataclass(frozen=True)
class CloneFailure:
    """Returned in place of a waveform when the adapter cannot make this one item (e.g. language)."""

    reason: str
