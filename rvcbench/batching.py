"""Batches planned by the engine: by expected duration under a budget, split on out-of-memory.

Batches are formed once, by the driver, from every pending synthesis sorted by expected duration, so
they are the same whatever executes them (one device, eight, or a Ray cluster): similar lengths share a
batch (little padding for a batched model) and a budget of audio seconds bounds its memory, as F5-TTS's
evaluation does with its duration buckets. An adapter declares `batch_size` (most requests per call; 1
when its upstream call takes one request) and `max_batch_seconds` (most expected audio seconds per call).
"""

from __future__ import annotations

from dataclasses import dataclass

from rvcbench.errors import RvcbenchError


@dataclass(frozen=True)
class BatchLimits:
    max_items: int
    max_seconds: float | None = None  # None: no budget in seconds

    def __post_init__(self) -> None:
        if self.max_items < 1:
            raise RvcbenchError(f"batch size must be at least 1 (got {self.max_items})")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise RvcbenchError(f"batch budget in seconds must be positive (got {self.max_seconds:g})")

    def as_dict(self) -> dict:
        return {"max_items": self.max_items, "max_seconds": self.max_seconds}


def batches_by_duration(work: list[tuple[str, float]], limits: BatchLimits) -> list[list[str]]:
    """Keys of (key, expected seconds) grouped: sorted by duration, each batch within both limits.

    An item longer than the whole budget gets a batch of its own rather than none.
    """
    batches: list[list[str]] = []
    current: list[str] = []
    seconds = 0.0
    for key, duration in sorted(work, key=lambda kv: (kv[1], kv[0])):
        over_budget = limits.max_seconds is not None and seconds + duration > limits.max_seconds
        if current and (len(current) >= limits.max_items or over_budget):
            batches.append(current)
            current, seconds = [], 0.0
        current.append(key)
        seconds += duration
    if current:
        batches.append(current)
    return batches


def is_out_of_memory(exc: BaseException) -> bool:
    """A device out-of-memory error (torch.cuda.OutOfMemoryError, or a RuntimeError saying so), by name and text
    so that the engine needs no torch import."""
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()
