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
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from rvcbench.data import Dataset
from rvcbench.tasks import Step, Task

CHARS_PER_SECOND = 14.0  # speaking-rate estimate when no target recording gives the expected length


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
    memberships: list[tuple[str, str]] = field(default_factory=list)  # (task, condition) pairs
    extras: dict = field(default_factory=dict)  # manifest columns beyond the required ones


def stable_seed(*parts: object) -> int:
    """A 31-bit seed from its parts: the same on every machine, run and item order."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def item_seed(run_seed: int, pair_id: str) -> int:
    return stable_seed(run_seed, pair_id)


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
    manifest = dataset.manifest if limit is None else dataset.manifest.head(limit)
    required = {"speaker_id", "pair_id", "prompt_file_name", "prompt_text", "prompt_language",
                "target_file_name", "target_text", "target_language", "dataset_name", "split"}
    hashes: dict[Path, str] = {}
    items: dict[str, WorkItem] = {}
    rows = manifest.to_dict(orient="records")
    for task in tasks:
        for condition in task.conditions:
            for row in rows:
                prompt_path = dataset.audio_path(row["prompt_file_name"])
                target_path = dataset.audio_path(row["target_file_name"])
                steps = {"prompt": (), "text": (), "output": ()}
                steps[task.applies_to] = condition.steps
                perturbation_seed = stable_seed(task.name, condition.name, row["pair_id"])
                s = item_seed(seed, row["pair_id"])
                synth = {
                    "model": model, "adapter_version": adapter_version,
                    "prompt_sha256": file_sha256(prompt_path, hashes), "prompt_text": row["prompt_text"],
                    "prompt_language": row["prompt_language"], "target_text": row["target_text"],
                    "target_language": row["target_language"], "seed": s, "pair_id": row["pair_id"],
                    "prompt_steps": steps_key(steps["prompt"]), "text_steps": steps_key(steps["text"]),
                }
                if steps["prompt"] or steps["text"]:
                    synth["perturbation_seed"] = perturbation_seed
                if output_depends_on_target:  # e.g. the oracle, whose output is the target recording itself
                    synth["target_sha256"] = file_sha256(target_path, hashes)
                synth_key = _hash(synth)
                scored = {"synth_key": synth_key, "output_steps": steps_key(steps["output"])}
                if steps["output"]:
                    scored["perturbation_seed"] = perturbation_seed
                item_id = _hash(scored)
                if item_id not in items:
                    info = sf.info(str(target_path))
                    expected = (info.frames / info.samplerate if info.frames
                                else len(row["target_text"]) / CHARS_PER_SECOND)
                    items[item_id] = WorkItem(
                        item_id=item_id, synth_key=synth_key, pair_id=row["pair_id"], speaker_id=row["speaker_id"],
                        prompt_path=prompt_path, prompt_sha256=file_sha256(prompt_path, hashes),
                        target_path=target_path, prompt_text=row["prompt_text"],
                        prompt_language=row["prompt_language"], target_text=row["target_text"],
                        target_language=row["target_language"], seed=s, expected_seconds=float(expected),
                        perturbation_seed=perturbation_seed, prompt_steps=steps["prompt"],
                        text_steps=steps["text"], output_steps=steps["output"],
                        extras={k: v for k, v in row.items() if k not in required},
                    )
                items[item_id].memberships.append((task.name, condition.name))
    return list(items.values())


def batches_by_text_length(items: list[WorkItem], batch_size: int) -> list[list[WorkItem]]:
    """Batches of similar text length (less padding for batched models); order is deterministic."""
    ordered = sorted(items, key=lambda it: (len(it.target_text), it.synth_key))
    return [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]
