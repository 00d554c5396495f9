"""Model weights downloaded by `rvcbench env create MODEL --with-weights`, kept in one known place with their hash.

Each Hugging Face repository lands in `~/.cache/rvcbench/weights/<org>--<name>/` (or under RVCBENCH_WEIGHTS_DIR),
with `rvcbench-weights.json` beside the files: where they came from, the revision, the file count, the bytes and a
SHA-256 over every file (names and contents), so `rvcbench env check MODEL` can say what is there and whether it
is what was downloaded. `support.resolve_weights` looks here before the Hugging Face cache, so a run needs no
`--weights` and no environment variable once the download is done.

The source is the Hugging Face Hub (`huggingface_hub.snapshot_download`); a local folder holding `<org>/<name>/`
subfolders can stand in for it (`--weights-from DIR`): for mirrors, air-gapped machines and the tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from rvcbench.errors import RvcbenchError

WEIGHTS_DIR_VARIABLE = "RVCBENCH_WEIGHTS_DIR"
MANIFEST = "rvcbench-weights.json"
SKIPPED = (MANIFEST, ".cache")  # huggingface_hub keeps its own bookkeeping in .cache/ of a local_dir


class WeightsError(RvcbenchError):
    """Weights cannot be downloaded or read; the message says which and why."""


@dataclass(frozen=True)
class StoredWeights:
    repo_id: str
    path: Path
    source: str
    revision: str
    files: int
    bytes: int
    sha256: str
    downloaded: str


def is_hub_id(value: str) -> bool:
    """`org/name` of a Hugging Face repository, not a local folder (`~/...`, `/...`, `./...`)."""
    return (bool(re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", value)) and not value.startswith(("~", ".", "/"))
            and not Path(value).exists())


def weights_dir() -> Path:
    return Path(os.environ.get(WEIGHTS_DIR_VARIABLE) or Path.home() / ".cache" / "rvcbench" / "weights").expanduser()


def folder_of(repo_id: str) -> Path:
    """Where `repo_id` is kept: `<weights dir>/<org>--<name>` (the Hub cache's own spelling)."""
    if repo_id.count("/") != 1 or any(part in ("", ".", "..") for part in repo_id.split("/")):
        raise WeightsError(f"{repo_id!r} is not a Hugging Face repository id (org/name)")
    return weights_dir() / repo_id.replace("/", "--")


def tree_files(folder: Path) -> list[Path]:
    """Every file under `folder` that belongs to the weights, sorted (bookkeeping left out)."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.relative_to(folder).parts[0] not in SKIPPED)


def tree_hash(folder: Path) -> tuple[str, int, int]:
    """SHA-256 over the relative names and contents of the weights' files; with the file count and bytes."""
    digest = hashlib.sha256()
    files = tree_files(folder)
    size = 0
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
        digest.update(b"\0")
    return digest.hexdigest(), len(files), size


def stored(repo_id: str) -> StoredWeights | None:
    """The weights of `repo_id` in the store, or None when they were never downloaded (or only partly)."""
    folder = folder_of(repo_id)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        return StoredWeights(repo_id=repo_id, path=folder, source=data["source"], revision=data["revision"],
                             files=int(data["files"]), bytes=int(data["bytes"]), sha256=data["sha256"],
                             downloaded=data["downloaded"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"{manifest} is not a valid weights manifest ({exc}); download again with "
                           f"`rvcbench env create MODEL --with-weights`") from exc


def still_intact(found: StoredWeights, rehash: bool = False) -> str:
    """'' when the files are as downloaded; else what changed (counts and sizes; the hash with `rehash`)."""
    files = tree_files(found.path)
    size = sum(p.stat().st_size for p in files)
    if len(files) != found.files or size != found.bytes:
        return f"{len(files)} files of {size} bytes now, {found.files} of {found.bytes} when downloaded"
    if rehash and tree_hash(found.path)[0] != found.sha256:
        return "the files' SHA-256 differs from the one recorded at download"
    return ""


def download(repo_id: str, source: Path | None = None, echo=print) -> StoredWeights:
    """Fetch `repo_id` into the store (from the Hub, or from `source/<org>/<name>`), hash it, record it.

    The files land in a temporary folder beside the final one and are moved in place only when complete, so an
    interrupted download never looks like a finished one.
    """
    target = folder_of(repo_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        if source is not None:
            origin = Path(source).expanduser() / repo_id
            if not origin.is_dir():
                raise WeightsError(f"--weights-from {source}: it has no folder {repo_id} (expected "
                                   f"{origin}/ holding the repository's files)")
            echo(f"copying {repo_id} from {origin}")
            shutil.copytree(origin, staging, dirs_exist_ok=True)
            where, revision = str(origin), "local copy"
        else:
            where, revision = _from_hub(repo_id, staging, echo)
        sha256, files, size = tree_hash(staging)
        if files == 0:
            raise WeightsError(f"{repo_id}: the download from {where} holds no files")
        manifest = {"repo_id": repo_id, "source": where, "revision": revision, "files": files, "bytes": size,
                    "sha256": sha256, "downloaded": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return stored(repo_id)


def _from_hub(repo_id: str, staging: Path, echo) -> tuple[str, str]:
    from rvcbench.adapters.support import require

    hub = require("huggingface_hub", "weights", "pip install huggingface_hub")
    echo(f"downloading {repo_id} from the Hugging Face Hub")
    try:
        info = hub.HfApi().model_info(repo_id)
        hub.snapshot_download(repo_id, revision=info.sha, local_dir=str(staging))
    except (OSError, ValueError) as exc:  # network errors, gated or missing repositories (HfHubHTTPError is OSError)
        raise WeightsError(f"downloading {repo_id} failed: {exc}. Gated repositories need the licence accepted on "
                           f"the model page and `huggingface-cli login`.") from exc
    return f"https://huggingface.co/{repo_id}", str(info.sha)
