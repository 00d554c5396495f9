"""A task's `analysis:` entry, parsed and validated with the task (before anything runs).

Kept apart from the analyses themselves so that tasks can name one without importing the engine:
the analysis classes load from the registry only when a spec is checked or run.
"""

from __future__ import annotations

from dataclasses import dataclass

from rvcbench.analyses.registry import ANALYSES
from rvcbench.errors import RvcbenchError


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


def parse_analysis(raw: object) -> AnalysisSpec:
    """`detectability` or `{name: detectability, detector: lfcc_gmm, ...}` → a validated AnalysisSpec."""
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
