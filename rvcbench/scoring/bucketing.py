"""Length bucketing for batched scorer models: similar lengths together, so padding stays small.

Indices are sorted by length and cut into batches of at most `max_items` whose padded size (longest × count)
stays under `max_samples`; a single item longer than the budget gets a batch of its own. Deterministic.
"""

from __future__ import annotations


def length_buckets(lengths: list[int], max_items: int, max_samples: int) -> list[list[int]]:
    if max_items < 1 or max_samples < 1:
        raise ValueError("max_items and max_samples must be at least 1")
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = max([lengths[index], *(lengths[i] for i in current)])
        if current and (len(current) >= max_items or longest * (len(current) + 1) > max_samples):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
