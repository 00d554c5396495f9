"""The analysis contract: set-level results computed after scoring from a whole condition's clips.

A per-utterance scorer sees one clip; an analysis (e.g. `detectability`) sees every clip of a task's
conditions at once. A task names it with the spec key `analysis:`, either a name or a mapping
`{name: NAME, <parameter>: value}`; names and parameters are validated with the task, before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rvcbench.analyses.spec import AnalysisSpec, AnalysisSpecError

if TYPE_CHECKING:
    from rvcbench.data import Dataset
    from rvcbench.plan import WorkItem
    from rvcbench.results import RunDirectory
    from rvcbench.tasks import Task


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
