"""Reference embeddings (of real targets and prompts) kept on disk across models and runs.

The same recordings are scored against every model's clones; their embeddings depend only on the audio and the
scorer version, so they are computed once: `<cache>/<scorer>/<version>/<audio hash>.npy`. Writes are atomic (a
killed run leaves no half file); a file that cannot be read is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

CACHE_ENV = "RVCBENCH_CACHE"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "rvcbench") / "embeddings"


def audio_hash(wav: np.ndarray, sample_rate: int) -> str:
    data = np.ascontiguousarray(wav, dtype=np.float32)
    return hashlib.blake2b(data.tobytes() + f":{sample_rate}".encode(), digest_size=16).hexdigest()


class EmbeddingCache:
    """Embeddings of one scorer version, keyed by the audio's content hash."""

    def __init__(self, scorer: str, version: str, root: Path | None = None) -> None:
        safe = "".join(c if c.isalnum() or c in "._-+" else "_" for c in version)
        self.folder = (root or cache_root()) / scorer / safe

    def get(self, key: str) -> np.ndarray | None:
        path = self.folder / f"{key}.npy"
        if not path.is_file():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None

    def put(self, key: str, vector: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=self.folder, suffix=".part")
        with os.fdopen(handle, "wb") as out:
            np.save(out, np.asarray(vector), allow_pickle=False)
        os.replace(tmp, self.folder / f"{key}.npy")
