"""What a run cost and how much its numbers move between seeds, as the site shows them.

Both are optional top-level keys of result.json (copied by `leaderboard add` from the run's summary.json and the
seed group's seeds.json); results made before they existed have neither and the site shows "–".

- cost: synthesis seconds per hour of generated audio, GPU-seconds when synthesis ran on a GPU, wall-clock seconds
  otherwise (a CPU-only adapter has no GPU-seconds), with RTF and peak memory beside it;
- seed variation: per task × condition × metric the standard deviation between the seeds' means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rvcbench.tasks import CLEAN, DEFAULT_TASK

GPU_PREFIXES = ("cuda", "gpu", "rocm", "mps", "xpu")
PHASES = ("loading", "synthesis", "scoring")
PHASE_FIELDS = {"wall_seconds": "wall-clock seconds", "gpu_seconds": "GPU-seconds", "peak_gpu_bytes": "peak GPU memory",
                "peak_rss_bytes": "peak RSS", "gpu_source": "GPU memory measured by", "devices": "devices"}


@dataclass(frozen=True)
class CostSummary:
    """The overview's cost cell: seconds per hour of generated audio and which clock they are."""

    per_audio_hour: float | None
    clock: str  # "GPU" or "wall"
    rtf: float | None
    peak_gpu_bytes: int | None
    peak_rss_bytes: int | None
    complete: bool

    @property
    def hover(self) -> str:
        parts = [f"{self.clock}-seconds of synthesis per hour of generated audio",
                 f"RTF {_num(self.rtf)}", f"peak GPU memory {gib(self.peak_gpu_bytes)}",
                 f"peak RSS {gib(self.peak_rss_bytes)}"]
        if not self.complete:
            parts.append("incomplete: some invocations were not measured")
        return "; ".join(parts)


def cost_of(data: dict) -> dict | None:
    value = data.get("cost")
    return value if isinstance(value, dict) else None


def on_gpu(phase: dict) -> bool:
    devices = phase.get("devices") or []
    return any(str(d).lower().startswith(GPU_PREFIXES) for d in devices)


def cost_summary(data: dict) -> CostSummary | None:
    cost = cost_of(data)
    if cost is None:
        return None
    synthesis = (cost.get("phases") or {}).get("synthesis") or {}
    per_hour = cost.get("per_audio_hour") or {}
    gpu = on_gpu(synthesis) and per_hour.get("synthesis_gpu_seconds") is not None
    value = per_hour.get("synthesis_gpu_seconds") if gpu else per_hour.get("synthesis_wall_seconds")
    return CostSummary(_finite(value), "GPU" if gpu else "wall", _finite(cost.get("rtf")),
                       synthesis.get("peak_gpu_bytes"), synthesis.get("peak_rss_bytes"),
                       bool(cost.get("complete", False)))


def cost_rows(data: dict) -> list[tuple[str, str]]:
    """Every field of the cost record as (label, text) for the model page; empty when the result has none."""
    cost = cost_of(data)
    if cost is None:
        return []
    rows = [("Generated audio", f"{_num(cost.get('generated_audio_seconds'))} s"), ("RTF", _num(cost.get("rtf")))]
    phases = cost.get("phases") or {}
    for phase in PHASES:
        values = phases.get(phase)
        if not isinstance(values, dict):
            continue
        for field, label in PHASE_FIELDS.items():
            if field in values:
                rows.append((f"{phase}: {label}", _field(field, values[field])))
    per_hour = cost.get("per_audio_hour") or {}
    rows += [("Synthesis wall seconds per audio hour", _num(per_hour.get("synthesis_wall_seconds"))),
             ("Synthesis GPU-seconds per audio hour", _num(per_hour.get("synthesis_gpu_seconds"))),
             ("Invocations", _num(cost.get("invocations"))),
             ("Complete", {True: "yes", False: "no (some invocations were not measured)"}.get(cost.get("complete"),
                                                                                             "–"))]
    return rows


def _field(name: str, value: object) -> str:
    if name == "devices":
        return ", ".join(map(str, value)) if isinstance(value, list) and value else "–"
    if name.endswith("_bytes"):
        return gib(value)
    if name == "gpu_source":
        return str(value) if value else "–"
    return _num(value)


def gib(value: object) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "–"
    return f"{value / 2 ** 30:.2f} GiB"


def _finite(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _num(value: object) -> str:
    number = _finite(value)
    if number is None:
        return "–"
    return f"{int(number)}" if number == int(number) and abs(number) < 1e15 else f"{number:.4g}"


# ---------------------------------------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class SeedSpread:
    sd: float | None
    means: list[float]
    n: list[int]

    @property
    def seeds(self) -> int:
        return len(self.means)

    @property
    def text(self) -> str:
        return f"sd {_sd(self.sd)} · {self.seeds} seeds"


def seed_variation(data: dict) -> dict:
    value = data.get("seed_variation")
    return value if isinstance(value, dict) else {}


def seed_spread(data: dict, task: str, condition: str, metric: str) -> SeedSpread | None:
    metrics = seed_variation(data).get("metrics") or {}
    value = ((metrics.get(task) or {}).get(condition) or {}).get(metric)
    if not isinstance(value, dict):
        return None
    return SeedSpread(_finite(value.get("sd")), [float(x) for x in value.get("means", [])],
                      [int(x) for x in value.get("n", [])])


def clean_spread(data: dict, metric: str) -> SeedSpread | None:
    """The between-seed spread of a clean metric: the default task's clean condition, else any task's clean."""
    found = seed_spread(data, DEFAULT_TASK, CLEAN, metric)
    for task in (seed_variation(data).get("metrics") or {}):
        found = found or seed_spread(data, task, CLEAN, metric)
    return found


def spread_rows(data: dict) -> list[tuple[str, str, str, SeedSpread]]:
    """(task, condition, metric, spread) of every entry, for the model page's table."""
    out = []
    for task, conditions in (seed_variation(data).get("metrics") or {}).items():
        for condition, metrics in (conditions or {}).items():
            for metric in metrics or {}:
                spread = seed_spread(data, task, condition, metric)
                if spread is not None:
                    out.append((str(task), str(condition), str(metric), spread))
    return out


def _sd(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if value and abs(value) < 0.001 else f"{value:.3f}"


# ---------------------------------------------------------------------------------------------------- checks


def check_cost(data: dict) -> list[str]:
    """Problems of the optional `cost` block (types only: its numbers are measurements, not derivable from the
    table)."""
    if "cost" not in data:
        return []
    cost = data["cost"]
    if not isinstance(cost, dict):
        return [f"cost: expected an object, found {type(cost).__name__}"]
    problems = _numbers("cost", cost, ("generated_audio_seconds",), ("rtf",))
    if "invocations" in cost and not _is_count(cost["invocations"]):
        problems.append(f"cost.invocations: expected a non-negative integer, found {cost['invocations']!r}")
    if "complete" in cost and not isinstance(cost["complete"], bool):
        problems.append(f"cost.complete: expected true or false, found {cost['complete']!r}")
    phases = cost.get("phases", {})
    if not isinstance(phases, dict):
        return problems + [f"cost.phases: expected an object, found {type(phases).__name__}"]
    for name, phase in phases.items():
        where = f"cost.phases.{name}"
        if not isinstance(phase, dict):
            problems.append(f"{where}: expected an object, found {type(phase).__name__}")
            continue
        problems += _numbers(where, phase, (), ("wall_seconds", "gpu_seconds"))
        problems += [f"{where}.{k}: expected a non-negative integer or null, found {phase[k]!r}"
                     for k in ("peak_gpu_bytes", "peak_rss_bytes") if k in phase and phase[k] is not None
                     and not _is_count(phase[k])]
        if phase.get("gpu_source") is not None and not isinstance(phase["gpu_source"], str):
            problems.append(f"{where}.gpu_source: expected text or null, found {phase['gpu_source']!r}")
        devices = phase.get("devices", [])
        if not isinstance(devices, list) or not all(isinstance(x, str) for x in devices):
            problems.append(f"{where}.devices: expected a list of device names, found {devices!r}")
    per_hour = cost.get("per_audio_hour", {})
    if not isinstance(per_hour, dict):
        problems.append(f"cost.per_audio_hour: expected an object, found {type(per_hour).__name__}")
    else:
        problems += _numbers("cost.per_audio_hour", per_hour, (),
                             ("synthesis_wall_seconds", "synthesis_gpu_seconds"))
    return problems


def check_seed_variation(data: dict) -> list[str]:
    """Problems of the optional `seed_variation` block: seeds, and per metric sd ≥ 0 with one mean and n per seed."""
    if "seed_variation" not in data:
        return []
    value = data["seed_variation"]
    if not isinstance(value, dict):
        return [f"seed_variation: expected an object, found {type(value).__name__}"]
    seeds = value.get("seeds")
    if not isinstance(seeds, list) or not seeds or not all(_is_count(s) for s in seeds):
        return [f"seed_variation.seeds: expected a non-empty list of seeds, found {seeds!r}"]
    metrics = value.get("metrics")
    if not isinstance(metrics, dict):
        return [f"seed_variation.metrics: expected an object (task → condition → metric), found {metrics!r}"]
    problems = []
    for task, conditions in metrics.items():
        for condition, by_metric in (conditions.items() if isinstance(conditions, dict) else [(None, None)]):
            if not isinstance(by_metric, dict):
                problems.append(f"seed_variation.metrics.{task}.{condition}: expected an object")
                continue
            for metric, spread in by_metric.items():
                where = f"seed_variation.metrics.{task}.{condition}.{metric}"
                problems += _check_spread(where, spread, len(seeds))
    return problems


def _check_spread(where: str, spread: object, seeds: int) -> list[str]:
    if not isinstance(spread, dict):
        return [f"{where}: expected an object with sd, means, n"]
    problems = _numbers(where, spread, (), ("sd",))
    if _finite(spread.get("sd")) is not None and spread["sd"] < 0:
        problems.append(f"{where}.sd: a standard deviation cannot be negative ({spread['sd']!r})")
    means, counts = spread.get("means"), spread.get("n")
    if not isinstance(means, list) or not all(_is_number(x) for x in means) or len(means) != seeds:
        problems.append(f"{where}.means: expected one number per seed ({seeds}), found {means!r}")
    if not isinstance(counts, list) or not all(_is_count(x) for x in counts) or len(counts) != seeds:
        problems.append(f"{where}.n: expected one count per seed ({seeds}), found {counts!r}")
    return problems


def _numbers(where: str, values: dict, required: tuple[str, ...], nullable: tuple[str, ...]) -> list[str]:
    problems = [f"{where}.{k}: expected a number, found {values.get(k)!r}" for k in required
                if not _is_number(values.get(k))]
    return problems + [f"{where}.{k}: expected a number or null, found {values[k]!r}" for k in nullable
                       if k in values and values[k] is not None and not _is_number(values[k])]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
