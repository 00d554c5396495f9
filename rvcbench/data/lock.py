"""Lock files: the sha256 and size of every file of a dataset config, written when it is fetched.

`rvcbench data fetch` writes `rvcbench.lock.json` inside each config folder; `rvcbench data verify` and
every load of a locked folder re-check it, so a run never starts on a truncated download or an edited file.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from rvcbench.results import write_json_atomic

LOCK_NAME = "rvcbench.lock.json"
LOCK_KIND = "rvcbench-data-lock"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def data_files(folder: Path) -> list[Path]:
    """Every file of a config folder except the lock itself and hidden bookkeeping (`.cache/` of huggingface_hub)."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.name != LOCK_NAME
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def write_lock(folder: Path, *, source: str, revision: str | None) -> dict:
    """Hash every file of `folder` and write the lock beside the data; returns the lock."""
    files = {p.relative_to(folder).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
             for p in data_files(folder)}
    lock = {"kind": LOCK_KIND, "config": folder.name, "source": source, "revision": revision,
            "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "files": files}
    write_json_atomic(folder / LOCK_NAME, lock)
    return lock


def read_lock(folder: Path) -> dict | None:
    path = folder / LOCK_NAME
    if not path.is_file():
        return None
    try:
        lock = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"kind": "unreadable", "error": f"{path}: not a readable lock file: {exc}"}
    return lock


def verify_lock(folder: Path, *, full: bool = True) -> list[str]:
    """Every difference between a config folder and its lock (empty = it matches).

    Missing files, size or sha256 mismatches, and files the lock does not know. With `full=False`
    only presence and sizes are checked (fast, for every load); `full=True` re-hashes every file.
    """
    lock = read_lock(folder)
    if lock is None:
        return [f"{folder / LOCK_NAME}: no lock file; fetch with `rvcbench data fetch` to write one"]
    if lock.get("kind") != LOCK_KIND or not isinstance(lock.get("files"), dict):
        return [lock.get("error") or f"{folder / LOCK_NAME}: not an rvcbench data lock"]
    problems = []
    for name, entry in lock["files"].items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: missing (the lock lists it)")
        elif path.stat().st_size != entry.get("bytes"):
            problems.append(f"{path}: {path.stat().st_size} bytes, the lock says {entry.get('bytes')}")
        elif full and sha256_file(path) != entry.get("sha256"):
            problems.append(f"{path}: sha256 differs from the lock (file changed or corrupted)")
    known = set(lock["files"])
    problems += [f"{p}: not in the lock (added after the fetch)" for p in data_files(folder)
                 if p.relative_to(folder).as_posix() not in known]
    return problems
