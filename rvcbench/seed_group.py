"""One benchmark run per seed, and how much the numbers move between seeds.

Sampling-based models differ by seed more than by many model changes, and a within-run confidence interval
(resampling utterances) says nothing about it. `rvcbench run --seeds 0,1,2` runs the same configuration once per
seed (each a normal, resumable run directory `DIR/seed-<s>`) and writes `DIR/seeds.json`: per task × condition ×
metric the mean of each seed's run, their between-seed standard deviation (ddof = 1), and beside it the
within-run 95% CI half-width averaged over the seeds, so the two sources of variation can be read side by side.
Only the model's per-item seeds change between the runs (they derive from the run seed); the pairs, tasks and
scorers are the same, so the spread is the model's.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

from rvcbench.errors import RvcbenchError
from rvcbench.runner import RunConfig, RunOutcome, default_run_dir, run_benchmark
from rvcbench.tasks import CLEAN, DEFAULT_TASK

SEEDS_FILE = "seeds.json"
KIND = "rvcbench-seed-group"
HEADLINES = ("sim_retention", "wer_increase_points")  # per condition of a task, beside its metrics


class SeedListError(RvcbenchError):
    """--seeds was not a list of distinct integers."""


@dataclass(frozen=True)
class SeedGroupOutcome:
    out_dir: Path
    runs: dict[int, RunOutcome]
    group: dict  # the contents of seeds.json


def parse_seeds(text: str) -> list[int]:
    """`0,1,2` → [0, 1, 2]; at least two distinct integers (one seed has no between-seed spread)."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SeedListError(f"--seeds {text!r}: expected integers joined by commas, e.g. 0,1,2") from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise SeedListError(f"--seeds {text!r}: give at least two distinct seeds, e.g. 0,1,2")
    return seeds


def default_group_dir(config: RunConfig, seeds: list[int]) -> Path:
    single = default_run_dir(dataclasses.replace(config, seed=seeds[0]))
    return single.with_name(single.name.replace(f"__seed{seeds[0]}", f"__seeds{'-'.join(map(str, seeds))}", 1))


def run_seed_group(config: RunConfig, seeds: list[int], out_dir: Path | None = None, *,
                   progress: bool = True) -> SeedGroupOutcome:
    """Run (or resume) `config` once per seed, then write the group's seeds.json."""
    out_dir = Path(out_dir or default_group_dir(config, seeds))
    runs = {seed: run_benchmark(dataclasses.replace(config, seed=seed), out_dir / f"seed-{seed}", progress=progress)
            for seed in seeds}
    group = {"kind": KIND, "seeds": seeds, "runs": {str(s): f"seed-{s}" for s in seeds},
             "seed_variation": seed_variation({s: r.summary for s, r in runs.items()})}
    (out_dir / SEEDS_FILE).write_text(json.dumps(group, indent=1, allow_nan=False, default=_no_nan))
    return SeedGroupOutcome(out_dir, runs, group)


SAME_KEYS = ("model", "adapter_version", "profile", "task", "limit", "pairs", "weights", "noise_dir", "shard")


def group_existing_runs(folder: Path) -> dict:
    """Write FOLDER/seeds.json for finished runs made separately with different `--seed`, moved into FOLDER.

    The runs must differ in nothing but the seed: same model and adapter version, dataset (fingerprint), pair
    subset, tasks, scorer profile; otherwise the spread would not be the model's.
    """
    folder = Path(folder)
    runs = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
        if (sub / "config.json").is_file() and (sub / "summary.json").is_file():
            config = json.loads((sub / "config.json").read_text())
            runs[sub.name] = (config, json.loads((sub / "summary.json").read_text()))
    if len(runs) < 2:
        raise RvcbenchError(f"{folder}: a seed group needs at least two finished runs (folders with config.json "
                            f"and summary.json) inside it; found {len(runs)}")
    first_name, (first, _) = next(iter(runs.items()))
    identity = {**{k: first.get(k) for k in SAME_KEYS}, "dataset": first["dataset"].get("fingerprint"),
                "tasks": first.get("tasks")}
    problems = []
    for name, (config, _) in runs.items():
        other = {**{k: config.get(k) for k in SAME_KEYS}, "dataset": config["dataset"].get("fingerprint"),
                 "tasks": config.get("tasks")}
        problems += [f"{k}: {first_name} has {identity[k]!r}, {name} has {other[k]!r}" for k in identity
                     if other[k] != identity[k]]
    seeds = [config["seed"] for config, _ in runs.values()]
    if len(set(seeds)) != len(seeds):
        problems.append(f"two runs share a seed ({seeds})")
    if problems:
        raise RvcbenchError(f"{folder}: these runs are not one configuration under different seeds:\n  "
                            + "\n  ".join(problems))
    order = sorted(runs, key=lambda name: runs[name][0]["seed"])
    group = {"kind": KIND, "seeds": [runs[n][0]["seed"] for n in order],
             "runs": {str(runs[n][0]["seed"]): n for n in order},
             "seed_variation": seed_variation({runs[n][0]["seed"]: runs[n][1] for n in order})}
    (folder / SEEDS_FILE).write_text(json.dumps(group, indent=1, allow_nan=False, default=_no_nan))
    return group


def _no_nan(value: object) -> object:
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def seed_variation(summaries: dict[int, dict]) -> dict:
    """Per task × condition × metric: each seed's mean, their SD, and the mean within-run CI half-width."""
    seeds = list(summaries)
    metrics: dict[str, dict[str, dict[str, dict]]] = {}
    cells = {(DEFAULT_TASK, CLEAN, name): [s["metrics"].get(name) for s in summaries.values()]
             for name in next(iter(summaries.values()))["metrics"]}
    for task, entry in next(iter(summaries.values())).get("tasks", {}).items():
        for condition, first in entry["conditions"].items():
            if not first.get("available"):
                continue
            for name in [*first["metrics"], *HEADLINES]:
                cells[(task, condition, name)] = [_estimate(s, task, condition, name) for s in summaries.values()]
    for (task, condition, name), estimates in cells.items():
        metrics.setdefault(task, {}).setdefault(condition, {})[name] = spread(estimates)
    return {"seeds": seeds, "sd": "sample standard deviation (ddof = 1) of the seeds' means",
            "within_run_ci": "mean over the seeds of each run's 95% CI half-width", "metrics": metrics}


def _estimate(summary: dict, task: str, condition: str, name: str) -> dict | None:
    entry = summary.get("tasks", {}).get(task, {}).get("conditions", {}).get(condition)
    if not entry or not entry.get("available"):
        return None
    return (entry["headline"] if name in HEADLINES else entry["metrics"]).get(name)


def spread(estimates: list[dict | None]) -> dict:
    """The between-seed SD of the estimates' means; None where fewer than two seeds have a finite mean."""
    means = [_finite(e["mean"]) if e else None for e in estimates]
    finite = [m for m in means if m is not None]
    halves = [(e["ci_high"] - e["ci_low"]) / 2 for e in estimates
              if e and _finite(e.get("ci_low")) is not None and _finite(e.get("ci_high")) is not None]
    sd = None
    if len(finite) >= 2:
        centre = sum(finite) / len(finite)
        sd = math.sqrt(sum((m - centre) ** 2 for m in finite) / (len(finite) - 1))
    return {"sd": sd, "means": means, "n": [e.get("n") if e else None for e in estimates],
            "within_run_ci_half_width": sum(halves) / len(halves) if halves else None}


def _finite(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def format_seed_variation(group: dict, metrics: tuple[str, ...] | None = None) -> str:
    """The group's spread as a table: per metric each seed's mean, the between-seed SD, the within-run CI."""
    variation = group["seed_variation"]
    seeds = variation["seeds"]
    head = (f"{'task / condition / metric':<48}" + "".join(f"{'seed ' + str(s):>10}" for s in seeds)
            + f"{'seed SD':>10}{'±CI/2':>10}")
    lines = [f"between-seed variation over seeds {', '.join(map(str, seeds))} "
             "(±CI/2: mean within-run 95% CI half-width)", head, "-" * len(head)]
    for task, conditions in variation["metrics"].items():
        for condition, values in conditions.items():
            for name, cell in values.items():
                if metrics and name not in metrics:
                    continue
                label = name if task == DEFAULT_TASK else f"{task} / {condition} / {name}"
                lines.append(f"{label:<48}" + "".join(f"{_num(m):>10}" for m in cell["means"])
                             + f"{_num(cell['sd']):>10}{_num(cell['within_run_ci_half_width']):>10}")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"
