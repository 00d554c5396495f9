"""Read a result's per-utterance table and recompute, without bootstrap, the counts and means its summary states.

Validation compares these against the summary, so a result whose numbers do not follow from its own table is
refused. The rules are the engine's (rvcbench.summary): a metric's mean is over items with a finite value, `n`
counts them, `failures` counts the rest; corpus ratios are Σ numerator / Σ denominator.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from rvcbench.summary import CORPUS_RATIOS
from rvcbench.tasks import CLEAN, DEFAULT_TASK


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def memberships(table: pd.DataFrame) -> list[list[tuple[str, str]]]:
    """Per row, the (task, condition) pairs it belongs to (`memberships` is JSON text in the table)."""
    if "memberships" not in table.columns:
        return [[(DEFAULT_TASK, CLEAN)]] * len(table)
    out = []
    for raw in table["memberships"]:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
        out.append([(str(t), str(c)) for t, c in parsed] if parsed is not None else [(DEFAULT_TASK, CLEAN)])
    return out


def rows_of(table: pd.DataFrame, members: list[list[tuple[str, str]]], task: str, condition: str) -> pd.DataFrame:
    return table[[(task, condition) in m for m in members]]


def clean_rows(table: pd.DataFrame, members: list[list[tuple[str, str]]]) -> pd.DataFrame:
    return table[[any(c == CLEAN for _, c in m) for m in members]]


def column(table: pd.DataFrame, name: str) -> np.ndarray:
    if name not in table.columns:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64)


def point_estimate(table: pd.DataFrame, metric: str) -> tuple[float, int, int]:
    """(mean, n, failures) of a metric over these rows, as the summary computes them."""
    if metric in CORPUS_RATIOS:
        num_name, den_name, _ = CORPUS_RATIOS[metric]
        num, den = column(table, num_name), column(table, den_name)
        ok = np.isfinite(num) & np.isfinite(den)
        n = int(ok.sum())
        mean = float(num[ok].sum() / den[ok].sum()) if n and den[ok].sum() > 0 else float("nan")
        return mean, n, int(len(table) - n)
    values = column(table, metric)
    finite = values[np.isfinite(values)]
    return (float(finite.mean()) if finite.size else float("nan")), int(finite.size), int(values.size - finite.size)


def status_counts(table: pd.DataFrame) -> dict[str, int]:
    statuses = table["status"].value_counts() if "status" in table.columns else pd.Series(dtype=int)
    return {"items": int(len(table)), **{k: int(statuses.get(k, 0)) for k in ("ok", "failed", "unavailable")}}


def same_number(a: object, b: object, rel: float = 1e-6) -> bool:
    """Equal within rounding; NaN equals NaN (an unscored metric)."""
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or isinstance(a, bool):
        return False
    if np.isnan(a) or np.isnan(b):
        return bool(np.isnan(a) and np.isnan(b))
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))
