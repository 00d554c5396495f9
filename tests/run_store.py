"""Read a run's database from a test, while or after the run writes it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path


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
