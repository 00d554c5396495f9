"""The result-file format: its version, its required fields, and the checks on untrusted strings and paths.

A result lives in its own folder under `leaderboard/results/`:

    <key>/result.json          this schema: provenance, versions, hardware, seeds, the run's summary, its
                               analyses (optional), examples
    <key>/utterances.parquet   the run's per-utterance table; its sha256 is recorded in result.json
    <key>/audio/*.flac         a few example pairs per task (prompt as received, clone, real target)

Result files are untrusted input: every path must stay inside its folder and every link must be http(s).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from rvcbench.errors import RvcbenchError

SCHEMA_VERSION = 1
RESULT_FILE = "result.json"
TABLE_FILE = "utterances.parquet"
AUDIO_DIR = "audio"
KIND = "rvcbench-result"

# field → expected type; a nested dict is a nested object. Extra fields are allowed (newer writers may add some).
# Optional, checked by rvcbench.leaderboard.analyses: `analyses` (the run's set-level analyses, task name → result,
# e.g. detectability). Version 1 files without it stay valid, so adding it did not change SCHEMA_VERSION.
# Also optional, checked by rvcbench.leaderboard.costs: `cost` (the run's measured cost, from summary.json) and
# `seed_variation` (the spread between the seeds of a seed group, from seeds.json).
NUMBER = (int, float)
SHAPE: dict = {
    "kind": str,
    "schema_version": int,
    "model": {"name": str, "adapter": dict, "adapter_origin": str, "description": str, "links": dict},
    "dataset": {"name": str, "source": str, "pairs": int, "fingerprint": str},
    "profile": str,
    "seeds": {"run": int, "bootstrap": int},
    "settings": dict,
    "versions": {"rvcbench": str, "adapter": str, "scorers": dict},
    "scorers": list,
    "hardware": dict,
    "tasks": dict,
    "summary": {"items": int, "ok": int, "failed": int, "unavailable": int, "failure_reasons": dict,
                "metrics": dict, "statistics": dict},
    "table": {"file": str, "sha256": str, "rows": int},
    "examples": list,
    "created": str,
}
EXAMPLE_SHAPE: dict = {"task": str, "condition": str, "pair_id": str, "text": str}
EXAMPLE_AUDIO_ROLES = ("prompt", "clone", "target")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ResultFileError(RvcbenchError):
    """A result file or run directory is malformed or inconsistent; the message names the file and each problem."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


def check_shape(value: object, shape: dict, where: str) -> list[str]:
    """Every missing field and wrong type, as `where.field: problem` lines."""
    if not isinstance(value, dict):
        return [f"{where}: expected an object, found {type(value).__name__}"]
    problems = []
    for key, expected in shape.items():
        path = f"{where}.{key}" if where else key
        if key not in value:
            problems.append(f"{path}: missing")
        elif isinstance(expected, dict):
            problems += check_shape(value[key], expected, path)
        elif not _is_type(value[key], expected):
            problems.append(f"{path}: expected {_type_name(expected)}, found {type(value[key]).__name__}")
    return problems


def _is_type(value: object, expected: type | tuple) -> bool:
    if isinstance(value, bool) and expected is not bool:
        return False  # JSON true/false is not a count
    return isinstance(value, expected)


def _type_name(expected: type | tuple) -> str:
    names = [t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,))]
    return {"str": "text", "int": "an integer", "dict": "an object", "list": "a list"}.get(names[0], " or ".join(names))


def is_http_url(value: object) -> bool:
    """Only http(s) links with a host are ever rendered (no javascript:, data:, file:)."""
    if not isinstance(value, str):
        return False
    parsed = urlparse(value.strip())
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def safe_member(folder: Path, relative: object) -> Path | None:
    """`relative` as a file inside `folder`, or None when it is absolute, climbs out, or leaves through a link."""
    if not isinstance(relative, str) or not relative or "\\" in relative or "\x00" in relative:
        return None
    posix = PurePosixPath(relative)
    if posix.is_absolute() or ".." in posix.parts or re.match(r"^[A-Za-z]:", relative):
        return None
    path = folder / Path(*posix.parts)
    if not path.resolve().is_relative_to(folder.resolve()):
        return None
    return path


def slug(text: str) -> str:
    """A file-name-safe key (lower case letters, digits, dot, dash, underscore) for any model or dataset name."""
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")
    return cleaned[:80] or "x"
