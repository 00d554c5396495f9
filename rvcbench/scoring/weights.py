"""Where a scorer's checkpoint comes from: a path the user gives, else the local Hugging Face cache, else an error
with the exact download command. No scorer downloads anything by itself.

    rvcbench run ... --scorer-weights ecapa=/models/spkrec-ecapa-voxceleb --scorer-weights utmos=/x/utmos.ckpt
    RVCBENCH_SCORER_WEIGHTS="ecapa=/models/spkrec-ecapa-voxceleb,utmos=/x/utmos.ckpt"

Every row records the checkpoint's fingerprint (sha256 of its files), so two runs made with different weights
of the same scorer are told apart.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rvcbench.errors import MissingDependencyError, RvcbenchError

ENV = "RVCBENCH_SCORER_WEIGHTS"
_overrides: dict[str, str] = {}


def parse_overrides(values: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`NAME=PATH` strings (several may be joined by commas) → {name: path}; a bad one is an error naming it."""
    out: dict[str, str] = {}
    for value in values:
        for part in (p.strip() for p in value.split(",") if p.strip()):
            name, sep, path = part.partition("=")
            if not sep or not name or not path:
                raise RvcbenchError(f"--scorer-weights {part!r}: expected NAME=PATH (e.g. ecapa=/models/ecapa)")
            out[name] = path
    return out


def set_overrides(mapping: dict[str, str]) -> None:
    """The paths given on the command line for this process (they win over RVCBENCH_SCORER_WEIGHTS)."""
    _overrides.clear()
    _overrides.update(mapping)


def overrides() -> dict[str, str]:
    return {**parse_overrides([os.environ.get(ENV, "")]), **_overrides}


@dataclass(frozen=True)
class ScorerWeights:
    """A checkpoint a scorer needs: its key for --scorer-weights, its Hub id, and the files that make it up."""

    name: str
    hf_repo: str | None
    files: tuple[str, ...]  # relative to the checkpoint folder; a single-file checkpoint may be passed as the file
    description: str = ""
    licence: str = ""

    def download_command(self) -> str:
        if self.hf_repo:
            includes = " ".join(f"--include '{f}'" for f in self.files)
            return f"hf download {self.hf_repo} {includes} --local-dir DIR"
        return f"get {', '.join(self.files)} from the scorer's upstream"

    def missing(self, why: str) -> MissingDependencyError:
        return MissingDependencyError(
            f"scorer weights {self.name!r} ({self.description or self.hf_repo}) not found: {why}. On a machine with "
            f"network run `{self.download_command()}`, then pass `--scorer-weights {self.name}=DIR` "
            f"(or set {ENV}={self.name}=DIR)")


def resolve_weights(weights: ScorerWeights) -> Path:
    """The folder (or single file) holding the checkpoint; raises MissingDependencyError saying how to get it."""
    given = overrides().get(weights.name)
    if given:
        path = Path(given).expanduser()
        if path.is_file() and len(weights.files) == 1:
            return path
        if not path.is_dir():
            raise weights.missing(f"{path} is not a folder (or, for a one-file checkpoint, the file)")
        absent = [f for f in weights.files if not (path / f).is_file()]
        if absent:
            raise weights.missing(f"{path} lacks {', '.join(absent)}")
        return path
    if weights.hf_repo:
        cached = _hf_cached(weights)
        if cached is not None:
            return cached
    raise weights.missing("not given with --scorer-weights and not in the local Hugging Face cache")


def _hf_cached(weights: ScorerWeights) -> Path | None:
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:
        return None
    try:
        folder = Path(snapshot_download(repo_id=weights.hf_repo, allow_patterns=list(weights.files),
                                        local_files_only=True))
    except LocalEntryNotFoundError:
        return None
    return folder if all((folder / f).is_file() for f in weights.files) else None


def weights_fingerprint(path: Path, files: tuple[str, ...] = ()) -> str:
    """sha256 (16 hex digits) over the checkpoint's files, in name order: recorded with every row."""
    path = Path(path)
    members = [path] if path.is_file() else [path / f for f in sorted(files)] if files else sorted(
        p for p in path.rglob("*") if p.is_file())
    return _fingerprint(tuple(str(p.resolve()) for p in members),
                        tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in members))


@cache
def _fingerprint(paths: tuple[str, ...], stats: tuple) -> str:
    digest = hashlib.sha256()
    for name in paths:
        with open(name, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:16]
