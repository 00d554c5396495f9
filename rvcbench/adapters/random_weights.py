"""Random-weight checks: an adapter's real upstream inference code, run through the worker, with no checkpoint.

No voice-cloning checkpoint can be downloaded where the project is built, so the strongest evidence that an
adapter calls its upstream correctly is to run the upstream package's own inference code, built from its real
config made small, with random weights, through the real worker in the model's own environment.

A model opts in with `models/<key>/random_weight_check.py`, a module that both environments can import (it
imports its upstream only inside functions) and that defines:

- `SPEC`, a `RandomWeightSpec`: what to record (the upstream distributions) and what to expect;
- `Adapter`, a subclass of the model's real `Adapter` (`adapter_module(__file__).Adapter`) whose `load` builds
  the small random model (best: saved in upstream's own checkpoint format and loaded by the real `load`).
  `clone` must stay the real adapter's.

`rvcbench check-adapter KEY --random-weights` (`run_random_weight_check`) starts the worker on that module in the
model's recorded environment, loads it, clones real demo prompts, and checks: every output is float32 mono and
finite (and, where the spec says how, of the expected length) at the declared sample rate; a batch equals each
item alone within the spec's tolerance (when the adapter batches); the same request and seed give the same clip;
an impossible request beside a good one is a `CloneFailure` with a reason and the good one still comes back; and
the spec's own extra requests fail with the reasons it names. The outcome is written to
`models/<key>/random_weight_check.json`, from which `docs/model-checks.md` is generated.

It proves call shapes, argument names, batching and failure handling of the upstream code path; it says nothing
about output quality (random weights speak no words).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

CHECK_FILE = "random_weight_check.py"
RECORD_FILE = "random_weight_check.json"


@dataclass(frozen=True)
class FailureProbe:
    """An extra request the adapter must answer with a `CloneFailure` whose reason contains `reason`."""

    what: str  # shown in the report: "a target longer than PL-BERT's 512 positions"
    target_text: str | None = None  # replaces the probe's target text, when set
    prompt_text: str | None = None  # replaces the probe's prompt transcript, when set
    target_language: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class RandomWeightSpec:
    """What a model's random-weight check records and expects.

    `distributions`: the installed distributions whose versions identify the upstream code that ran (the first
    is the upstream itself: "qwen-tts", "f5-tts", ...); a checkout's commit is recorded on its own.
    `batch_tolerance`: largest difference between an item in a batch and the same item alone, relative to the
    item's peak; None when batch and single differ by design (say why in `notes`).
    `expected_samples`: the clip length in samples as a function of the request, when upstream's arithmetic fixes
    it (hop sizes, durations); None when it depends on the random model's choices.
    `seeded`: the same request with another seed must give another clip (a sampler that reads the seed).
    """

    distributions: tuple[str, ...]
    built: str  # one line: what was built ("2-layer Qwen3 talker of width 64, upstream's 12 Hz codec config")
    batch_tolerance: float | None = 1e-4
    expected_samples: Callable | None = None
    seeded: bool = False
    failure_probes: tuple[FailureProbe, ...] = ()
    notes: tuple[str, ...] = field(default=())


def adapter_module(check_file: str | Path) -> ModuleType:
    """The real `models/<key>/adapter.py` beside a check module, imported under its own name."""
    path = Path(check_file).resolve().parent / "adapter.py"
    name = f"rvcbench_model_{path.parent.name}_adapter"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
