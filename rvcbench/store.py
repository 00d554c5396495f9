"""A run's records in one SQLite database (`<run>/run.sqlite`, WAL mode): the run's source of truth.

Why SQLite (measured in `bench/store_choice.py`, see docs/scale.md): per-item JSON files cost an inode and a
directory entry per record and a resume scan that opens every file; at 10^6 items that is millions of files.
SQLite commits a batch of records in one atomic transaction that survives kill -9, keeps readers
consistent while the run writes (WAL), needs nothing beyond the standard library, and answers the
resume question ("which items have no record?") with one indexed query. Only the run's driver writes;
workers send their results to it.

Tables:
    plan(item_id, synth_key, seconds, ord, memberships, item)   every planned work item (`item`: pickled WorkItem)
    synth(synth_key, data)                                      one synthesis result, shared by its items
    records(item_id, synth_key, status, scored, data)           one record per item (`data`: the record as JSON)
    stale(item_id, data)                                        records the current plan no longer contains
    meta(key, value)                                            plan fingerprint, commit counter, migrations
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rvcbench.errors import RvcbenchError

STORE_FILE = "run.sqlite"
SHARED_VALUES = 100_000  # distinct repeated values `record_columns` keeps one copy of
SCHEMA = """
CREATE TABLE IF NOT EXISTS plan (item_id TEXT PRIMARY KEY, synth_key TEXT NOT NULL, seconds REAL NOT NULL,
                                 ord INTEGER NOT NULL, memberships TEXT NOT NULL, item BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS plan_synth ON plan (synth_key);
CREATE TABLE IF NOT EXISTS synth (synth_key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (item_id TEXT PRIMARY KEY, synth_key TEXT NOT NULL, status TEXT NOT NULL,
                                    scored INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_status ON records (status);
CREATE TABLE IF NOT EXISTS stale (item_id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=json_default, allow_nan=True)


def json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class RunStore:
    """The run database. One writer (the driver); any number of readers in other processes."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.exists():
            raise RvcbenchError(f"{self.path.parent} has no {STORE_FILE}: not a run directory of this rvcbench")
        uri = f"file:{self.path}?mode=ro" if readonly else f"file:{self.path}"
        try:
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=60)
            if not readonly:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a killed process
                self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise RvcbenchError(f"{self.path} is not a readable run database: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    # -- transactions -------------------------------------------------------------------------------------------
    def _write(self, statements: Iterable[tuple[str, Iterable]]) -> None:
        """Run (sql, rows) pairs in one transaction and bump the commit counter: all of it lands, or none."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for sql, rows in statements:
                db.executemany(sql, rows)
            db.execute("INSERT INTO meta VALUES ('commits', '1') ON CONFLICT(key) DO UPDATE SET "
                       "value = CAST(value AS INTEGER) + 1")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def commits(self) -> int:
        """How many transactions changed this run: a summary made at this count is still current."""
        return int(self.get_meta("commits") or 0)

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                         (key, value))

    # -- plan ------------------------------------------------------------------------------------------------
    def replace_plan(self, items: Iterable, fingerprint: str, chunk: int = 5000) -> int:
        """Store the plan (WorkItems, each with one membership; repeats merge their memberships).

        Written in one transaction with its fingerprint, so a killed planner leaves the old plan.
        """
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM plan")
            buffer: list[tuple] = []
            order = 0
            sql = ("INSERT INTO plan VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(item_id) DO UPDATE SET memberships = "
                   "json_insert(plan.memberships, '$[#]', json_extract(excluded.memberships, '$[0]'))")
            for item in items:
                memberships, item.memberships = item.memberships, []
                buffer.append((item.item_id, item.synth_key, item.expected_seconds, order,
                               json.dumps([list(m) for m in memberships]), pickle.dumps(item, protocol=5)))
                order += 1
                if len(buffer) >= chunk:
                    db.executemany(sql, buffer)
                    buffer.clear()
            db.executemany(sql, buffer)
            db.execute("INSERT INTO meta VALUES ('plan_fingerprint', ?) ON CONFLICT(key) DO UPDATE SET "
                       "value = excluded.value", (fingerprint,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return self.plan_size()

    def plan_fingerprint(self) -> str | None:
        return self.get_meta("plan_fingerprint")

    def plan_size(self) -> int:
        return self._db.execute("SELECT count(*) FROM plan").fetchone()[0]

    def _items(self, rows) -> list:
        out = []
        for memberships, blob in rows:
            item = pickle.loads(blob)
            item.memberships = [tuple(m) for m in json.loads(memberships)]
            out.append(item)
        return out

    def iter_plan(self, chunk: int = 2000) -> Iterator[list]:
        """The planned items in plan order, a chunk at a time (memory stays flat)."""
        last = -1
        while True:
            rows = self._db.execute("SELECT ord, memberships, item FROM plan WHERE ord > ? ORDER BY ord LIMIT ?",
                                    (last, chunk)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield self._items([r[1:] for r in rows])

    def items_of_synth(self, synth_keys: list[str]) -> dict[str, list]:
        """synth key → its planned items (the items that share that synthesis), in plan order."""
        found: dict[str, list] = {k: [] for k in synth_keys}
        for start in range(0, len(synth_keys), 500):
            keys = synth_keys[start:start + 500]
            rows = self._db.execute(
                f"SELECT memberships, item FROM plan WHERE synth_key IN ({','.join('?' * len(keys))}) ORDER BY ord",
                keys).fetchall()
            for item in self._items(rows):
                found[item.synth_key].append(item)
        return found

    def items_by_id(self, item_ids: list[str]) -> dict[str, Any]:
        found = {}
        for start in range(0, len(item_ids), 500):
            ids = item_ids[start:start + 500]
            rows = self._db.execute(
                f"SELECT memberships, item FROM plan WHERE item_id IN ({','.join('?' * len(ids))})", ids).fetchall()
            found.update({it.item_id: it for it in self._items(rows)})
        return found

    def unsynthesized(self, predicate: str = "1") -> list[tuple[str, float]]:
        """(synth key, expected seconds) of every planned synthesis with an item that has no record.

        Only keys and durations are held (a few dozen bytes per synthesis), so the engine can sort the
        work by duration for batching without holding the items.
        """
        return [(k, s) for k, s in self._db.execute(
            "SELECT p.synth_key, min(p.seconds) FROM plan p LEFT JOIN records r ON r.item_id = p.item_id "
            f"WHERE r.item_id IS NULL AND ({predicate}) GROUP BY p.synth_key")]

    def pending_seconds(self) -> float:
        """Expected audio seconds of the planned items without a record (for the free-disk check)."""
        return self._db.execute("SELECT coalesce(sum(p.seconds), 0) FROM plan p LEFT JOIN records r "
                                "ON r.item_id = p.item_id WHERE r.item_id IS NULL").fetchone()[0]

    # -- results ------------------------------------------------------------------------------------------
    def synth(self, synth_key: str) -> dict | None:
        row = self._db.execute("SELECT data FROM synth WHERE synth_key = ?", (synth_key,)).fetchone()
        return json.loads(row[0]) if row else None

    def record(self, item_id: str) -> dict | None:
        row = self._db.execute("SELECT data FROM records WHERE item_id = ?", (item_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def commit(self, synths: dict[str, dict] | None = None, records: Iterable[dict] = ()) -> None:
        """Write synthesis results and records in one transaction."""
        rows = [(r["item_id"], r["synth_key"], r["status"], int(bool(r.get("scored"))), to_json(r))
                for r in records]
        self._write([
            ("INSERT OR REPLACE INTO synth VALUES (?, ?)", [(k, to_json(v)) for k, v in (synths or {}).items()]),
            ("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?)", rows),
        ])

    def synth_totals(self) -> tuple[int, float, float]:
        """(syntheses stored, seconds of audio the ok ones produced, seconds their clone calls took)."""
        count, audio, clone = 0, 0.0, 0.0
        cursor = self._db.execute("SELECT data FROM synth")
        while rows := cursor.fetchmany(2000):
            for (data,) in rows:
                synth = json.loads(data)
                count += 1
                if synth.get("status") == "ok":
                    audio += synth.get("audio_seconds") or 0.0
                    clone += synth.get("synth_seconds") or 0.0
        return count, audio, clone

    def record_count(self) -> int:
        return self._db.execute("SELECT count(*) FROM records").fetchone()[0]

    def status_counts(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT status, count(*) FROM records GROUP BY status").fetchall())

    def iter_records(self, where: str = "1", params: tuple = (), chunk: int = 2000) -> Iterator[list[dict]]:
        """Records in item-id order, a chunk at a time."""
        last = ""
        while True:
            rows = self._db.execute(
                f"SELECT item_id, data FROM records WHERE item_id > ? AND ({where}) ORDER BY item_id LIMIT ?",
                (last, *params, chunk)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [json.loads(data) for _, data in rows]

    def record_columns(self, names: list[str], where: str = "1", params: tuple = (),
                       distinct: tuple[str, ...] = ("item_id", "pair_id")) -> dict[str, list]:
        """Selected fields of every record, as columns (what a summary needs, without holding whole records).

        Parsed here rather than with SQLite's JSON functions, which reject the NaN a failed metric holds.
        """
        columns: dict[str, list] = {n: [] for n in names}
        shared: dict = {}  # repeated values (statuses, memberships, reasons) held once, not once per record
        for chunk in self.iter_records(where, params):
            for record in chunk:
                for name in names:
                    value = record.get(name)
                    if isinstance(value, list):
                        value = shared.setdefault(json.dumps(value), value)
                    elif isinstance(value, str) and name not in distinct and len(shared) < SHARED_VALUES:
                        value = shared.setdefault(value, value)
                    columns[name].append(value)
        return columns

    def record_keys(self) -> list[str]:
        """Every field name that occurs in some record, sorted."""
        keys: set[str] = set()
        for chunk in self.iter_records():
            for record in chunk:
                keys.update(record)
        return sorted(keys)

    def set_aside_stale(self) -> int:
        """Move records whose item the current plan no longer contains to `stale`; nothing is deleted."""
        count = self._db.execute(
            "SELECT count(*) FROM records WHERE item_id NOT IN (SELECT item_id FROM plan)").fetchone()[0]
        if count:
            self._write([
                ("INSERT OR REPLACE INTO stale SELECT item_id, data FROM records "
                 "WHERE item_id NOT IN (SELECT item_id FROM plan)", [()]),
                ("DELETE FROM records WHERE item_id NOT IN (SELECT item_id FROM plan)", [()]),
            ])
        return count

    def absorb(self, other: Path) -> None:
        """Copy another run database's syntheses and records into this one, in one transaction (merging shards)."""
        self._db.execute("ATTACH DATABASE ? AS other", (f"file:{other}?mode=ro",))
        try:
            self._write([("INSERT OR IGNORE INTO synth SELECT * FROM other.synth", [()]),
                         ("INSERT OR IGNORE INTO records SELECT * FROM other.records", [()])])
        finally:
            self._db.execute("DETACH DATABASE other")

    def forget_lost(self) -> int:
        """Drop the records (and syntheses) of items whose replica was lost (`failure_stage` execution): lost
        machines are not the model's failures, so a rerun does them again."""
        lost = '%"failure_stage": "execution"%'
        count = self._db.execute("SELECT count(*) FROM records WHERE status = 'failed' AND data LIKE ?",
                                 (lost,)).fetchone()[0]
        if count:
            self._write([("DELETE FROM records WHERE status = 'failed' AND data LIKE ?", [(lost,)]),
                         ("DELETE FROM synth WHERE data LIKE ?", [(lost,)])])
        return count

    def stale_count(self) -> int:
        return self._db.execute("SELECT count(*) FROM stale").fetchone()[0]

