"""Pick a few example pairs per task from a run and copy them, small, into a result folder.

Per example: the prompt exactly as the model received it (the run's `inputs/`, or the dataset's prompt for
unperturbed prompts), the clone the model made (after output transforms), and the real target recording.
Audio is written as 16 kHz mono FLAC, at most MAX_SECONDS long, so a result stays small.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rvcbench.audio import load_audio_at, save_audio
from rvcbench.leaderboard import schema
from rvcbench.leaderboard.table import memberships
from rvcbench.tasks import CLEAN

EXAMPLE_RATE = 16000
MAX_SECONDS = 8.0


@dataclass(frozen=True)
class DatasetFiles:
    """The dataset's prompt and target recording of each pair, when the dataset is on this machine."""

    prompts: dict[str, Path]
    targets: dict[str, Path]


def dataset_files(config: dict) -> DatasetFiles | None:
    """Locate the run's dataset from its config; None when it is not on this machine (targets are then left out)."""
    from rvcbench.data import load_dataset

    root = Path(str(config.get("dataset", {}).get("root", "")))
    spec = "demo" if config.get("data") == "demo" else str(root)
    if spec != "demo" and not root.is_dir():
        return None
    dataset = load_dataset(spec, validate=False)
    manifest = dataset.manifest
    prompts = {p: dataset.audio_path(f) for p, f in zip(manifest.pair_id, manifest.prompt_file_name, strict=True)}
    targets = {p: dataset.audio_path(f) for p, f in zip(manifest.pair_id, manifest.target_file_name, strict=True)}
    return DatasetFiles(prompts, targets)


def choose_examples(table: pd.DataFrame, tasks: dict, per_task: int) -> list[tuple[str, str, pd.Series]]:
    """(task, condition, row) for `per_task` conditions spread over each task's perturbed conditions.

    Conditions are taken evenly from mild to harsh (the spec's order), each with a different pair when possible;
    a task without perturbed conditions (e.g. per-group analysis) shows clean pairs.
    """
    members = memberships(table)
    ok = table["status"].eq("ok").to_numpy() if "status" in table.columns else np.zeros(len(table), bool)
    chosen = []
    for task_name, task in tasks.items():
        conditions = [c for c, v in task.get("conditions", {}).items() if c != CLEAN and v.get("available", True)]
        conditions = conditions or [CLEAN]
        picks = sorted({round(x) for x in np.linspace(0, len(conditions) - 1, min(per_task, len(conditions)))})
        for offset, index in enumerate(picks):
            condition = conditions[index]
            rows = table[[ok[i] and (task_name, condition) in members[i] for i in range(len(table))]]
            if len(rows):
                rows = rows.sort_values("pair_id")
                chosen.append((task_name, condition, rows.iloc[offset % len(rows)]))
    return chosen


def copy_examples(run_dir: Path, table: pd.DataFrame, tasks: dict, out_folder: Path, per_task: int,
                  files: DatasetFiles | None) -> list[dict]:
    """Write the chosen examples' audio under `out_folder/audio/` and return their records for result.json."""
    records = []
    for index, (task, condition, row) in enumerate(choose_examples(table, tasks, per_task)):
        pair = str(row["pair_id"])
        prompt_input = row.get("prompt_input_file")
        sources = {
            "prompt": (schema.safe_member(run_dir, prompt_input) if isinstance(prompt_input, str)
                       else files.prompts.get(pair) if files else None),
            "clone": schema.safe_member(run_dir, row.get("clip_file")),
            "target": files.targets.get(pair) if files else None,
        }
        record = {"task": task, "condition": condition, "pair_id": pair,
                  "text": str(row.get("synth_text") or row.get("target_text") or "")}
        for role, source in sources.items():
            record[role] = None
            if source is not None and source.is_file():
                relative = f"{schema.AUDIO_DIR}/{index:03d}-{role}.flac"
                wav = load_audio_at(source, EXAMPLE_RATE)[: int(MAX_SECONDS * EXAMPLE_RATE)]
                save_audio(out_folder / relative, wav, EXAMPLE_RATE)
                record[role] = relative
        records.append(record)
    return records
