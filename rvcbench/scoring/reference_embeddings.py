"""What the speaker-embedding scorers share: the embedding record, the cosine, and the reference caches.

A speaker-similarity scorer embeds each clip once per call, and the real recordings it compares them with
(targets, prompts) once per run and per machine: those go through an in-memory LRU and the on-disk cache
(`rvcbench.scoring.embedding_cache`), keyed by the audio's content hash under the scorer's version and the
checkpoint's fingerprint. The scorer supplies only how to embed a batch of waveforms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rvcbench.lru import LruCache
from rvcbench.scoring.embedding_cache import EmbeddingCache, audio_hash

COSINE_EPS = 1e-6  # torch.nn.CosineSimilarity's eps, as speechbrain's verification uses it


@dataclass
class Embedding:
    vector: np.ndarray | None
    error: str | None = None  # why there is no vector


def cosine(a: np.ndarray, b: np.ndarray, eps: float = COSINE_EPS) -> float:
    """a·b / max(|a|·|b|, eps), in float64 (torch.nn.CosineSimilarity's formula)."""
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.dot(a64, b64) / max(float(np.linalg.norm(a64) * np.linalg.norm(b64)), eps))


class ReferenceEmbeddings:
    """Embeddings of a call's clips (computed) and references (cached in memory and on disk)."""

    def __init__(self, sample_rate: int, memory_items: int) -> None:
        self.sample_rate = sample_rate
        self._memory: LruCache[str, np.ndarray] = LruCache(memory_items)
        self._disk: EmbeddingCache | None = None
        self._memory_items = memory_items

    def use_disk(self, scorer: str, version: str) -> None:
        """Cache references on disk under this scorer version (its code, model and checkpoint fingerprint)."""
        self._disk = EmbeddingCache(scorer, version)
        self._memory = LruCache(self._memory_items)

    def key(self, wav: np.ndarray) -> str:
        return audio_hash(wav, self.sample_rate)

    def all(self, clips: list[np.ndarray], references: list[np.ndarray],
            embed: Callable[[dict[str, np.ndarray]], dict[str, Embedding]]) -> dict[str, Embedding]:
        """Every distinct waveform's embedding by `key`; `embed` gets only those not cached."""
        result: dict[str, Embedding] = {}
        pending: dict[str, np.ndarray] = {}
        reference_keys: set[str] = set()
        for wav, is_reference in [(w, False) for w in clips] + [(w, True) for w in references]:
            key = self.key(wav)
            if is_reference:
                reference_keys.add(key)
            if key in result or key in pending:
                continue
            cached = self._cached(key) if is_reference else None
            if cached is not None:
                result[key] = Embedding(cached)
            else:
                pending[key] = wav
        computed = embed(pending) if pending else {}
        result.update(computed)
        for key, found in computed.items():
            if key in reference_keys and found.vector is not None:
                self._memory.put(key, found.vector)
                if self._disk is not None:
                    self._disk.put(key, found.vector)
        return result

    def _cached(self, key: str) -> np.ndarray | None:
        vector = self._memory.get(key)
        if vector is None and self._disk is not None:
            vector = self._disk.get(key)
            if vector is not None:
                self._memory.put(key, vector)
        return vector
