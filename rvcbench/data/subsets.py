"""A named, deterministic subset of a dataset's pairs (`--pairs`, a protocol's `pairs:`).

    all                     every pair
    per_speaker=2           the first 2 pairs of every speaker (manifest order)
    speakers=5              every pair of the first 5 speakers (in order of first appearance)
    speakers=5,per_speaker=1    both

The subset's fingerprint (a hash of the pairs it keeps) becomes the dataset's, so results made on different
pair sets are never mistaken for one another.
"""

from __future__ import annotations

import dataclasses

from rvcbench.data.loaders import Dataset, manifest_fingerprint
from rvcbench.errors import RvcbenchError

SUBSET_KEYS = ("speakers", "per_speaker")


class PairSubsetError(RvcbenchError):
    """A `pairs` selection that does not parse; the message gives the grammar."""


def parse_pairs(spec: str | None) -> dict[str, int]:
    """`speakers=5,per_speaker=1` → {"speakers": 5, "per_speaker": 1}; `all` or None → {}."""
    if spec is None or spec.strip() in ("", "all"):
        return {}
    out: dict[str, int] = {}
    for part in spec.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or key not in SUBSET_KEYS or not value.isdigit() or int(value) < 1:
            raise PairSubsetError(f"pairs {spec!r}: {part.strip()!r} is not KEY=N with N ≥ 1 and KEY one of "
                                  f"{', '.join(SUBSET_KEYS)} (e.g. `speakers=5,per_speaker=1`, or `all`)")
        if key in out:
            raise PairSubsetError(f"pairs {spec!r}: {key} given twice")
        out[key] = int(value)
    return out


def select_pairs(dataset: Dataset, spec: str | None) -> Dataset:
    """The dataset restricted to the pairs `spec` names (the same dataset for `all`)."""
    selection = parse_pairs(spec)
    if not selection:
        return dataset
    manifest = dataset.manifest
    if "speakers" in selection:
        keep = list(dict.fromkeys(manifest["speaker_id"]))[:selection["speakers"]]
        manifest = manifest[manifest["speaker_id"].isin(keep)]
    if "per_speaker" in selection:
        manifest = manifest.groupby("speaker_id", sort=False).head(selection["per_speaker"])
    manifest = manifest.reset_index(drop=True)
    return dataclasses.replace(dataset, manifest=manifest, fingerprint=manifest_fingerprint(manifest))
