"""Plan a run: expand (model × dataset pairs × task condition) into work items keyed by their inputs.

An item's id is a content hash of everything that determines its clip (adapter and version, prompt
audio bytes, texts, languages, seed, task, condition), so a rerun recognises finished work and a
changed input gets a new id instead of a stale clip.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from rvcbench.data import Dataset

CHARS_PER_SECOND = 14.0  # speaking-rate estimate when no target recording gives the expected length


@dataclass(frozen=True)
class WorkItem:
    item_id: str
    pair_id: str
    speaker_id: str
    prompt_path: Path
    target_path: Path
    prompt_text: str
    prompt_language: str
    target_text: str
    target_language: str
    seed: int
    expected_seconds: float
    task: str
    condition: str
    extras: dict = field(default_factory=dict)  # manifest columns beyond the required ones


def item_seed(run_seed: int, pair_id: str) -> int:
    """Per-item seed: stable across runs, machines and item order."""
    digest = hashlib.sha256(f"{run_seed}:{pair_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def file_sha256(path: Path, cache: dict[Path, str]) -> str:
    if path not in cache:
        cache[path] = hashlib.sha256(path.read_bytes()).hexdigest()
    return cache[path]


def plan_items(dataset: Dataset, *, model: str, adapter_version: str, seed: int, task: str = "default",
               condition: str = "clean", limit: int | None = None,
               output_depends_on_target: bool = False) -> list[WorkItem]:
    manifest = dataset.manifest if limit is None else dataset.manifest.head(limit)
    required = {"speaker_id", "pair_id", "prompt_file_name", "prompt_text", "prompt_language",
                "target_file_name", "target_text", "target_language", "dataset_name", "split"}
    hashes: dict[Path, str] = {}
    items = []
    for row in manifest.to_dict(orient="records"):
        prompt_path = dataset.audio_path(row["prompt_file_name"])
        target_path = dataset.audio_path(row["target_file_name"])
        s = item_seed(seed, row["pair_id"])
        key = {
            "model": model, "adapter_version": adapter_version, "prompt_sha256": file_sha256(prompt_path, hashes),
            "prompt_text": row["prompt_text"], "prompt_language": row["prompt_language"],
            "target_text": row["target_text"], "target_language": row["target_language"],
            "seed": s, "task": task, "condition": condition, "pair_id": row["pair_id"],
        }
        if output_depends_on_target:  # e.g. the oracle, whose output is the target recording itself
            key["target_sha256"] = file_sha256(target_path, hashes)
        item_id = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
        info = sf.info(str(target_path))
        expected = info.frames / info.samplerate if info.frames else len(row["target_text"]) / CHARS_PER_SECOND
        items.append(WorkItem(
            item_id=item_id, pair_id=row["pair_id"], speaker_id=row["speaker_id"],
            prompt_path=prompt_path, target_path=target_path, prompt_text=row["prompt_text"],
            prompt_language=row["prompt_language"], target_text=row["target_text"],
            target_language=row["target_language"], seed=s, expected_seconds=float(expected),
            task=task, condition=condition,
            extras={k: v for k, v in row.items() if k not in required},
        ))
    return items


def batches_by_text_length(items: list[WorkItem], batch_size: int) -> list[list[WorkItem]]:
    """Batches of similar text length (less padding for batched models); order is deterministic."""
    ordered = sorted(items, key=lambda it: (len(it.target_text), it.item_id))
    return [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]
