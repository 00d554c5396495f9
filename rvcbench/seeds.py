"""Seeds derived from names: the same on every machine, run, process and item order."""

from __future__ import annotations

import hashlib


def stable_seed(*parts: object) -> int:
    """A 31-bit seed from its parts."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def item_seed(run_seed: int, pair_id: str) -> int:
    """The seed a model gets for one pair: the same for every condition of that pair."""
    return stable_seed(run_seed, pair_id)
