"""Model × model comparison matrices for the site: is the row's model really better than the column's?

Per ranking (profile · pair set), one matrix per overview metric on the clean pairs and one per task family.
Each cell runs rvcbench.compare's paired tests on the two results' stored per-utterance tables (pairs matched on
pair_id): the difference row − column with a paired-bootstrap 95% CI and a two-sided sign-flip p-value; the
p-values of all model pairs of one matrix are Holm–Bonferroni corrected together, and a cell says better / worse
at alpha after correction, else tie.

- clean metric matrices: the overview's metric columns (RTF left out: it measures the machine as much as the
  model, and the Cost column covers it), on every pair's clean row (a run with tasks has one clean row per pair,
  shared by all its tasks);
- task family matrices: the family's robustness score is a ratio of sums over pairs, which a pair-by-pair test
  cannot split, so its matrix tests the family's main metric instead: per pair, the mean SIM over the family's
  perturbed, available conditions that both models scored (the numerator of the retention).

Everything is seeded (SETTINGS), so a rebuild gives the same verdicts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from rvcbench.compare import (
    A_BETTER,
    B_BETTER,
    LoadedRun,
    condition_rows,
    holm,
    paired_cell,
    paired_mean_test,
    verdict,
)
from rvcbench.leaderboard.aggregate import Column, Entry
from rvcbench.leaderboard.table import column, memberships
from rvcbench.leaderboard.validate import LoadedResult
from rvcbench.tasks import CLEAN, DEFAULT_TASK, FAMILIES

SETTINGS = {"alpha": 0.05, "resamples": 2000, "seed": 0}
BETTER, WORSE, TIE, UNTESTED = "better", "worse", "tie", "not tested"
SKIPPED_COLUMNS = ("rtf",)
FAMILY_METRIC = "sim"


def run_of(result: LoadedResult, name: str) -> LoadedRun:
    """compare's LoadedRun of a leaderboard result: its table, with every pair's clean row also in the default
    task's clean condition, and a config carrying what compare reads (model, profile, dataset, tasks, seed)."""
    table = result.table.copy()
    members = memberships(table)
    table["memberships"] = [json.dumps([list(x) for x in m] + ([[DEFAULT_TASK, CLEAN]] if any(
        c == CLEAN for _, c in m) and (DEFAULT_TASK, CLEAN) not in m else [])) for m in members]
    d = result.data
    config = {"model": d["model"]["name"], "profile": d["profile"], "dataset": d["dataset"], "tasks": d["tasks"],
              "seed": d["seeds"]["run"], "limit": d["settings"].get("limit")}
    return LoadedRun(name, result.folder, config, table)


@dataclass(frozen=True)
class Cell:
    """Row model vs column model: the verdict and the numbers behind it (difference = row − column)."""

    verdict: str
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p: float | None
    p_holm: float | None
    n: int

    def hover(self, row: str, col: str, tests: int) -> str:
        if self.p_holm is None:
            return f"{row} vs {col}: not tested (no pair scored by both); n = {self.n}"
        return (f"{row} − {col} = {_g(self.diff)}, 95% CI [{_g(self.ci_low)}, {_g(self.ci_high)}]; "
                f"p = {_g(self.p_holm)} (Holm over {tests} test{'s' if tests != 1 else ''}; uncorrected {_g(self.p)}); "
                f"n = {self.n} pairs")


@dataclass(frozen=True)
class Matrix:
    key: str  # metric name, or `family:<family>`
    title: str
    higher_is_better: bool
    description: str
    models: list[tuple[str, str]]  # (name, slug), rows and columns in this order
    cells: list[list[Cell | None]]  # [row][column]; None on the diagonal
    tests: int


def ranking_matrices(entries: list[Entry], columns: list[Column]) -> list[Matrix]:
    """Every clean-metric matrix, then every task-family matrix, of one ranking (empty with fewer than 2 models)."""
    if len(entries) < 2:
        return []
    runs = [run_of(x.result, x.slug) for x in entries]
    rows = [condition_rows(r) for r in runs]
    models = [(x.name, x.slug) for x in entries]
    out = []
    for col in columns:
        if col.key.startswith("robust:") or col.key in SKIPPED_COLUMNS:
            continue

        def clean_test(i: int, j: int, metric: str = col.key) -> dict | None:
            a, b = rows[i].get((DEFAULT_TASK, CLEAN)), rows[j].get((DEFAULT_TASK, CLEAN))
            if a is None or b is None:
                return None
            return paired_cell(a, b, metric, level=1 - SETTINGS["alpha"], resamples=SETTINGS["resamples"],
                               seed=SETTINGS["seed"])

        out.append(_matrix(col.key, f"{col.label} (clean)", col.higher_is_better, col.description, models,
                           clean_test))
    families = [f for f in FAMILIES if any(f"robust:{f}" == c.key for c in columns)]
    for family in families:
        keys = [_family_conditions(x.data, family) for x in entries]

        def family_test(i: int, j: int, family_keys=keys) -> dict | None:
            shared = [k for k in family_keys[i] if k in family_keys[j]]
            return _family_cell(rows[i], rows[j], shared)

        out.append(_matrix(f"family:{family}", f"{family} family: mean SIM over its perturbed conditions", True,
                           f"per pair, SIM averaged over the {family} tasks' perturbed, available conditions both "
                           "models scored", models, family_test))
    return [m for m in out if m.tests]


def _matrix(key: str, title: str, higher_is_better: bool, description: str, models: list[tuple[str, str]],
            test) -> Matrix:
    pairs = list(combinations(range(len(models)), 2))
    results = {pair: test(*pair) for pair in pairs}
    tested = [pair for pair in pairs if results[pair] is not None and results[pair]["p"] is not None]
    adjusted = dict(zip(tested, holm([results[p]["p"] for p in tested]), strict=True))
    cells: list[list[Cell | None]] = [[None] * len(models) for _ in models]
    for (i, j), r in results.items():
        p_holm = adjusted.get((i, j))
        if r is None or p_holm is None:
            cells[i][j] = cells[j][i] = Cell(UNTESTED, None, None, None, None, None, int(r["n"]) if r else 0)
            continue
        v = verdict(r["diff"], p_holm, higher_is_better, SETTINGS["alpha"])
        forward = BETTER if v == A_BETTER else WORSE if v == B_BETTER else TIE
        backward = {BETTER: WORSE, WORSE: BETTER, TIE: TIE}[forward]
        cells[i][j] = Cell(forward, r["diff"], r["ci_low"], r["ci_high"], r["p"], p_holm, r["n"])
        cells[j][i] = Cell(backward, _neg(r["diff"]), _neg(r["ci_high"]), _neg(r["ci_low"]), r["p"], p_holm, r["n"])
    return Matrix(key, title, higher_is_better, description, models, cells, len(tested))


def _family_conditions(data: dict, family: str) -> list[tuple[str, str]]:
    return [(name, c) for name, task in data["summary"].get("tasks", {}).items() if task.get("family") == family
            for c, v in task.get("conditions", {}).items() if c != CLEAN and v.get("available", True)]


def _family_cell(rows_a: dict, rows_b: dict, keys: list[tuple[str, str]]) -> dict | None:
    """Per pair, mean SIM over the conditions both scored; then compare's paired test on those per-pair means."""
    per_a: dict[str, list[float]] = {}
    per_b: dict[str, list[float]] = {}
    for key in keys:
        a, b = _sims(rows_a.get(key)), _sims(rows_b.get(key))
        for pair in a.index.intersection(b.index):
            per_a.setdefault(pair, []).append(a[pair])
            per_b.setdefault(pair, []).append(b[pair])
    if not per_a:
        return None
    pairs = sorted(per_a)
    test = paired_mean_test(np.array([np.mean(per_a[p]) for p in pairs]), np.array([np.mean(per_b[p]) for p in pairs]),
                            level=1 - SETTINGS["alpha"], resamples=SETTINGS["resamples"], seed=SETTINGS["seed"])
    return {"diff": _num(test.diff), "ci_low": _num(test.ci_low), "ci_high": _num(test.ci_high), "p": _num(test.p),
            "n": test.n}


def _sims(rows: pd.DataFrame | None) -> pd.Series:
    """The condition's finite SIM values of ok rows, by pair."""
    if rows is None:
        return pd.Series(dtype=float)
    values = pd.Series(column(rows, FAMILY_METRIC), index=rows.index)
    ok = rows["status"].eq("ok").to_numpy() if "status" in rows.columns else np.ones(len(rows), bool)
    return values[ok & np.isfinite(values.to_numpy())]


def _num(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _neg(value: float | None) -> float | None:
    return None if value is None else -value


def _g(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"
