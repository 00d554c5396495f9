"""Is model A really better than model B? Paired significance tests between finished runs on the same pairs.

For every two runs (A, B) and every task × condition × metric both report, the pairs scored in both are
matched on `pair_id` and compared pair by pair:

- difference: mean over pairs of (A − B); for corpus ratios (wer_corpus, cer_corpus, …: Σ errors / Σ reference
  words over the pairs) the difference of the two ratios over the same pairs;
- 95% CI (1 − alpha): paired percentile bootstrap, resampling pairs with replacement (rvcbench.scoring.aggregate);
- p-value: two-sided paired sign-flip permutation test. Under "no difference" A and B are exchangeable within
  each pair, so each draw swaps A and B in a random half of the pairs (for a mean: flips the sign of the
  per-pair difference) and recomputes the statistic; p = (1 + #{|draw| ≥ |observed|}) / (1 + resamples);
- Holm–Bonferroni correction within each family: all conditions × metrics of one task for one pair of runs;
- verdict at alpha after correction, oriented by the metric's direction (higher or lower is better).

A row whose status is not "ok", or whose metric is NaN, leaves that metric only; `dropped` counts those pairs,
`unmatched` the pairs that only one run has in the condition. The CI is not adjusted for multiplicity; the
verdict is. The sign-flip test cannot reach p below 2 / 2^n: with fewer than 6 pairs no difference is detectable
at alpha 0.05, whatever its size.

Runs must share the dataset (fingerprint), the pair subset (`pairs`, `limit`), the scorer profile and, for every
compared condition, its transform steps. Different `seed`s are allowed on purpose: comparing a model with itself
under another seed is how seed variance is measured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from rvcbench.errors import RvcbenchError
from rvcbench.leaderboard.table import column, memberships
from rvcbench.scoring.aggregate import summarize_mean, summarize_paired_ratio_difference
from rvcbench.summary import CORPUS_RATIOS, known_metrics

A_BETTER, B_BETTER, NO_DIFFERENCE, NOT_TESTED = "A better", "B better", "no detectable difference", "not tested"
TESTS = {
    "difference": "mean over pairs of A − B; corpus ratios: ratio(A) − ratio(B) over the same pairs",
    "ci": "paired percentile bootstrap over pairs (pairs resampled with replacement), not multiplicity-adjusted",
    "test": "two-sided paired sign-flip permutation test (A and B swapped in a random half of the pairs); "
            "p = (1 + #{|draw| >= |observed|}) / (1 + resamples)",
    "correction": "Holm–Bonferroni within each task's family (all its conditions × metrics, one pair of runs)",
}
_CHUNK = 4_000_000  # draws × pairs evaluated at once by the permutation test


@dataclass(frozen=True)
class LoadedRun:
    """A finished run: its name in the comparison, folder, config.json and utterances.parquet."""

    name: str
    path: Path
    config: dict
    table: pd.DataFrame


@dataclass(frozen=True)
class PairedTest:
    diff: float
    ci_low: float
    ci_high: float
    p: float
    n: int


def compare_runs(run_dirs: list[Path], *, alpha: float = 0.05, resamples: int = 2000, seed: int = 0) -> dict:
    """Paired tests of every two runs on every task × condition × metric both report (see the module docstring).

    Refuses (RvcbenchError) unfinished runs and runs made on different datasets, pair subsets or scorer
    profiles; runs that differ only in `seed` are compared (seed variance is what such a comparison measures).
    """
    paths = [Path(p) for p in run_dirs]
    if len(paths) < 2:
        raise RvcbenchError("compare needs at least two run directories")
    if len({p.resolve() for p in paths}) < len(paths):
        raise RvcbenchError("the same run directory is given twice: " + ", ".join(map(str, paths)))
    problems = [problem for p in paths if (problem := _unfinished(p))]
    if problems:
        raise RvcbenchError("cannot compare unfinished runs:\n  " + "\n  ".join(problems))
    names = [p.name for p in paths] if len({p.name for p in paths}) == len(paths) else [str(p) for p in paths]
    runs = [LoadedRun(name, p, json.loads((p / "config.json").read_text()), pd.read_parquet(p / "utterances.parquet"))
            for name, p in zip(names, paths, strict=True)]
    check_comparable(runs)
    return compare_loaded(runs, alpha=alpha, resamples=resamples, seed=seed)


def _unfinished(path: Path) -> str:
    if not path.is_dir():
        return f"{path}: no such directory"
    missing = [f for f in ("config.json", "utterances.parquet") if not (path / f).exists()]
    if not missing:
        return ""
    return (f"{path}: no {' and no '.join(missing)} (not a finished run; finish it by rerunning the same "
            "`rvcbench run` command)")


def _identity(config: dict) -> dict[str, object]:
    dataset = config.get("dataset") or {}
    return {"dataset fingerprint": dataset.get("fingerprint", config.get("dataset_fingerprint")),
            "pair subset (pairs)": config.get("pairs"), "pair limit (limit)": config.get("limit"),
            "scorer profile": config.get("profile")}


def check_comparable(runs: list[LoadedRun]) -> None:
    """Refuse runs on different datasets, pair subsets or profiles, or with same-named conditions that differ."""
    first, *others = runs
    differences = []
    for key, value in _identity(first.config).items():
        for run in others:
            if (other := _identity(run.config)[key]) != value:
                differences.append(f"{key}: {first.name} has {value!r}, {run.name} has {other!r}")
    for run in others:
        for task, condition, steps_a, steps_b in _step_conflicts(first.config, run.config):
            differences.append(f"condition {task}/{condition} has other steps: {first.name} {steps_a!r}, "
                               f"{run.name} {steps_b!r}")
    if differences:
        raise RvcbenchError("cannot compare these runs, they differ in:\n  " + "\n  ".join(differences)
                            + "\ncompare runs of the same dataset, pair subset and scorer profile "
                              "(a different seed is fine)")


def _step_conflicts(config_a: dict, config_b: dict) -> list[tuple[str, str, object, object]]:
    tasks_a, tasks_b = config_a.get("tasks") or {}, config_b.get("tasks") or {}
    conflicts = []
    for task in tasks_a.keys() & tasks_b.keys():
        conds_a, conds_b = tasks_a[task].get("conditions") or {}, tasks_b[task].get("conditions") or {}
        conflicts += [(task, c, conds_a[c], conds_b[c]) for c in conds_a if c in conds_b and conds_a[c] != conds_b[c]]
    return sorted(conflicts, key=lambda x: (x[0], x[1]))


@lru_cache(maxsize=1)
def metric_directions() -> dict[str, bool]:
    """Every reportable metric → higher is better, from all registered scorers' declarations (as in summary)."""
    from rvcbench.scoring.registry import PROFILES, SCORERS

    metas = [SCORERS.get(n).meta for n in sorted({n for p in PROFILES.values() for n in p})]
    return {name: higher for name, (higher, _) in known_metrics(metas).items()}


def compare_loaded(runs: list[LoadedRun], *, alpha: float = 0.05, resamples: int = 2000, seed: int = 0) -> dict:
    """`compare_runs` on runs already loaded and checked."""
    if not 0 < alpha < 1 or resamples < 1:
        raise RvcbenchError(f"alpha must lie in (0, 1) and resamples be ≥ 1 (got alpha={alpha}, resamples={resamples})")
    directions = metric_directions()
    conditions = [_by_condition(run) for run in runs]
    cells = []
    for i, j in combinations(range(len(runs)), 2):
        a, b = runs[i], runs[j]
        family_start = len(cells)
        for task, condition in [key for key in conditions[i] if key in conditions[j]]:
            rows_a, rows_b = conditions[i][(task, condition)], conditions[j][(task, condition)]
            for metric in _metrics(task, a.config, b.config, rows_a, rows_b, directions):
                cell = _cell(rows_a, rows_b, metric, level=1 - alpha, resamples=resamples, seed=seed)
                cells.append({"run_a": a.name, "run_b": b.name, "task": task, "condition": condition,
                              "metric": metric, "higher_is_better": directions[metric], **cell})
        _correct(cells[family_start:], alpha)
    return {"runs": [_describe(run) for run in runs],
            "settings": {"alpha": alpha, "resamples": resamples, "seed": seed, "ci_level": 1 - alpha, **TESTS},
            "cells": cells}


def _describe(run: LoadedRun) -> dict:
    dataset, pairs, limit, profile = _identity(run.config).values()
    return {"name": run.name, "path": str(run.path), "model": run.config.get("model"), "seed": run.config.get("seed"),
            "dataset_fingerprint": dataset, "pairs": pairs, "limit": limit, "profile": profile}


def _by_condition(run: LoadedRun) -> dict[tuple[str, str], pd.DataFrame]:
    """(task, condition) → that condition's rows indexed by pair_id, in the order of first appearance."""
    members = memberships(run.table)
    index = {}
    for row, pairs in enumerate(members):
        for key in pairs:
            index.setdefault(key, []).append(row)
    out = {}
    for key, rows in index.items():
        frame = run.table.iloc[rows].set_index("pair_id")
        if frame.index.has_duplicates:
            repeated = sorted(set(frame.index[frame.index.duplicated()]))[:5]
            raise RvcbenchError(f"{run.path}: condition {key[0]}/{key[1]} has more than one row for pair(s) "
                                f"{', '.join(map(str, repeated))}; utterances.parquet is not a run's table")
        out[key] = frame
    return out


def _needed_columns(metric: str) -> tuple[str, ...]:
    return CORPUS_RATIOS[metric][:2] if metric in CORPUS_RATIOS else (metric,)


def _metrics(task: str, config_a: dict, config_b: dict, rows_a: pd.DataFrame, rows_b: pd.DataFrame,
             directions: dict[str, bool]) -> list[str]:
    """The task's declared metrics (every known metric where none are declared) that both runs scored here."""
    declared = [m for config in (config_a, config_b)
                for m in ((config.get("tasks") or {}).get(task) or {}).get("metrics") or []]
    candidates = list(dict.fromkeys(declared)) or list(directions)

    def scored(rows: pd.DataFrame, metric: str) -> bool:
        return all(np.isfinite(column(rows, c)).any() for c in _needed_columns(metric))

    return [m for m in candidates if m in directions and scored(rows_a, m) and scored(rows_b, m)]


def _valid(rows: pd.DataFrame, metric: str) -> pd.Series:
    ok = rows["status"] == "ok" if "status" in rows.columns else pd.Series(True, index=rows.index)
    finite = np.logical_and.reduce([np.isfinite(column(rows, c)) for c in _needed_columns(metric)])
    return ok & finite


def _cell(rows_a: pd.DataFrame, rows_b: pd.DataFrame, metric: str, *, level: float, resamples: int,
          seed: int) -> dict:
    joined = rows_a.index[rows_a.index.isin(rows_b.index)]
    unmatched = len(rows_a) + len(rows_b) - 2 * len(joined)
    valid_a, valid_b = _valid(rows_a, metric).reindex(joined), _valid(rows_b, metric).reindex(joined)
    used = joined[(valid_a & valid_b).to_numpy()]
    a, b = rows_a.loc[used], rows_b.loc[used]
    if metric in CORPUS_RATIOS:
        num, den, _ = CORPUS_RATIOS[metric]
        test = paired_ratio_test(column(a, num), column(a, den), column(b, num), column(b, den), level=level,
                                 resamples=resamples, seed=seed)
    else:
        test = paired_mean_test(column(a, metric), column(b, metric), level=level, resamples=resamples, seed=seed)
    return {"n": test.n, "dropped": int(len(joined) - len(used)), "unmatched": int(unmatched),
            "diff": _number(test.diff), "ci_low": _number(test.ci_low), "ci_high": _number(test.ci_high),
            "p": _number(test.p)}


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def paired_mean_test(a: np.ndarray, b: np.ndarray, *, level: float = 0.95, resamples: int = 2000,
                     seed: int = 0) -> PairedTest:
    """mean(a − b) over pairs, paired-bootstrap CI and two-sided sign-flip p-value (pairs with a NaN left out)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d = (a - b)[np.isfinite(a) & np.isfinite(b)]
    summary = summarize_mean(d, seed, n_resamples=resamples, level=level)
    if d.size == 0:
        return PairedTest(*(float("nan"),) * 4, 0)
    total = d.sum()
    draws = _swap_draws(d.size, resamples, seed, lambda swap: (total - 2.0 * swap @ d) / d.size)
    return PairedTest(summary.mean, summary.ci_low, summary.ci_high, _p_value(draws, summary.mean), summary.n)


def paired_ratio_test(num_a: np.ndarray, den_a: np.ndarray, num_b: np.ndarray, den_b: np.ndarray, *,
                      level: float = 0.95, resamples: int = 2000, seed: int = 0) -> PairedTest:
    """Σnum_a/Σden_a − Σnum_b/Σden_b over pairs, paired-bootstrap CI, two-sided p by swapping A and B per pair."""
    summary = summarize_paired_ratio_difference(num_a, den_a, num_b, den_b, seed, n_resamples=resamples, level=level)
    if not np.isfinite(summary.mean):
        return PairedTest(*(float("nan"),) * 4, summary.n)
    arrays = [np.asarray(x, dtype=np.float64) for x in (num_a, den_a, num_b, den_b)]
    ok = np.logical_and.reduce([np.isfinite(x) for x in arrays])
    na, da, nb, db = (x[ok] for x in arrays)
    dn, dd = nb - na, db - da  # what swapping a pair moves from B's sums into A's

    def statistic(swap: np.ndarray) -> np.ndarray:
        moved_num, moved_den = swap @ dn, swap @ dd
        return ((na.sum() + moved_num) / np.maximum(da.sum() + moved_den, 1e-12)
                - (nb.sum() - moved_num) / np.maximum(db.sum() - moved_den, 1e-12))

    draws = _swap_draws(na.size, resamples, seed, statistic)
    return PairedTest(summary.mean, summary.ci_low, summary.ci_high, _p_value(draws, summary.mean), summary.n)


def _swap_draws(n: int, resamples: int, seed: int, statistic) -> np.ndarray:
    """The statistic under `resamples` random swaps: each draw a 0/1 vector over pairs (1 = A and B swapped)."""
    rng = np.random.default_rng([seed, 1])  # a stream of its own, apart from the bootstrap's
    step = max(1, _CHUNK // max(n, 1))
    out = [statistic(rng.integers(0, 2, size=(min(step, resamples - start), n)).astype(np.float64))
           for start in range(0, resamples, step)]
    return np.concatenate(out)


def _p_value(draws: np.ndarray, observed: float) -> float:
    tolerance = 1e-9 * max(abs(observed), 1e-12)  # draws equal to the observed value up to rounding count as extreme
    extreme = int(np.count_nonzero(np.abs(draws) >= abs(observed) - tolerance))
    return (1 + extreme) / (1 + draws.size)


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p-values (None stays None and does not count in the family)."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[i] = running
    return adjusted


def _correct(family_cells: list[dict], alpha: float) -> None:
    """Holm within each task of one pair of runs; then the verdict of every cell."""
    for task in dict.fromkeys(c["task"] for c in family_cells):
        cells = [c for c in family_cells if c["task"] == task]
        for cell, adjusted in zip(cells, holm([c["p"] for c in cells]), strict=True):
            cell["p_holm"] = adjusted
            cell["verdict"] = _verdict(cell, alpha)


def _verdict(cell: dict, alpha: float) -> str:
    if cell["p_holm"] is None:
        return NOT_TESTED
    if cell["p_holm"] > alpha or cell["diff"] == 0:
        return NO_DIFFERENCE
    return A_BETTER if (cell["diff"] > 0) == cell["higher_is_better"] else B_BETTER


def format_comparison(result: dict) -> str:
    """The comparison as fixed-width tables, one per pair of runs and task."""
    s = result["settings"]
    lines = ["runs:"] + [f"  {r['name']}: model {r['model']}, seed {r['seed']}, profile {r['profile']}"
                         for r in result["runs"]]
    lines.append(f"A − B per pair, {s['ci_level']:.0%} paired-bootstrap CI, sign-flip p ({s['resamples']} draws, "
                 f"seed {s['seed']}), Holm within each task; verdict at alpha {s['alpha']:g}")
    head = (f"{'condition':<34}{'metric':<16}{'better':>7}{'n':>6}{'drop':>6}{'A − B':>11}  {'CI':<23}"
            f"{'p':>8}{'p Holm':>8}  verdict")
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for cell in result["cells"]:
        groups.setdefault((cell["run_a"], cell["run_b"], cell["task"]), []).append(cell)
    for (run_a, run_b, task), cells in groups.items():
        lines += ["", f"A = {run_a}  vs  B = {run_b}  — task {task} ({sum(c['p'] is not None for c in cells)} tests)",
                  head, "-" * len(head)]
        for c in cells:
            ci = f"[{_fmt(c['ci_low'])}, {_fmt(c['ci_high'])}]" if c["ci_low"] is not None else "-"
            better = "higher" if c["higher_is_better"] else "lower"
            lines.append(f"{c['condition'][:33]:<34}{c['metric'][:15]:<16}{better:>7}"
                         f"{c['n']:>6}{c['dropped']:>6}{_fmt(c['diff']):>11}  {ci:<23}{_fmt(c['p'], 3):>8}"
                         f"{_fmt(c['p_holm'], 3):>8}  {c['verdict']}")
    if not result["cells"]:
        lines += ["", "no task × condition × metric is scored in both runs"]
    return "\n".join(lines)


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


# ------------------------------------------------------------------------------ building blocks for other callers
# (the leaderboard's model × model matrices choose their own families of tests; see rvcbench.leaderboard.matrix)


def condition_rows(run: LoadedRun) -> dict[tuple[str, str], pd.DataFrame]:
    """(task, condition) → that condition's rows of `run`, indexed by pair_id."""
    return _by_condition(run)


def paired_cell(rows_a: pd.DataFrame, rows_b: pd.DataFrame, metric: str, *, level: float = 0.95,
                resamples: int = 2000, seed: int = 0) -> dict:
    """One metric of one condition of two runs, uncorrected: n, dropped, unmatched, diff, ci_low, ci_high, p."""
    return _cell(rows_a, rows_b, metric, level=level, resamples=resamples, seed=seed)


def verdict(diff: float | None, p_corrected: float | None, higher_is_better: bool, alpha: float) -> str:
    """A_BETTER / B_BETTER / NO_DIFFERENCE / NOT_TESTED for a difference A − B and its corrected p-value."""
    return _verdict({"diff": diff, "p_holm": p_corrected, "higher_is_better": higher_is_better}, alpha)
