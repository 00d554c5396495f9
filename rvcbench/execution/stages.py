"""What a replica needs to build its stage, in a form that travels to another thread, process or node."""

from __future__ import annotations

import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from rvcbench.data import Dataset
from rvcbench.execution.usage import DeviceSampler, stage_sample


@dataclass(frozen=True)
class StageSpec:
    """Everything a replica builds its stage from: plain, picklable values (a Ray actor gets a copy)."""

    kind: str  # "synthesis" or "scoring"
    run_root: str
    model: str = ""
    weights: str | None = None
    placement: str = "auto"  # where the adapter runs inside the replica: auto, inprocess or worker
    dataset: Dataset | None = None  # synthesis: other speakers' voices and texts for the transforms
    shared_inputs: str | None = None
    profile: str = "none"  # scoring: the profile's name or file
    scorer_weights: dict[str, str] = field(default_factory=dict)


class Replica:
    """A stage built lazily on its device (a finished run loads no model), called with one payload at a time."""

    def __init__(self, spec: StageSpec, device: str) -> None:
        self.spec, self.device = spec, device
        self._stage = None

    def run(self, payload: list) -> tuple[list, float, float, dict]:
        """The stage's results for `payload`, the seconds spent in the stage, the seconds of that spent
        loading models (the adapter on first use; a scorer the first time it is needed), and the memory
        figures of the process the model ran in (`rvcbench.execution.usage.stage_sample`)."""
        loading = 0.0
        with DeviceSampler(self.device) if self._needs_sampler() else nullcontext() as sampler:
            if self._stage is None:
                start = time.perf_counter()
                self._stage = build_stage(self.spec, self.device)
                loading = time.perf_counter() - start
            loaded_before = getattr(self._stage, "load_seconds", 0.0)
            start = time.perf_counter()
            results = self._stage.run(payload)
            seconds = time.perf_counter() - start
        loading += getattr(self._stage, "load_seconds", 0.0) - loaded_before
        sample = stage_sample(self.device, getattr(self._stage, "adapter", None), sampler)
        return results, seconds + loading, loading, {**sample, "device": self.device}

    def _needs_sampler(self) -> bool:
        """NVML sampling only where torch cannot tell: a CUDA device and no torch CUDA state in this process."""
        torch = sys.modules.get("torch")
        return self.device.startswith("cuda") and (torch is None or not torch.cuda.is_initialized())

    def close(self) -> None:
        if self._stage is not None and self.spec.kind == "synthesis":
            from rvcbench.adapters.executors import close_adapter

            close_adapter(self._stage.adapter)
        self._stage = None


def build_stage(spec: StageSpec, device: str):
    """The synthesis stage (adapter loaded on `device`) or the scoring stage (scorers load on first use)."""
    from rvcbench.results import RunDirectory

    run_dir = RunDirectory(Path(spec.run_root))
    if spec.kind == "synthesis":
        from rvcbench.adapters.executors import open_adapter
        from rvcbench.perturb import DatasetVoices, PerturbedInputs
        from rvcbench.synthesis import SynthesisStage

        adapter = open_adapter(spec.model, weights=spec.weights, executor=spec.placement)
        adapter.load(device)
        inputs = PerturbedInputs(Path(spec.shared_inputs), run_dir.inputs, DatasetVoices(spec.dataset))
        return SynthesisStage(adapter, run_dir, spec.model, inputs)
    if spec.kind == "scoring":
        from rvcbench.scoring.engine import ScoringStage
        from rvcbench.scoring.profiles import build_scorers, resolve_profile
        from rvcbench.scoring.weights import set_overrides

        set_overrides(spec.scorer_weights)
        return ScoringStage(build_scorers(resolve_profile(spec.profile)), run_dir, device)
    raise ValueError(f"unknown stage kind {spec.kind!r}")
