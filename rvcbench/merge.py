"""Join the shards of one run (`run --shard i/n`, e.g. a SLURM job array) into one run directory.

Refused, with every difference listed, unless the directories are the n shards of one run: the same
identity settings (model, adapter version, data, profile, seed, tasks, pairs, ...), each shard
once, none missing, each finished. The merged directory then holds every record and clip, and its
summary is made by the same code as an unsharded run's, from the same records: the same numbers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

from rvcbench.errors import RvcbenchError
from rvcbench.execution.options import parse_shard
from rvcbench.execution.usage import append_usage, read_usage
from rvcbench.results import IDENTITY_KEYS, RunDirectory
from rvcbench.runner import RunConfig, RunOutcome, run_benchmark
from rvcbench.store import STORE_FILE, RunStore

COMPARED = tuple(k for k in (*IDENTITY_KEYS, "scorers") if k != "shard")


def merge_runs(run_dirs: list[Path], out: Path, *, data_root: str | None = None, progress: bool = True) -> RunOutcome:
    configs = [_config(d) for d in run_dirs]
    _check_shards(run_dirs, configs)
    if (out / STORE_FILE).exists() or (out.exists() and any(out.iterdir())):
        raise RvcbenchError(f"--out {out} is not empty; merge into a new directory")
    merged = RunDirectory(out)
    try:
        for run_dir in run_dirs:
            merged.store.absorb(run_dir / STORE_FILE)
            for folder in ("clips", "inputs"):
                _link_tree(run_dir / folder, out / folder)
            for invocation in read_usage(run_dir):  # the shards' cost is the merged run's cost
                append_usage(out, invocation)
    finally:
        merged.close()
    first = configs[0]
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    config = RunConfig(**{k: v for k, v in first.items() if k in fields})
    profile = first.get("profile_argument") or first["profile"]  # a user profile by its file
    config = dataclasses.replace(config, profile=profile, shard=None, executor="inprocess", devices=None, gpus=None,
                                 score_devices=None, device="cpu", ray_address=None, ray_resources=None,
                                 data_root=data_root or first.get("data_root"))
    return run_benchmark(config, out, progress=progress)  # every record is there: it only summarises


def _config(run_dir: Path) -> dict:
    path = run_dir / "config.json"
    if not path.exists():
        raise RvcbenchError(f"{run_dir} is not a run directory (no config.json)")
    return json.loads(path.read_text())


def _check_shards(run_dirs: list[Path], configs: list[dict]) -> None:
    problems = []
    shards = []
    for run_dir, config in zip(run_dirs, configs, strict=True):
        if not config.get("shard"):
            problems.append(f"{run_dir} is not a shard (it ran without --shard)")
            continue
        shards.append((run_dir, parse_shard(config["shard"])))
    counts = sorted({n for _, (_, n) in shards})
    if len(counts) > 1:
        problems.append("the shards split the run differently: " + ", ".join(f"{d} is {i}/{n}" for d, (i, n) in shards))
    elif counts:
        seen: dict[int, Path] = {}
        for run_dir, (index, _) in shards:
            if index in seen:
                problems.append(f"shard {index}/{counts[0]} given twice: {seen[index]} and {run_dir}")
            seen[index] = run_dir
        missing = sorted(set(range(counts[0])) - set(seen))
        if missing:
            problems.append(f"missing shard(s) {', '.join(f'{i}/{counts[0]}' for i in missing)}")
    for key in COMPARED:
        values = {json.dumps(c.get(key), sort_keys=True) for c in configs}
        if len(values) > 1:
            problems.append(f"{key} differs: " + "; ".join(f"{d}: {json.dumps(c.get(key), sort_keys=True)[:120]}"
                                                           for d, c in zip(run_dirs, configs, strict=True)))
    for run_dir in run_dirs:
        store = RunStore(run_dir / STORE_FILE, readonly=True)
        try:
            unfinished = store.plan_size() - store.record_count()
        finally:
            store.close()
        if unfinished:
            problems.append(f"{run_dir} is not finished ({unfinished} items without a record): rerun its command")
    if problems:
        raise RvcbenchError("cannot merge these runs:\n  " + "\n  ".join(problems))


def _link_tree(source: Path, destination: Path) -> None:
    """Hard-link every file (copy across file systems); the shard directories stay as they were."""
    if not source.is_dir():
        return
    for path in source.rglob("*"):
        if path.is_file():
            target = destination / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                continue
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
