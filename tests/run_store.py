"""Read a run from a test: its database while or after the run writes it, its table and clips when finished."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pandas as pd

TIMING = {"synth_seconds", "rtf", "traceback"}  # differ between any two runs


def record_count(run_dir: Path) -> int:
    """Records committed so far (0 before the database exists)."""
    path = Path(run_dir) / "run.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(*) FROM records").fetchone()[0]
    except sqlite3.OperationalError:  # the tables are being created
        return 0


def records(run_dir: Path) -> dict[str, dict]:
    with sqlite3.connect(f"file:{Path(run_dir) / 'run.sqlite'}?mode=ro", uri=True) as db:
        return {item_id: json.loads(data) for item_id, data in db.execute("SELECT item_id, data FROM records")}


def synths(run_dir: Path) -> dict[str, dict]:
    """Synthesis results by synth key (one per clip made; items differing only in output transforms share one)."""
    with sqlite3.connect(f"file:{Path(run_dir) / 'run.sqlite'}?mode=ro", uri=True) as db:
        return {key: json.loads(data) for key, data in db.execute("SELECT synth_key, data FROM synth")}


def comparable(run_dir: Path) -> pd.DataFrame:
    """The run's records without the timing fields, in item order: equal for runs that made the same clips."""
    table = pd.read_parquet(Path(run_dir) / "utterances.parquet")
    table = table.drop(columns=[c for c in table.columns if c in TIMING])
    return table.sort_values("item_id").reset_index(drop=True)


def clip_hashes(run_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((Path(run_dir) / "clips").glob("*.wav"))}
