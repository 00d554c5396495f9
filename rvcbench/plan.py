"""Plan a run: expand (model × tasks × conditions × dataset pairs) into work items keyed by their inputs.

Two keys per item, both content hashes:
- `synth_key`: everything that determines the synthesized clip (adapter and version, prompt audio
  bytes, prompt/text transforms and their seed, texts, languages, seed). Items that differ only in
  what happens after synthesis (output transforms) share one synthesis.
- `item_id`: the synth key plus the output transforms: one scored clip.
The `clean` condition of every task has the same inputs, so it is one item scored once, listed as a
member of each task. A rerun recognises finished work; a changed input gets a new key, never a stale clip.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from rvcbench.data import Dataset
from rvcbench.data.texts import DatasetTexts
from rvcbench.perturb import apply_target_steps
from rvcbench.seeds import item_seed, stable_seed
from rvcbench.tasks import APPLIES_TO, Step, Task
from rvcbench.transforms.base import Target, TransformContext, TransformUnavailable
from rvcbench.transforms.targets import estimated_seconds


@dataclass
class WorkItem:
    item_id: str
    synth_key: str
    pair_id: str
    speaker_id: str
    prompt_path: Path
    prompt_sha256: str
    target_path: Path
    prompt_text: str
    prompt_language: str
    target_text: str
    target_language: str
    seed: int
    expected_seconds: float
    perturbation_seed: int
    prompt_steps: tuple[Step, ...] = ()
    text_steps: tuple[Step, ...] = ()
    output_steps: tuple[Step, ...] = ()
    prompt_text_steps: tuple[Step, ...] = ()
    parallel_target: bool = True  # the target recording says the target text (False once a task rewrote it)
    unavailable_reason: str | None = None  # the condition cannot run for this pair (decided when planning)
    memberships: list[tuple[str, str]] = field(default_factory=list)  # (task, condition) pairs
    extras: dict = field(default_factory=dict)  # manifest columns beyond the required ones


def file_sha256(path: Path, cache: dict[Path, str]) -> str:
    if path not in cache:
        cache[path] = hashlib.sha256(path.read_bytes()).hexdigest()
    return cache[path]


def _hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]


def steps_key(steps: tuple[Step, ...]) -> list:
    return [s.as_dict() for s in steps]


def plan_items(dataset: Dataset, tasks: list[Task], *, model: str, adapter_version: str, seed: int,
               limit: int | None = None, output_depends_on_target: bool = False) -> list[WorkItem]:
    """Every work item of the run, in memory, with the memberships of repeated items merged."""
    items: dict[str, WorkItem] = {}
    for item in iter_planned(dataset, tasks, model=model, adapter_version=adapter_version, seed=seed, limit=limit,
                             output_depends_on_target=output_depends_on_target):
        if item.item_id in items:
            items[item.item_id].memberships += item.memberships
        else:
            items[item.item_id] = item
    return list(items.values())


def iter_planned(dataset: Dataset, tasks: list[Task], *, model: str, adapter_version: str, seed: int,
                 limit: int | None = None, output_depends_on_target: bool = False) -> Iterator[WorkItem]:
    """The work items one (task, condition, pair) at a time, each with that one membership.

    An item shared by several conditions (every task's `clean`) comes once per condition; the consumer
    merges memberships (`plan_items` in memory, `RunStore.replace_plan` in the run database).
    """
    manifest = dataset.manifest if limit is None else dataset.manifest.head(limit)
    required = {"speaker_id", "pair_id", "prompt_file_name", "prompt_text", "prompt_language",
                "target_file_name", "target_text", "target_language", "dataset_name", "split"}
    hashes: dict[Path, str] = {}
    durations: dict[Path, float] = {}
    texts = DatasetTexts(dataset.manifest)
    for task in tasks:
        for condition in task.conditions:
            for row in _rows(manifest):
                prompt_path = dataset.audio_path(row["prompt_file_name"])
                target_path = dataset.audio_path(row["target_file_name"])
                steps: dict[str, tuple[Step, ...]] = {k: () for k in APPLIES_TO}
                for step in condition.steps:
                    steps[step.target(task.applies_to)] += (step,)
                perturbation_seed = stable_seed(task.name, condition.name, row["pair_id"])
                original = Target(row["target_text"], row["target_language"])
                target, unavailable = _planned_target(original, steps["target"], perturbation_seed,
                                                      texts.context(row))
                s = item_seed(seed, row["pair_id"])
                synth = {
                    "model": model, "adapter_version": adapter_version,
                    "prompt_sha256": file_sha256(prompt_path, hashes), "prompt_text": row["prompt_text"],
                    "prompt_language": row["prompt_language"], "target_text": target.text,
                    "target_language": target.language, "seed": s, "pair_id": row["pair_id"],
                    "prompt_steps": steps_key(steps["prompt"]), "text_steps": steps_key(steps["text"]),
                }
                if steps["prompt_text"]:
                    synth["prompt_text_steps"] = steps_key(steps["prompt_text"])
                if steps["prompt"] or steps["text"] or steps["prompt_text"]:
                    synth["perturbation_seed"] = perturbation_seed
                if unavailable:
                    synth["unavailable"] = unavailable
                if output_depends_on_target:  # e.g. the oracle, whose output is the target recording itself
                    synth["target_sha256"] = file_sha256(target_path, hashes)
                    synth["parallel_target"] = target == original
                synth_key = _hash(synth)
                scored = {"synth_key": synth_key, "output_steps": steps_key(steps["output"])}
                if steps["output"]:
                    scored["perturbation_seed"] = perturbation_seed
                item_id = _hash(scored)
                parallel = target == original
                recorded = _recorded_seconds(target_path, durations)
                expected = recorded if recorded and parallel else estimated_seconds(target.text, target.language)
                yield WorkItem(
                    item_id=item_id, synth_key=synth_key, pair_id=row["pair_id"], speaker_id=row["speaker_id"],
                    prompt_path=prompt_path, prompt_sha256=file_sha256(prompt_path, hashes),
                    target_path=target_path, prompt_text=row["prompt_text"],
                    prompt_language=row["prompt_language"], target_text=target.text,
                    target_language=target.language, seed=s, expected_seconds=float(expected),
                    perturbation_seed=perturbation_seed, prompt_steps=steps["prompt"],
                    text_steps=steps["text"], output_steps=steps["output"],
                    prompt_text_steps=steps["prompt_text"], parallel_target=parallel,
                    unavailable_reason=unavailable,
                    extras={k: v for k, v in row.items() if k not in required},
                    memberships=[(task.name, condition.name)],
                )


def _rows(manifest, chunk: int = 2000) -> Iterator[dict]:
    """The manifest's rows as dicts, a chunk at a time (a million-row manifest never becomes a million dicts)."""
    for start in range(0, len(manifest), chunk):
        yield from manifest.iloc[start:start + chunk].to_dict(orient="records")


def _recorded_seconds(path: Path, cache: dict[Path, float]) -> float:
    if path not in cache:
        info = sf.info(str(path))
        cache[path] = info.frames / info.samplerate if info.frames else 0.0
    return cache[path]


def plan_fingerprint(dataset: Dataset, settings: dict) -> str:
    """What the plan depends on: the run's settings, the manifest, and every audio file's size and mtime.

    Equal fingerprints → the stored plan is reused (a finished run re-opens without re-planning).
    """
    files = sorted({dataset.audio_path(name) for column in ("prompt_file_name", "target_file_name")
                    for name in dataset.manifest[column].unique()})
    stats = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return _hash({"settings": settings, "manifest": dataset.fingerprint, "files": stats})


def _planned_target(original: Target, steps: tuple[Step, ...], seed: int,
                    context: TransformContext) -> tuple[Target, str | None]:
    """The target after the condition's target transforms, or the original and why it cannot run."""
    if not steps:
        return original, None
    try:
        return apply_target_steps(original, steps, seed, context), None
    except TransformUnavailable as exc:
        return original, str(exc)


def batches_by_text_length(items: list[WorkItem], batch_size: int) -> list[list[WorkItem]]:
    """Batches of similar text length (less padding for batched models); order is deterministic."""
    ordered = sorted(items, key=lambda it: (len(it.target_text), it.synth_key))
    return [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]
