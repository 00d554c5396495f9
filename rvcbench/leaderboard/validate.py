"""Check a result folder someone sent: schema, table hash, counts and means against the table, profile, paths.

Every problem is collected (not only the first), so the sender can fix them all in one go.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rvcbench.leaderboard import schema
from rvcbench.leaderboard.analyses import check_analyses
from rvcbench.leaderboard.costs import check_cost, check_seed_variation
from rvcbench.leaderboard.table import (
    clean_rows,
    file_sha256,
    memberships,
    point_estimate,
    rows_of,
    same_number,
    status_counts,
)


@dataclass
class LoadedResult:
    """A validated result: its folder, its parsed JSON and its per-utterance table."""

    folder: Path
    data: dict
    table: pd.DataFrame


def result_paths(path: Path) -> tuple[Path, Path]:
    """(folder, result.json) for a path naming either."""
    path = Path(path)
    return (path, path / schema.RESULT_FILE) if path.is_dir() else (path.parent, path)


def read_result_json(file: Path) -> dict:
    if not file.is_file():
        raise schema.ResultFileError(f"{file}: no such result file")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise schema.ResultFileError(f"{file}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise schema.ResultFileError(f"{file}: a result file is a JSON object")
    return data


def validate_result(path: Path) -> list[str]:
    """Every problem of the result at `path` (a folder or its result.json); empty when it is valid."""
    try:
        load_result(path)
    except schema.ResultFileError as exc:
        return exc.problems
    return []


def load_result(path: Path) -> LoadedResult:
    """Read and validate a result; raise ResultFileError naming the file and listing every problem."""
    folder, file = result_paths(path)
    data = read_result_json(file)
    problems = _check_header(data)
    if problems:  # the rest would only repeat these
        raise _error(file, problems)
    problems += _check_profile(data)
    problems += _check_links(data)
    table, table_problems = _read_table(folder, data["table"])
    problems += table_problems
    members = None
    if table is not None:
        problems += _check_against_table(data, table)
        members = _memberships(table)
    problems += _check_analyses(data, table, members)
    problems += check_cost(data) + check_seed_variation(data)
    problems += _check_examples(folder, data["examples"])
    if problems:
        raise _error(file, problems)
    return LoadedResult(folder, data, table)


def _error(file: Path, problems: list[str]) -> schema.ResultFileError:
    listing = "".join(f"\n  - {p}" for p in problems)
    return schema.ResultFileError(f"{file}: refused, {len(problems)} problem(s):{listing}", problems)


def _check_header(data: dict) -> list[str]:
    if data.get("kind") != schema.KIND:
        return [f"kind: expected {schema.KIND!r}, found {data.get('kind')!r} (not an rvcbench result file)"]
    if data.get("schema_version") != schema.SCHEMA_VERSION:
        return [f"schema_version: {data.get('schema_version')!r} is not known; this rvcbench reads version "
                f"{schema.SCHEMA_VERSION}"]
    return schema.check_shape(data, schema.SHAPE, "")


def _check_profile(data: dict) -> list[str]:
    """A known profile, and scorers this rvcbench knows (a profile may gain scorers over time: the site
    then ranks results only with results that have the same scorers)."""
    from rvcbench.scoring.registry import PROFILES, SCORERS

    profile = data["profile"]
    if profile not in PROFILES:
        return [f"profile: unknown scorer profile {profile!r}; known: {', '.join(PROFILES)}"]
    names = [s.get("name") if isinstance(s, dict) else None for s in data["scorers"]]
    problems = [f"scorers: unknown scorer {n!r}; known: {', '.join(SCORERS.names())}"
                for n in names if n not in SCORERS.names()]
    if sorted(data["versions"]["scorers"]) != sorted(map(str, names)):
        problems.append("versions.scorers: must name the same scorers as `scorers`")
    return problems


def _check_links(data: dict) -> list[str]:
    return [f"model.links.{name}: {url!r} is not an http(s) link" for name, url in data["model"]["links"].items()
            if not schema.is_http_url(url)]


def _read_table(folder: Path, meta: dict) -> tuple[pd.DataFrame | None, list[str]]:
    path = schema.safe_member(folder, meta["file"])
    if path is None:
        return None, [f"table.file: {meta['file']!r} points outside the result folder"]
    if not path.is_file():
        return None, [f"table.file: {meta['file']} does not exist beside the result file"]
    digest = file_sha256(path)
    if digest != meta["sha256"]:
        return None, [f"table.sha256: {meta['file']} has sha256 {digest}, the result file states {meta['sha256']}"]
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        return None, [f"table.file: {meta['file']} is not a readable parquet table: {exc}"]
    if len(table) != meta["rows"]:
        return table, [f"table.rows: states {meta['rows']}, the table has {len(table)}"]
    return table, []


def _memberships(table: pd.DataFrame) -> list | None:
    try:
        return memberships(table)
    except (TypeError, ValueError):
        return None  # already reported by _check_against_table


def _check_analyses(data: dict, table: pd.DataFrame | None, members: list | None) -> list[str]:
    return check_analyses(data, table, members)


def _check_against_table(data: dict, table: pd.DataFrame) -> list[str]:
    summary, problems = data["summary"], []
    if "model" in table.columns and set(table["model"].astype(str)) - {data["model"]["name"]}:
        found = sorted(set(table["model"].astype(str)))
        problems.append(f"model.name: {data['model']['name']!r} but the table's rows are of model(s) {found}")
    try:
        members = memberships(table)
    except (TypeError, ValueError) as exc:
        return problems + [f"table: column memberships is not a list of [task, condition] pairs: {exc}"]
    problems += _compare_counts("summary", summary, status_counts(table))
    problems += _compare_metrics("summary.metrics", summary["metrics"], clean_rows(table, members))
    tasks = summary.get("tasks", {})
    if not isinstance(tasks, dict):
        return problems + ["summary.tasks: expected an object"]
    for task_name, task in tasks.items():
        conditions = task.get("conditions") if isinstance(task, dict) else None
        if not isinstance(conditions, dict):
            problems.append(f"summary.tasks.{task_name}.conditions: expected an object")
            continue
        for name, condition in conditions.items():
            where = f"summary.tasks.{task_name}.conditions.{name}"
            rows = rows_of(table, members, task_name, name)
            if not isinstance(condition, dict):
                problems.append(f"{where}: expected an object")
                continue
            problems += _compare_counts(where, condition, status_counts(rows))
            if condition.get("available", True):
                problems += _compare_metrics(f"{where}.metrics", condition.get("metrics", {}), rows)
    return problems


def _compare_counts(where: str, stated: dict, actual: dict) -> list[str]:
    return [f"{where}.{key}: states {stated.get(key)!r}, the table has {value}"
            for key, value in actual.items() if stated.get(key) != value]


def _compare_metrics(where: str, metrics: object, rows: pd.DataFrame) -> list[str]:
    if not isinstance(metrics, dict):
        return [f"{where}: expected an object"]
    problems = []
    for name, stated in metrics.items():
        if not isinstance(stated, dict) or not all(k in stated for k in ("mean", "ci_low", "ci_high", "n",
                                                                          "failures")):
            problems.append(f"{where}.{name}: needs mean, ci_low, ci_high, n, failures")
            continue
        mean, n, failures = point_estimate(rows, name)
        if not same_number(stated["mean"], mean):
            problems.append(f"{where}.{name}.mean: states {stated['mean']!r}, the table gives {mean!r}")
        if stated["n"] != n or stated["failures"] != failures:
            problems.append(f"{where}.{name}: states n={stated['n']!r}, failures={stated['failures']!r}; "
                            f"the table gives n={n}, failures={failures}")
        low, high = stated["ci_low"], stated["ci_high"]
        if (isinstance(low, (int, float)) and isinstance(high, (int, float)) and math.isfinite(mean)
                and not (low - 1e-9 <= mean <= high + 1e-9)):
            problems.append(f"{where}.{name}: the 95% CI [{low}, {high}] does not contain the mean {mean}")
    return problems


def _check_examples(folder: Path, examples: list) -> list[str]:
    problems = []
    for i, example in enumerate(examples):
        where = f"examples[{i}]"
        problems += schema.check_shape(example, schema.EXAMPLE_SHAPE, where)
        if not isinstance(example, dict):
            continue
        for role in schema.EXAMPLE_AUDIO_ROLES:
            relative = example.get(role)
            if relative is None:
                continue  # e.g. the dataset's target was not available where the result was made
            path = schema.safe_member(folder, relative)
            if path is None or not str(relative).startswith(f"{schema.AUDIO_DIR}/"):
                problems.append(f"{where}.{role}: {relative!r} points outside the result's {schema.AUDIO_DIR}/ "
                                "folder")
            elif not path.is_file():
                problems.append(f"{where}.{role}: {relative} does not exist")
    return problems
