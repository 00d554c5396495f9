"""The analysis contract: set-level results computed after scoring from a whole condition's clips.

A per-utterance scorer sees one clip; an analysis (e.g. `detectability`) sees every clip of a task's
conditions at once. A task names it with the spec key `analysis:`, either a name or a mapping
`{name: NAME, <parameter>: value}`; names and parameters are validated with the task, before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rvcbench.errors import RvcbenchError

if TYPE_CHECKING:
    from rvcbench.data import Dataset
    from rvcbench.plan import WorkItem
    from rvcbench.results import RunDirectory
    from rvcbench.tasks import Task


class AnalysisSpecError(RvcbenchError):
    """A task's `analysis:` entry is malformed; the message names the key and the allowed values."""


def _freeze(value: object) -> object:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class AnalysisSpec:
    name: str
    params: tuple[tuple[str, object], ...] = ()  # sorted pairs; nested mappings as sorted pairs (hashable)

    def get(self, key: str, default: object = None) -> object:
        return dict(self.params).get(key, default)

    def as_dict(self) -> dict:
        return {"name": self.name, **{k: _thaw(v) for k, v in self.params}}


def _thaw(value: object) -> object:
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str)
                                        for p in value) and value:
        return {k: _thaw(v) for k, v in value}
    return value


@dataclass
class AnalysisContext:
    items: list[WorkItem]
    records: dict[str, dict]  # item_id → record
    run_dir: RunDirectory
    dataset: Dataset
    seed: int
    device: str = "cpu"


class Analysis:
    """One analysis: `check_params` validates a spec's parameters; `run` returns the JSON-able result of a task."""

    name: ClassVar[str]
    parameters: ClassVar[dict[str, str]]  # parameter → description (the allowed keys)

    def __init__(self, spec: AnalysisSpec) -> None:
        self.spec = spec

    @classmethod
    def check_params(cls, params: dict) -> None:
        unknown = sorted(set(params) - set(cls.parameters))
        if unknown:
            raise AnalysisSpecError(f"analysis {cls.name!r} has no parameter(s) {unknown}; "
                                    f"allowed: {sorted(cls.parameters)}")

    def run(self, task: Task, context: AnalysisContext) -> dict:
        raise NotImplementedError


def parse_analysis(raw: object) -> AnalysisSpec:
    """`detectability` or `{name: detectability, detector: lfcc_gmm, ...}` → a validated AnalysisSpec."""
    from rvcbench.analyses.registry import ANALYSES

    if isinstance(raw, str):
        name, params = raw, {}
    elif isinstance(raw, dict) and isinstance(raw.get("name"), str):
        name, params = raw["name"], {k: v for k, v in raw.items() if k != "name"}
    else:
        raise AnalysisSpecError("an analysis is a name or a mapping {name: NAME, <parameter>: value}; "
                                f"allowed names: {ANALYSES.names()}")
    if name not in ANALYSES.names():
        raise AnalysisSpecError(f"unknown analysis {name!r}; allowed: {ANALYSES.names()}")
    cls = ANALYSES.get(name)
    cls.check_params(params)
    return AnalysisSpec(name, tuple(sorted((k, _freeze(v)) for k, v in params.items())))
