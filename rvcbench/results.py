"""The run directory: what a run writes, how it is read back, and how it resumes.

    <run>/config.json          what was run: model, adapter, dataset fingerprint, profile, seed, versions
    <run>/run.sqlite           the plan, every synthesis result and every item's record (rvcbench.store):
                               the source of truth, committed batch by batch in atomic transactions
    <run>/clips/<key>.wav      one clip per synthesis and per output-transformed item, written atomically
    <run>/inputs/<key>.flac    the perturbed prompts exactly as the model received them
    <run>/utterances.parquet   every record as one table (exported from run.sqlite at the end of a run)
    <run>/summary.json         per metric: mean, 95% CI, n, failures; counts; config; versions

A killed run loses at most the batches in flight: a rerun with the same settings skips every item
that has a committed record. A run directory of an older rvcbench (one JSON file per record under
items/ and synth/) is imported into run.sqlite on first use; the JSON folders are then renamed
`items.imported/` and `synth.imported/` (nothing is deleted).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rvcbench.errors import RvcbenchError
from rvcbench.store import STORE_FILE, RunStore, json_default

MIN_FREE_BYTES = 200 * 1024 * 1024
IDENTITY_KEYS = ("model", "adapter_version", "dataset_fingerprint", "profile", "seed", "task", "limit", "noise_dir",
                 "weights", "conditions", "pairs")


def write_json_atomic(path: Path, payload: Any, sort_keys: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1, sort_keys=sort_keys, default=json_default, allow_nan=True)
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


def _nested_as_json(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


def _flat_frame(records: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(records)
    for column in table.columns:  # nested values (scorer versions, memberships) as JSON text
        if table[column].map(lambda v: isinstance(v, (dict, list))).any():
            table[column] = table[column].map(_nested_as_json)
    return table


def _merged_type(seen: pa.DataType | None, new: pa.DataType) -> pa.DataType:
    """One column type for values typed differently across chunks: null yields, numbers widen, else text."""
    if seen is None or seen == new or pa.types.is_null(new):
        return seen or new
    if pa.types.is_null(seen):
        return new
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean)
    if any(f(seen) for f in numeric) and any(f(new) for f in numeric):
        return pa.float64()
    return pa.string()


def import_json_records(root: Path, store: RunStore) -> int:
    """Move an older run directory's per-item JSON files (items/, synth/) into the run database, once.

    One transaction per folder; the folder is renamed `<name>.imported` after its commit, so a killed
    import is simply redone.
    """
    imported = 0
    synth_dir, items_dir = root / "synth", root / "items"
    if synth_dir.is_dir():
        synths = {p.stem: json.loads(p.read_text()) for p in sorted(synth_dir.glob("*.json"))}
        store.commit(synths=synths)
        os.replace(synth_dir, root / "synth.imported")
    if items_dir.is_dir():
        records = [json.loads(p.read_text()) for p in sorted(items_dir.glob("*.json"))]
        store.commit(records=records)
        imported = len(records)
        os.replace(items_dir, root / "items.imported")
    return imported


class RunDirectory:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.clips = self.root / "clips"
        self.inputs = self.root / "inputs"
        self.config_path = self.root / "config.json"
        self.table_path = self.root / "utterances.parquet"
        self.summary_path = self.root / "summary.json"
        self.store_path = self.root / STORE_FILE
        self._store: RunStore | None = None

    @property
    def store(self) -> RunStore:
        """The run database, opened on first use (and older JSON records imported into it)."""
        if self._store is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._store = RunStore(self.store_path)
            import_json_records(self.root, self._store)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def prepare(self, config: dict, expected_bytes: int = 0) -> None:
        """Create the folders, refuse a folder that holds a different run, check it is writable and has room.

        Fails before any synthesis, with the path and the reason.
        """
        try:
            self.clips.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-probe"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise RvcbenchError(f"cannot write to the output directory {self.root}: {exc.strerror or exc}") from exc
        self.check_room(expected_bytes)
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

    def check_room(self, expected_bytes: int) -> None:
        free = shutil.disk_usage(self.root).free
        needed = expected_bytes + MIN_FREE_BYTES
        if free < needed:
            raise RvcbenchError(
                f"not enough free disk for {self.root}: {free / 1e6:.0f} MB free, about {needed / 1e6:.0f} MB "
                "needed; free some space or choose another --out"
            )

    def clip_path(self, item_id: str) -> Path:
        return self.clips / f"{item_id}.wav"

    def read_record(self, item_id: str) -> dict | None:
        return self.store.record(item_id)

    def read_synth(self, synth_key: str) -> dict | None:
        return self.store.synth(synth_key)

    def write_table(self, chunk: int = 5000) -> int:
        """Export every record to utterances.parquet, streaming (one flat table; nested values as JSON text).

        Two passes over the store: the first finds each column's type across all records, the second
        writes row groups of `chunk` records in that one schema. Returns the number of rows.
        """
        types: dict[str, pa.DataType] = {}
        for records in self.store.iter_records(chunk=chunk):
            for field in pa.Table.from_pandas(_flat_frame(records), preserve_index=False).schema:
                types[field.name] = _merged_type(types.get(field.name), field.type)
        schema = pa.schema([(name, pa.string() if pa.types.is_null(t) else t) for name, t in types.items()])
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".utterances.", suffix=".part")
        os.close(fd)
        rows = 0
        try:
            with pq.ParquetWriter(tmp, schema) as writer:
                for records in self.store.iter_records(chunk=chunk):
                    part = pa.Table.from_pandas(_flat_frame(records), preserve_index=False)
                    columns = [part.column(f.name).cast(f.type) if f.name in part.column_names
                               else pa.nulls(len(part), f.type) for f in schema]
                    writer.write_table(pa.Table.from_arrays(columns, schema=schema))
                    rows += len(records)
            os.replace(tmp, self.table_path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return rows

    def write_summary(self, summary: dict) -> None:
        write_json_atomic(self.summary_path, summary, sort_keys=False)  # keep the reading order (clean first)

    def read_summary(self) -> dict:
        if not self.summary_path.exists():
            raise RvcbenchError(f"{self.root} has no summary.json: the run has not finished")
        return json.loads(self.summary_path.read_text())
