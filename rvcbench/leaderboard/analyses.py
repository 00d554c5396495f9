"""A result's set-level analyses (`analyses` in result.json, the run's `summary.json → analyses`): their checks and
the numbers the site shows.

Today one kind is known, `detectability` (rvcbench/analyses/detectability.py, docs/detectability.md): per
condition of its task, the spoof-detection EER of a countermeasure telling the clones from real recordings of the
same pairs, with a speaker-bootstrap 95% CI, the change vs clean with a paired CI, and the trial counts. An EER of
0.5 means the detector cannot tell the clones from real speech. Analyses of kinds this rvcbench does not know are
kept in the file but neither checked beyond their `analysis` name nor shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from rvcbench.leaderboard.estimate import Estimate
from rvcbench.leaderboard.table import rows_of, status_counts
from rvcbench.tasks import CLEAN

DETECTABILITY = "detectability"
TOLERANCE = 1e-9  # rounding allowed when a CI must bracket its value or a difference must follow from two EERs
EER_FIELDS = ("mean", "ci_low", "ci_high")
EER_COUNTS = ("n", "n_bona_fide", "n_spoof", "n_speakers")
CONDITION_COUNTS = ("pairs", "clone_failures", "unavailable_items")
DETECTOR_TEXT = ("name", "version")
DETECTOR_OPTIONAL_TEXT = ("description", "reference", "origin")


def analyses_of(data: dict) -> dict:
    """The result's analyses (task name → analysis result); empty for results made before analyses existed."""
    value = data.get("analyses")
    return value if isinstance(value, dict) else {}


def detectability_of(data: dict) -> dict[str, dict]:
    """Task name → detectability result, for a validated result."""
    return {task: a for task, a in analyses_of(data).items() if a.get("analysis") == DETECTABILITY}


# ---------------------------------------------------------------------------------------------------- checks


def check_analyses(data: dict, table: pd.DataFrame | None, members: list | None) -> list[str]:
    """Every problem of the optional `analyses` block, as `analyses.<task>...: problem` lines.

    Types and ranges always; with the per-utterance table, also the counts of pairs, clone failures, unavailable
    items and spoof trials of each condition against the table's rows of that task and condition.
    """
    if "analyses" not in data:
        return []
    analyses = data["analyses"]
    if not isinstance(analyses, dict):
        return [f"analyses: expected an object (task name → analysis result), found {type(analyses).__name__}"]
    tasks = data["summary"].get("tasks", {})
    tasks = tasks if isinstance(tasks, dict) else {}
    problems = []
    for task_name, result in analyses.items():
        where = f"analyses.{task_name}"
        if not isinstance(result, dict):
            problems.append(f"{where}: expected an object, found {type(result).__name__}")
            continue
        kind = result.get("analysis")
        if not isinstance(kind, str):
            problems.append(f"{where}.analysis: expected the analysis name as text, found {kind!r}")
        elif kind == DETECTABILITY:
            task = tasks.get(task_name)
            if not isinstance(task, dict):
                problems.append(f"{where}: no task {task_name!r} in summary.tasks")
                continue
            problems += _check_detectability(where, result, task, task_name, table, members)
    return problems


def _check_detectability(where: str, result: dict, task: dict, task_name: str, table: pd.DataFrame | None,
                         members: list | None) -> list[str]:
    problems = _check_detector(f"{where}.detector", result.get("detector"))
    protocol = result.get("protocol")
    if not isinstance(protocol, dict):
        problems.append(f"{where}.protocol: expected an object")
    elif not _count(protocol.get("folds")):
        problems.append(f"{where}.protocol.folds: expected a non-negative integer, found {protocol.get('folds')!r}")
    conditions = result.get("conditions")
    if not isinstance(conditions, dict) or not conditions:
        return problems + [f"{where}.conditions: expected a non-empty object (condition name → result)"]
    known = task.get("conditions", {}) if isinstance(task.get("conditions"), dict) else {}
    clean_eer = _eer_mean(conditions.get(CLEAN))
    for name, condition in conditions.items():
        here = f"{where}.conditions.{name}"
        if name not in known:
            problems.append(f"{here}: task {task_name!r} has no such condition in summary.tasks")
        if not isinstance(condition, dict):
            problems.append(f"{here}: expected an object")
            continue
        problems += _check_condition(here, condition, clean_eer if name != CLEAN else None)
        if table is not None and members is not None and name in known:
            problems += _check_against_table(here, condition, rows_of(table, members, task_name, name))
    return problems


def _check_detector(where: str, detector: object) -> list[str]:
    if not isinstance(detector, dict):
        return [f"{where}: expected an object (name, version, settings, ...)"]
    problems = [f"{where}.{k}: expected text, found {_kind(detector.get(k))}" for k in DETECTOR_TEXT
                if not isinstance(detector.get(k), str) or not detector.get(k)]
    problems += [f"{where}.{k}: expected text, found {_kind(detector[k])}" for k in DETECTOR_OPTIONAL_TEXT
                 if k in detector and not isinstance(detector[k], str)]
    if not isinstance(detector.get("settings", {}), dict):
        problems.append(f"{where}.settings: expected an object, found {_kind(detector['settings'])}")
    if "trainable" in detector and not isinstance(detector["trainable"], bool):
        problems.append(f"{where}.trainable: expected true or false, found {_kind(detector['trainable'])}")
    return problems


def _check_condition(where: str, condition: dict, clean_eer: float | None) -> list[str]:
    problems = [f"{where}.{k}: expected a non-negative integer, found {condition.get(k)!r}" for k in CONDITION_COUNTS
                if not _count(condition.get(k))]
    available = condition.get("available")
    if not isinstance(available, bool):
        return problems + [f"{where}.available: expected true or false, found {available!r}"]
    if not available:
        if not isinstance(condition.get("reason"), str):
            problems.append(f"{where}.reason: an unavailable condition needs its reason as text")
        return problems
    if not _count(condition.get("folds")):
        problems.append(f"{where}.folds: expected a non-negative integer, found {condition.get('folds')!r}")
    eer = condition.get("eer")
    if not isinstance(eer, dict):
        return problems + [f"{where}.eer: an available condition needs its EER (mean, ci_low, ci_high, counts)"]
    problems += _check_interval(f"{where}.eer", eer, 0.0, 1.0, "EER")
    bad_counts = [k for k in EER_COUNTS if not _count(eer.get(k))]
    problems += [f"{where}.eer.{k}: expected a non-negative integer, found {eer.get(k)!r}" for k in bad_counts]
    if not bad_counts and eer["n"] != eer["n_bona_fide"] + eer["n_spoof"]:
        problems.append(f"{where}.eer.n: states {eer['n']}, but n_bona_fide + n_spoof = "
                        f"{eer['n_bona_fide'] + eer['n_spoof']}")
    delta = condition.get("eer_vs_clean")
    if delta is None:
        return problems
    if not isinstance(delta, dict):
        return problems + [f"{where}.eer_vs_clean: expected an object"]
    problems += _check_interval(f"{where}.eer_vs_clean", delta, -1.0, 1.0, "ΔEER")
    if "n_speakers" in delta and not _count(delta["n_speakers"]):
        problems.append(f"{where}.eer_vs_clean.n_speakers: expected a non-negative integer, found "
                        f"{delta['n_speakers']!r}")
    mean, own = _number(delta.get("mean")), _eer_mean(condition)
    if clean_eer is not None and own is not None and math.isfinite(mean) and abs(mean - (own - clean_eer)) > 1e-6:
        problems.append(f"{where}.eer_vs_clean.mean: states {mean!r}, but EER − clean EER = {own - clean_eer!r}")
    return problems


def _check_interval(where: str, value: dict, low: float, high: float, what: str) -> list[str]:
    """`mean` a finite number in [low, high]; the CI ends numbers (NaN: no CI could be drawn), inside [low, high]
    and ordered. A percentile-bootstrap CI of a pooled EER need not contain the point estimate, so that is not
    required."""
    problems = []
    for k in EER_FIELDS:
        if not _is_number(value.get(k)):
            problems.append(f"{where}.{k}: expected a number, found {_kind(value.get(k))}")
    if problems:
        return problems
    mean, ci_low, ci_high = (float(value[k]) for k in EER_FIELDS)
    if not (math.isfinite(mean) and low - TOLERANCE <= mean <= high + TOLERANCE):
        problems.append(f"{where}.mean: {what} {mean!r} is outside [{low:g}, {high:g}]")
    for k, v in (("ci_low", ci_low), ("ci_high", ci_high)):
        if math.isfinite(v) and not low - TOLERANCE <= v <= high + TOLERANCE:
            problems.append(f"{where}.{k}: {v!r} is outside [{low:g}, {high:g}]")
    if math.isfinite(ci_low) != math.isfinite(ci_high):
        problems.append(f"{where}: the 95% CI [{ci_low!r}, {ci_high!r}] has only one end")
    elif math.isfinite(ci_low) and ci_low > ci_high + TOLERANCE:
        problems.append(f"{where}: the 95% CI [{ci_low!r}, {ci_high!r}] is not ordered")
    return problems


def _check_against_table(where: str, condition: dict, rows: pd.DataFrame) -> list[str]:
    counts = status_counts(rows)
    actual = {"pairs": counts["items"], "clone_failures": counts["failed"], "unavailable_items": counts["unavailable"]}
    problems = [f"{where}.{k}: states {condition.get(k)!r}, the table has {v}" for k, v in actual.items()
                if _count(condition.get(k)) and condition[k] != v]
    eer = condition.get("eer")
    if condition.get("available") is True and isinstance(eer, dict) and _count(eer.get("n_spoof")) \
            and eer["n_spoof"] != counts["ok"]:
        problems.append(f"{where}.eer.n_spoof: states {eer['n_spoof']}, the table has {counts['ok']} successful "
                        "clones")
    return problems


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value: object) -> float:
    return float(value) if _is_number(value) else float("nan")


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


def _eer_mean(condition: object) -> float | None:
    if not isinstance(condition, dict) or condition.get("available") is not True:
        return None
    eer = condition.get("eer")
    mean = _number(eer.get("mean")) if isinstance(eer, dict) else float("nan")
    return mean if math.isfinite(mean) else None


# ---------------------------------------------------------------------------------------------------- numbers


@dataclass(frozen=True)
class DetectCondition:
    """One condition of a detectability result, as shown: EER and ΔEER (None when unavailable; n = trials,
    failures = clone failures), counts, reason."""

    name: str
    available: bool
    reason: str
    eer: Estimate | None
    delta: Estimate | None
    n_bona_fide: int
    n_spoof: int
    n_speakers: int
    folds: int
    clone_failures: int


def detect_conditions(result: dict) -> list[DetectCondition]:
    out = []
    for name, c in result.get("conditions", {}).items():
        eer = c.get("eer") if c.get("available") else None
        failures = int(c.get("clone_failures", 0))
        delta = c.get("eer_vs_clean") if c.get("available") else None
        out.append(DetectCondition(
            str(name), bool(c.get("available")), str(c.get("reason", "")),
            Estimate(*(_number(eer.get(k)) for k in EER_FIELDS), int(eer.get("n", 0)), failures) if eer else None,
            Estimate(*(_number(delta.get(k)) for k in EER_FIELDS), int(eer.get("n", 0)) if eer else 0, failures)
            if isinstance(delta, dict) else None,
            *(int(eer.get(k, 0)) if eer else 0 for k in ("n_bona_fide", "n_spoof", "n_speakers")),
            int(c.get("folds", 0)), failures))
    return out


@dataclass(frozen=True)
class DetectGrid:
    """One detectability task across the models of a profile: conditions in order, model slug → condition → EER."""

    task: str
    conditions: list[str]
    eer: dict[str, dict[str, Estimate | None]]
    detectors: dict[str, str]  # model slug → "name vversion"


def detect_grids(entries: list) -> list[DetectGrid]:
    grids: dict[str, DetectGrid] = {}
    for entry in entries:
        for task, result in detectability_of(entry.data).items():
            grid = grids.setdefault(task, DetectGrid(task, [], {}, {}))
            detector = result["detector"]
            grid.detectors[entry.slug] = f"{detector['name']} v{detector['version']}"
            for c in detect_conditions(result):
                if c.name not in grid.conditions:
                    grid.conditions.append(c.name)
                grid.eer.setdefault(entry.slug, {})[c.name] = c.eer
    return list(grids.values())


def detectors_of(results: list) -> list[dict]:
    """Each distinct detector recorded in these results (name, version, settings, ...) with its protocols."""
    seen: dict[tuple, dict] = {}
    for result in results:
        for task, analysis in detectability_of(result.data).items():
            d = analysis["detector"]
            key = (d["name"], d["version"], repr(sorted(d.get("settings", {}).items())))
            item = seen.setdefault(key, {**d, "tasks": [], "protocols": []})
            if task not in item["tasks"]:
                item["tasks"].append(task)
            protocol = analysis["protocol"]
            if protocol not in item["protocols"]:
                item["protocols"].append(protocol)
    return list(seen.values())
