"""The run directory: what a run writes, how it is read back, and how it resumes.

    <run>/config.json          what was run: model, adapter, dataset fingerprint, profile, seed, versions
    <run>/clips/<key>.wav      one clip per synthesis and per output-transformed item, written atomically
    <run>/synth/<key>.json     one synthesis result (status, timing), shared by items that differ only in
                               their output transforms
    <run>/inputs/<key>.flac    the perturbed prompts exactly as the model received them
    <run>/items/<item>.json    one record per work item (status, timings, metrics), written atomically
    <run>/utterances.parquet   every record as one table (rebuilt from items/ at the end of a run)
    <run>/summary.json         per metric: mean, 95% CI, n, failures; counts; config; versions

A killed run loses at most the batch in flight: records are the source of truth, and a rerun with
the same settings skips every item that has one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from rvcbench.errors import RvcbenchError

MIN_FREE_BYTES = 200 * 1024 * 1024
IDENTITY_KEYS = ("model", "adapter_version", "dataset_fingerprint", "profile", "seed", "task", "limit", "noise_dir",
                 "weights", "conditions", "pairs")


def write_json_atomic(path: Path, payload: Any, sort_keys: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1, sort_keys=sort_keys, default=_json_default, allow_nan=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def replace_folder(new: Path, destination: Path) -> None:
    """Replace `destination` by `new` with two renames: readers see the old folder or the new one, never a mix."""
    old = destination.with_name(f".{destination.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if destination.exists():
        os.replace(destination, old)
    os.replace(new, destination)
    if old.exists():
        shutil.rmtree(old)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _nested_as_json(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


class RunDirectory:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.clips = self.root / "clips"
        self.items = self.root / "items"
        self.synth = self.root / "synth"
        self.inputs = self.root / "inputs"
        self.config_path = self.root / "config.json"
        self.table_path = self.root / "utterances.parquet"
        self.summary_path = self.root / "summary.json"

    def prepare(self, config: dict, expected_bytes: int) -> None:
        """Create the folders, refuse a folder that holds a different run, check it is writable and has room.

        Fails before any synthesis, with the path and the reason.
        """
        try:
            self.clips.mkdir(parents=True, exist_ok=True)
            self.items.mkdir(parents=True, exist_ok=True)
            self.synth.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-probe"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise RvcbenchError(f"cannot write to the output directory {self.root}: {exc.strerror or exc}") from exc
        free = shutil.disk_usage(self.root).free
        needed = expected_bytes + MIN_FREE_BYTES
        if free < needed:
            raise RvcbenchError(
                f"not enough free disk for {self.root}: {free / 1e6:.0f} MB free, about {needed / 1e6:.0f} MB "
                "needed; free some space or choose another --out"
            )
        if self.config_path.exists():
            previous = json.loads(self.config_path.read_text())
            changed = [k for k in IDENTITY_KEYS if previous.get(k) != config.get(k)]
            if changed:
                detail = ", ".join(f"{k}: {previous.get(k)!r} → {config.get(k)!r}" for k in changed)
                raise RvcbenchError(
                    f"{self.root} holds a run with other settings ({detail}); resume it with the same settings "
                    "or choose another --out"
                )
        write_json_atomic(self.config_path, config)

    def record_path(self, item_id: str) -> Path:
        return self.items / f"{item_id}.json"

    def clip_path(self, item_id: str) -> Path:
        return self.clips / f"{item_id}.wav"

    def read_record(self, item_id: str) -> dict | None:
        path = self.record_path(item_id)
        if not path.exists():
            return None
        return json.loads(path.read_text())

    def write_record(self, record: dict) -> None:
        write_json_atomic(self.record_path(record["item_id"]), record)

    def synth_path(self, synth_key: str) -> Path:
        return self.synth / f"{synth_key}.json"

    def read_synth(self, synth_key: str) -> dict | None:
        path = self.synth_path(synth_key)
        return json.loads(path.read_text()) if path.exists() else None

    def write_synth(self, synth_key: str, result: dict) -> None:
        write_json_atomic(self.synth_path(synth_key), result)

    def set_aside_stale(self, planned: set[str]) -> int:
        """Move records that the current plan no longer contains (an older rvcbench keyed items differently)
        to `stale/items/`, so `items/` holds exactly this run's records; nothing is deleted."""
        stale = [p for p in self.items.glob("*.json") if p.stem not in planned]
        if stale:
            target = self.root / "stale" / "items"
            target.mkdir(parents=True, exist_ok=True)
            for path in stale:
                os.replace(path, target / path.name)
        return len(stale)

    def write_table(self, records: list[dict]) -> pd.DataFrame:
        table = pd.DataFrame(records)
        for column in table.columns:  # nested values (scorer versions) as JSON text: one flat, portable table
            if table[column].map(lambda v: isinstance(v, (dict, list))).any():
                table[column] = table[column].map(_nested_as_json)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".utterances.", suffix=".part")
        os.close(fd)
        try:
            table.to_parquet(tmp, index=False)
            os.replace(tmp, self.table_path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return table

    def write_summary(self, summary: dict) -> None:
        write_json_atomic(self.summary_path, summary, sort_keys=False)  # keep the reading order (clean first)

    def read_summary(self) -> dict:
        if not self.summary_path.exists():
            raise RvcbenchError(f"{self.root} has no summary.json: the run has not finished")
        return json.loads(self.summary_path.read_text())
