"""From validated results to the leaderboard's tables: overview rows, robustness scores, per-task grids.

Robustness score of a task family (input, generation, output, perturbation), per model:

    score = (1/K) Σ_k  Σ_p SIM_k(p) / Σ_p SIM_clean(p)

over the K perturbed, available conditions k of every task of that family, each ratio over the pairs p scored in
both k and clean (the summary's SIM retention of each condition). 1.0 = nothing lost. Its 95% CI is a percentile
bootstrap over pairs: the same resampled pairs for every condition, the ratio recomputed per draw. Results of
different scorer profiles are never put in one table.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from rvcbench.leaderboard import schema
from rvcbench.leaderboard.estimate import Estimate
from rvcbench.leaderboard.table import clean_rows, column, memberships, rows_of
from rvcbench.leaderboard.validate import LoadedResult
from rvcbench.scoring.aggregate import CI_LEVEL, N_RESAMPLES
from rvcbench.tasks import CLEAN, FAMILIES

# The overview's columns, where a profile scores them (offline: sim, wer_corpus; rvcbench-paper: sim_ecapa, sva,
# wer_ref, mcd_pymcd, emotion_match; seed-tts: sim_wavlm, wer_ref).
HEADLINE_METRICS = ("sim", "sim_ecapa", "sim_wavlm", "sva", "wer_corpus", "wer_ref", "dnsmos_ovrl", "mcd_pymcd",
                    "emotion_match")
QUALITY_PREFIXES = ("utmos",)  # shown in the overview when a profile scores them


@dataclass(frozen=True)
class Column:
    key: str  # metric name, or `robust:<family>`
    label: str
    higher_is_better: bool
    description: str


@dataclass
class Entry:
    """One result on the leaderboard: its page slug, display fields and overview cells."""

    slug: str
    result: LoadedResult
    cells: dict[str, Estimate | None] = field(default_factory=dict)

    @property
    def data(self) -> dict:
        return self.result.data

    @property
    def name(self) -> str:
        return self.data["model"]["name"]


def robustness_score(result: LoadedResult, family: str, seed: int,
                     n_resamples: int = N_RESAMPLES) -> Estimate | None:
    """The family's mean SIM retention with a pair-bootstrap CI; None when the family did not run."""
    table, tasks = result.table, result.data["summary"].get("tasks", {})
    members = memberships(table)
    pairs: dict[str, int] = {}
    ratios = []  # per condition: (sim in condition, sim in clean) over the pair index
    for task_name, task in tasks.items():
        if task.get("family") != family:
            continue
        clean = _by_pair(rows_of(table, members, task_name, CLEAN), pairs)
        for name, condition in task.get("conditions", {}).items():
            if name != CLEAN and condition.get("available", True):
                ratios.append((_by_pair(rows_of(table, members, task_name, name), pairs), clean))
    if not ratios:
        return None
    width = len(pairs)
    a = np.array([[c.get(i, np.nan) for i in range(width)] for c, _ in ratios])
    b = np.array([[c.get(i, np.nan) for i in range(width)] for _, c in ratios])
    both = np.isfinite(a) & np.isfinite(b)
    a, b = np.where(both, a, 0.0), np.where(both, b, 0.0)
    cells, planned = int(both.sum()), len(ratios) * width
    point = _mean_ratio(a.sum(axis=1), b.sum(axis=1))
    if not math.isfinite(point):
        return Estimate(float("nan"), float("nan"), float("nan"), cells, planned - cells)
    draws = np.random.default_rng(seed).integers(0, width, size=(n_resamples, width))
    counts = np.stack([np.bincount(d, minlength=width) for d in draws]).astype(np.float64)  # draws × pairs
    boot = _mean_ratio(counts @ a.T, counts @ b.T, axis=1)
    alpha = (1 - CI_LEVEL) / 2
    low, high = np.nanquantile(boot, [alpha, 1 - alpha])
    return Estimate(point, float(low), float(high), cells, planned - cells)


def _by_pair(rows, pairs: dict[str, int]) -> dict[int, float]:
    sims = column(rows, "sim")
    out = {}
    for pair, value in zip(rows["pair_id"].astype(str), sims, strict=True):
        out[pairs.setdefault(pair, len(pairs))] = value
    return out


def _mean_ratio(num: np.ndarray, den: np.ndarray, axis: int = 0):
    """Mean over conditions of num/den, skipping conditions with no scored pair (den = 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    if ratio.ndim == 1:
        return float(np.nanmean(ratio)) if np.isfinite(ratio).any() else float("nan")
    valid = np.isfinite(ratio).any(axis=axis)
    out = np.full(ratio.shape[0], np.nan)
    out[valid] = np.nanmean(ratio[valid], axis=axis)
    return out


def families_of(result: LoadedResult) -> list[str]:
    """Families with at least one perturbed condition in this result, in the canonical order."""
    tasks = result.data["summary"].get("tasks", {})
    present = {t.get("family") for t in tasks.values()
               if any(c != CLEAN for c in t.get("conditions", {}))}
    return [f for f in FAMILIES if f in present]


def overview_columns(results: list[LoadedResult]) -> list[Column]:
    """The overview's metric columns for one profile: headline metrics, UTMOS-like quality, RTF, families."""
    described: dict[str, tuple[bool, str]] = {}
    for r in results:
        for name, m in r.data["summary"]["metrics"].items():
            if isinstance(m, dict):
                described.setdefault(name, (bool(m.get("higher_is_better", True)), str(m.get("description", ""))))
    names = [m for m in HEADLINE_METRICS if m in described]
    names += sorted(m for m in described if m.startswith(QUALITY_PREFIXES))
    names += ["rtf"] if "rtf" in described else []
    labels = {"sim": "SIM", "wer_corpus": "WER", "dnsmos_ovrl": "DNSMOS", "rtf": "RTF", "sim_ecapa": "SIM (ECAPA)",
              "sim_wavlm": "SIM (WavLM)", "sva": "SVA", "wer_ref": "WER (ref.)", "mcd_pymcd": "MCD",
              "emotion_match": "Emo", "utmos": "UTMOS"}
    columns = [Column(m, labels.get(m, m.upper()), *described[m]) for m in names]
    families = {f for r in results for f in families_of(r)}
    columns += [Column(f"robust:{f}", f"Robust. {f}", True,
                       f"mean SIM retention over the {f} tasks' perturbed conditions (1 = nothing lost)")
                for f in FAMILIES if f in families]
    return columns


def pair_set(result: LoadedResult) -> tuple[str, int, str]:
    """What was evaluated: (dataset name, number of pairs, hash of the dataset fingerprint and the pair ids).

    Two results on the same dataset but different pairs (a `--limit`, a shard, a `--pairs` subset) differ here,
    so they are never ranked together."""
    return pair_identity(result.data["dataset"], result.table)


def pair_identity(dataset: dict, table) -> tuple[str, int, str]:
    import hashlib

    pairs = sorted(set(map(str, table["pair_id"]))) if "pair_id" in table.columns else []
    blob = "\n".join([str(dataset.get("fingerprint", "")), *pairs]).encode()
    return str(dataset.get("name", "")), len(pairs), hashlib.sha256(blob).hexdigest()[:8]


def ranking_group(result: LoadedResult) -> tuple:
    """Results are ranked together only with the same profile, the same scorers and the same pair set."""
    return (result.data["profile"], tuple(sorted(str(s.get("name")) for s in result.data["scorers"])),
            pair_set(result))


def build_entries(results: list[LoadedResult]) -> dict[str, list[Entry]]:
    """Ranking group → entries (one per result), every overview cell computed; slugs unique site-wide.

    A group is named by its profile, plus its scorers when one profile appears with different scorer sets.
    """
    groups: dict[tuple, list[Entry]] = defaultdict(list)
    used: set[str] = set()
    for result in sorted(results, key=lambda r: (ranking_group(r), r.data["model"]["name"], r.folder.name)):
        slug = schema.slug(result.folder.name)  # folder names come with untrusted results too
        while slug in used:
            slug += "-"
        used.add(slug)
        entry = Entry(slug, result)
        for name, value in result.data["summary"]["metrics"].items():
            entry.cells[name] = Estimate.of(value)
        seed = int(result.data["seeds"]["bootstrap"])
        for family in families_of(result):
            entry.cells[f"robust:{family}"] = robustness_score(result, family, seed)
        groups[ranking_group(result)].append(entry)
    labelled = [(group_label(key, list(groups)), key, v) for key, v in groups.items()]
    # scored rankings first, then the one with the most models, then the most pairs: the site opens on it
    return {label: v for label, key, v in sorted(labelled, key=lambda x: (x[0].startswith("none"), -len(x[2]),
                                                                          -x[1][2][1], x[0]))}


def group_label(key: tuple, keys: list[tuple]) -> str:
    """`profile · dataset · N pairs (hash)`, plus the scorers when one profile appears with several scorer sets."""
    profile, scorers, (dataset, n_pairs, digest) = key
    label = f"{profile} · {dataset} · {n_pairs} pairs ({digest})"
    if len({k[1] for k in keys if k[0] == profile}) > 1:
        label += f" · {'+'.join(scorers)}"
    return label


@dataclass(frozen=True)
class TaskGrid:
    """One task across the models of a profile: conditions in spec order, per model per condition estimates."""

    name: str
    family: str
    metrics: list[str]
    conditions: list[str]
    retention: dict[str, dict[str, Estimate | None]]  # model slug → condition → SIM retention
    values: dict[str, dict[str, dict[str, Estimate | None]]]  # metric → model slug → condition → estimate


def task_grids(entries: list[Entry]) -> list[TaskGrid]:
    grids: dict[str, TaskGrid] = {}
    for entry in entries:
        for name, task in entry.data["summary"].get("tasks", {}).items():
            grid = grids.setdefault(name, TaskGrid(name, str(task.get("family", "")), [], [], {}, {}))
            for metric in task.get("metrics", []):
                if metric not in grid.metrics:
                    grid.metrics.append(metric)
            for cname, condition in task.get("conditions", {}).items():
                if cname not in grid.conditions:
                    grid.conditions.append(cname)
                headline = condition.get("headline", {})
                grid.retention.setdefault(entry.slug, {})[cname] = Estimate.of(headline.get("sim_retention"))
                for metric, value in condition.get("metrics", {}).items():
                    grid.values.setdefault(metric, {}).setdefault(entry.slug, {})[cname] = Estimate.of(value)
    return list(grids.values())


def clean_pairs(result: LoadedResult) -> int:
    """Pairs behind the overview's metrics (clean items)."""
    return int(len(clean_rows(result.table, memberships(result.table))))
