"""Set-level analyses run after scoring over whole conditions (e.g. `detectability`), and their detectors.

The runner calls `run_analyses` once; each task whose spec has an `analysis:` key gets its result in
`summary["analyses"][<task name>]`. See docs/detectability.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rvcbench.data import Dataset
    from rvcbench.plan import WorkItem
    from rvcbench.results import RunDirectory
    from rvcbench.tasks import Task


def run_analyses(tasks: list[Task], items: list[WorkItem], records: list[dict], run_dir: RunDirectory,
                 dataset: Dataset, seed: int, device: str = "cpu") -> dict:
    """Task name → the result of the task's analysis; empty when no task asks for one."""
    from rvcbench.analyses.base import AnalysisContext
    from rvcbench.analyses.registry import ANALYSES

    chosen = [t for t in tasks if getattr(t, "analysis", None) is not None]
    if not chosen:
        return {}
    context = AnalysisContext(items, {r["item_id"]: r for r in records}, run_dir, dataset, seed, device)
    return {t.name: ANALYSES.get(t.analysis.name)(t.analysis).run(t, context) for t in chosen}
