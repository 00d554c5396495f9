"""`leaderboard add`: turn a finished run directory into a validated result folder under `leaderboard/results/`.

One folder per model × dataset × scorer profile × pair set (`<model>__<dataset>__<profile>__<n>pairs-<hash>`);
adding a newer run of the same four replaces it. The folder is written beside its destination, validated like
any file someone sent, and only then moved into place, so a refused or interrupted `add` leaves the results as
they were. A seed group (`rvcbench run --seeds ... --out DIR`, with DIR/seeds.json) is recorded as its first
seed's run plus the group's `seed_variation`; a run's measured `cost` moves from its summary to the top level.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from rvcbench.errors import RvcbenchError, UnknownNameError
from rvcbench.leaderboard import schema
from rvcbench.leaderboard.examples import copy_examples, dataset_files
from rvcbench.leaderboard.table import file_sha256
from rvcbench.leaderboard.validate import load_result
from rvcbench.results import RunDirectory, replace_folder, write_json_atomic
from rvcbench.store import RunStore

DEFAULT_RESULTS = Path("leaderboard/results")
EXAMPLES_PER_TASK = 2
SEED_GROUP_FILE = "seeds.json"
SEED_GROUP_KIND = "rvcbench-seed-group"
HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class Added:
    folder: Path
    replaced: bool


def result_key(model: str, dataset: str, profile: str, pair_set: tuple[str, int, str] | None = None) -> str:
    """`model__dataset__profile__<n>pairs-<hash>`: the pair set is part of what a result is (a `--limit 3` run and
    the full run of the same model are two results, never one replacing the other)."""
    parts = [model, dataset, profile] + ([f"{pair_set[1]}pairs-{pair_set[2]}"] if pair_set else [])
    return "__".join(schema.slug(x) for x in parts)


def run_pair_set(config: dict, table: pd.DataFrame) -> tuple[str, int, str]:
    from rvcbench.leaderboard.aggregate import pair_identity

    return pair_identity(config["dataset"], table)


def read_finished_run(run_dir: Path) -> tuple[dict, dict, pd.DataFrame]:
    """(config, summary, table) of a finished run; refuse an unfinished or incomplete one, saying why."""
    run = RunDirectory(run_dir)
    missing = [p.name for p in (run.config_path, run.summary_path, run.table_path) if not p.is_file()]
    if missing:
        raise schema.ResultFileError(f"{run_dir}: not a finished run directory (missing {', '.join(missing)}); "
                                     "finish it with `rvcbench run` first")
    config = json.loads(run.config_path.read_text(encoding="utf-8"))
    summary = run.read_summary()
    table = pd.read_parquet(run.table_path)
    records = _committed_records(run) if run.store_path.is_file() else len(table)
    if records != len(table) or summary.get("items") != len(table):
        raise schema.ResultFileError(f"{run_dir}: {records} item records, {len(table)} table rows and "
                                     f"{summary.get('items')} summarized items disagree; rerun `rvcbench run` with "
                                     "the same settings to finish it")
    return config, summary, table


def _committed_records(run: RunDirectory) -> int:
    store = RunStore(run.store_path, readonly=True)
    try:
        return store.record_count()
    finally:
        store.close()


def seed_group_run(path: Path) -> tuple[Path, dict | None]:
    """(the run to record, its seed variation): for a seed group folder (`rvcbench run --seeds 0,1,2 --out DIR`,
    with DIR/seeds.json) the first seed's run and seeds.json's `seed_variation`; for a plain run, itself and None."""
    path = Path(path)
    file = path / SEED_GROUP_FILE
    if not file.is_file():
        return path, None
    try:
        group = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise schema.ResultFileError(f"{file}: not valid JSON: {exc}") from exc
    if not isinstance(group, dict) or group.get("kind") != SEED_GROUP_KIND:
        raise schema.ResultFileError(f"{file}: kind must be {SEED_GROUP_KIND!r} (a seed group written by "
                                     "`rvcbench run --seeds`)")
    seeds, runs = group.get("seeds"), group.get("runs")
    if not isinstance(seeds, list) or not seeds or not isinstance(runs, dict) or str(seeds[0]) not in runs:
        raise schema.ResultFileError(f"{file}: needs `seeds` (a non-empty list) and `runs` naming the folder of "
                                     f"the first seed ({seeds[0] if isinstance(seeds, list) and seeds else '?'})")
    first = schema.safe_member(path, runs[str(seeds[0])])
    if first is None or not first.is_dir():
        raise schema.ResultFileError(f"{file}: runs.{seeds[0]} = {runs[str(seeds[0])]!r} is not a folder inside "
                                     f"{path}")
    variation = group.get("seed_variation")
    if not isinstance(variation, dict):
        raise schema.ResultFileError(f"{file}: seed_variation: expected an object, found {type(variation).__name__}")
    return first, variation


def add_run(run_dir: Path, results_root: Path = DEFAULT_RESULTS, examples_per_task: int = EXAMPLES_PER_TASK) -> Added:
    """Record a finished run, or the first seed's run of a seed group with the spread between its seeds."""
    run_dir, variation = seed_group_run(run_dir)
    config, summary, table = read_finished_run(run_dir)
    key = result_key(config["model"], config["dataset"]["name"], config["profile"], run_pair_set(config, table))
    results_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=results_root, prefix=f".{key}.", suffix=".part"))
    try:
        shutil.copyfile(RunDirectory(run_dir).table_path, staging / schema.TABLE_FILE)
        examples = copy_examples(Path(run_dir), table, summary.get("tasks", {}), staging, examples_per_task,
                                 dataset_files(config))
        result = build_result(config, summary, table, staging / schema.TABLE_FILE, examples, Path(run_dir).name)
        if variation is not None:
            result["seed_variation"] = variation
        write_json_atomic(staging / schema.RESULT_FILE, result, sort_keys=False)
        load_result(staging)  # the same checks as `validate`: never record a result we would refuse
        destination = results_root / key
        replaced = destination.exists()
        replace_folder(staging, destination)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return Added(destination, replaced)


def build_result(config: dict, summary: dict, table: pd.DataFrame, table_path: Path, examples: list[dict],
                 source_run: str) -> dict:
    run = summary.get("run", {})
    environment = run.get("environment") or config.get("environment", {})
    adapter = config.get("adapter", {})
    scorers = config.get("scorers", [])
    weights = str(adapter.get("weights") or "")
    return {
        "kind": schema.KIND,
        "schema_version": schema.SCHEMA_VERSION,
        "model": {"name": config["model"], "adapter": adapter, "adapter_origin": str(config.get("adapter_origin", "")),
                  "description": _adapter_description(config["model"]),
                  "links": {"weights": f"https://huggingface.co/{weights}"} if HF_ID.match(weights) else {}},
        "dataset": {k: config["dataset"][k] for k in ("name", "source", "pairs", "fingerprint")},
        "profile": config["profile"],
        "seeds": {"run": int(config["seed"]), "bootstrap": int(summary.get("statistics", {}).get("seed",
                                                                                                  config["seed"]))},
        "settings": {k: config.get(k) for k in ("data", "task", "limit", "batch_size", "device", "weights",
                                                "noise_dir")},
        "versions": {"rvcbench": str(environment.get("rvcbench", "")), "adapter": str(config.get("adapter_version")),
                     "scorers": {s["name"]: s["version"] for s in scorers},
                     "packages": environment.get("packages", {})},
        "scorers": scorers,
        "hardware": {k: environment[k] for k in ("device", "gpu", "machine", "processor", "platform", "python")
                     if k in environment},
        "tasks": config.get("tasks", {}),
        "summary": {k: v for k, v in summary.items() if k not in ("run", "analyses", "cost")},
        **({"analyses": summary["analyses"]} if summary.get("analyses") else {}),
        **({"cost": summary["cost"]} if isinstance(summary.get("cost"), dict) else {}),
        "table": {"file": schema.TABLE_FILE, "sha256": file_sha256(table_path), "rows": int(len(table))},
        "examples": examples,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_run": source_run,
    }


def _adapter_description(model: str) -> str:
    from rvcbench.adapters.registry import build_registry

    try:
        return build_registry().get(model).description
    except (UnknownNameError, ImportError):  # a model no longer installed here still gets its result recorded
        return ""


def add_runs(run_dirs: list[Path], results_root: Path = DEFAULT_RESULTS,
             examples_per_task: int = EXAMPLES_PER_TASK) -> list[Added]:
    """Add several runs; refuse two runs that would write the same result file before writing any."""
    keys: dict[str, Path] = {}
    for run_dir in run_dirs:
        config, _, table = read_finished_run(seed_group_run(run_dir)[0])
        key = result_key(config["model"], config["dataset"]["name"], config["profile"], run_pair_set(config, table))
        if key in keys:
            raise RvcbenchError(f"{keys[key]} and {run_dir} are both {key} (model × dataset × profile): a result "
                                "file holds one run; run every task in one run (`--task all`) or add them apart")
        keys[key] = run_dir
    return [add_run(d, results_root, examples_per_task) for d in run_dirs]
