"""Run one benchmark as stages: plan → synthesize → score → summarize, over any executor.

The plan lives in the run database; the driver (rvcbench.execution.driver) feeds pending work to
synthesis replicas (one per device, threads here or Ray actors on a cluster) and their clips to
scoring replicas, concurrently, and commits every finished batch. Each stage only touches unfinished
items, so a killed run resumes where it stopped, and a finished run loads no model: it re-opens
its stored plan and summary (or rebuilds the summary when records changed).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from rvcbench.adapters.executors import EXECUTORS, choose_executor
from rvcbench.adapters.registry import build_registry, create_adapter
from rvcbench.analyses import run_analyses
from rvcbench.batching import BatchLimits
from rvcbench.data import Dataset, load_dataset
from rvcbench.data.hub import data_root_from
from rvcbench.data.subsets import select_pairs
from rvcbench.environment import describe_environment, resolve_device
from rvcbench.errors import RvcbenchError
from rvcbench.execution.driver import MAX_ATTEMPTS, Driver
from rvcbench.execution.options import (
    check_devices,
    check_positive,
    in_shard,
    parse_resources,
    parse_shard,
    resolve_devices,
)
from rvcbench.execution.stages import StageSpec
from rvcbench.execution.usage import append_usage, invocation_usage, read_usage, summarize_cost
from rvcbench.model_envs import recorded_env
from rvcbench.plan import iter_planned, plan_fingerprint
from rvcbench.results import RunDirectory
from rvcbench.scoring.profiles import build_scorers, resolve_profile
from rvcbench.scoring.registry import PROFILES, SCORERS
from rvcbench.scoring.weights import overrides
from rvcbench.store import to_json
from rvcbench.summary import known_metrics, summarize_records, summary_fields
from rvcbench.tasks import DEFAULT_TASK, load_tasks, select_conditions

BYTES_PER_AUDIO_SECOND = 48000 * 2 * 2  # 48 kHz 16-bit, twice the expected duration: generous
SHARED_INPUTS_DIR = "_inputs"  # beside the run directories: perturbed inputs shared by every model
RUN_EXECUTORS = (*EXECUTORS, "ray")


@dataclass(frozen=True)
class RunConfig:
    model: str
    data: str = "demo"
    profile: str = "offline"
    seed: int = 0
    limit: int | None = None
    device: str = "auto"
    batch_size: int | None = None
    task: str = DEFAULT_TASK  # `default` (clean only), a task name, comma-separated names, or `all`
    noise_dir: str | None = None  # a folder of noise recordings: adds file-noise conditions to add_noise tasks
    weights: str | None = None  # the model's checkpoint: a local folder or a Hugging Face id (default: the adapter's)
    executor: str = "auto"  # auto, inprocess, worker (where the adapter runs, rvcbench.adapters.executors) or ray
    conditions: dict[str, list[str]] | None = None  # task → a subset of its conditions (clean is always kept)
    pairs: str | None = None  # a subset of the dataset's pairs (rvcbench.data.subsets), e.g. `per_speaker=1`
    data_root: str | None = None  # where RVCBench config folders live (`--data-root`); not part of the identity
    shard: str | None = None  # `i/n`: only this deterministic part of the items (merge the parts with `merge`)
    devices: str | None = None  # synthesis replicas, one per device: `cuda:0,cuda:1` (`cpu,cpu` as stand-ins)
    gpus: int | None = None  # N synthesis replicas on N GPUs (this machine's, or the Ray cluster's)
    score_devices: str | None = None  # scoring replicas, one per device (default: the first synthesis device)
    batch_seconds: float | None = None  # most expected audio seconds per synthesis batch (default: the adapter's)
    pipeline: bool = True  # score clips while later clips synthesize (False: all synthesis, then all scoring)
    ray_address: str | None = None  # with executor `ray`: an existing cluster (default: start a local one)
    ray_cpus_per_actor: float = 1.0  # CPUs each Ray actor asks for
    ray_resources: str | None = None  # custom Ray resources each synthesis actor asks for, `NAME=N,...`
    max_attempts: int = MAX_ATTEMPTS  # tries of a payload whose replica was lost before its items fail


# Settings that change no number (where and how fast the run executes) are not part of a run's identity.
EXECUTION_KEYS = ("device", "executor", "devices", "gpus", "score_devices", "pipeline", "ray_address",
                  "ray_cpus_per_actor", "ray_resources", "max_attempts", "data_root", "batch_size", "batch_seconds")


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    summary: dict
    synthesized: int  # items synthesized by this invocation
    scored: int  # items scored by this invocation
    seconds: float


def default_run_dir(config: RunConfig) -> Path:
    data = Path(config.data).name if Path(config.data).is_dir() else config.data.replace(":", "-")
    suffix = f"-limit{config.limit}" if config.limit else ""
    task = "" if config.task == DEFAULT_TASK else f"__{config.task.replace(',', '+')}"
    shard = f"__shard{config.shard.replace('/', 'of')}" if config.shard else ""
    return Path("runs") / f"{config.model}__{data}__{config.profile}__seed{config.seed}{task}{suffix}{shard}"


def load_run_dataset(config: RunConfig) -> Dataset:
    """The run's dataset, validated, restricted to its pair subset."""
    return select_pairs(load_dataset(config.data, data_root=data_root_from(config.data_root)), config.pairs)


@dataclass(frozen=True)
class Execution:
    """Where the stages run, decided and checked before any work."""

    kind: str  # "local" or "ray"
    placement: str  # where the adapter runs inside a replica (auto, inprocess, worker)
    devices: list[str]
    score_devices: list[str]
    shard: tuple[int, int] | None
    ray_resources: dict[str, float] | None = None
    adapter_placement: dict | None = None  # recorded with the adapter: in-process, or which worker environment


def check_execution(config: RunConfig, stack_modules: tuple[str, ...]) -> Execution:
    """Every execution option validated (an error naming the option), Ray reached when asked for."""
    if config.executor not in RUN_EXECUTORS:
        raise RvcbenchError(f"--executor {config.executor!r}: use one of {', '.join(RUN_EXECUTORS)}")
    check_positive("--limit", config.limit)
    check_positive("--batch-size", config.batch_size)
    check_positive("--batch-seconds", config.batch_seconds, integer=False)
    check_positive("--ray-cpus-per-actor", config.ray_cpus_per_actor, integer=False)
    check_positive("--max-attempts", config.max_attempts)
    shard = parse_shard(config.shard)
    on_ray = config.executor == "ray"
    if config.ray_address and not on_ray:
        raise RvcbenchError("--ray-address needs --executor ray")
    if config.devices is not None or config.gpus is not None:
        if config.device != "auto":
            raise RvcbenchError("give --device (one device) or --devices/--gpus (several), not both")
        devices = resolve_devices("auto", config.devices, config.gpus, on_ray=on_ray)
    else:
        devices = [resolve_device(config.device)] if not on_ray else [_ray_default_device(config.device)]
        check_devices(devices[0], "--device", on_ray=on_ray)
    score_devices = (check_devices(config.score_devices, "--score-devices", on_ray=on_ray)
                     if config.score_devices else devices[:1])
    placement = "auto" if on_ray else config.executor
    resources = parse_resources(config.ray_resources)
    if resources and not on_ray:
        raise RvcbenchError("--ray-resources needs --executor ray")
    if on_ray:
        from rvcbench.execution.ray_pool import connect

        connect(config.ray_address)
        where = {"kind": "ray actor", "placement": placement}
    else:  # a missing environment fails here, before any work
        kind, python = choose_executor(config.model, stack_modules, placement)
        env = recorded_env(config.model) if kind == "worker" else None
        where = {"kind": kind, "python": python or sys.executable,
                 "environment": str(env.path) if env else sys.prefix}
    return Execution("ray" if on_ray else "local", placement, devices, score_devices, shard, resources, where)


def _ray_default_device(device: str) -> str:
    return "cpu" if device == "auto" else device


def run_benchmark(config: RunConfig, out_dir: Path | None = None, *, progress: bool = True,
                  dataset: Dataset | None = None) -> RunOutcome:
    """Run (or resume) one benchmark; `dataset` may be passed when the caller loaded and validated it already."""
    started = time.perf_counter()
    profile = resolve_profile(config.profile)
    config = dataclasses.replace(config, profile=profile.name)  # a user profile file is known by its name
    registry = build_registry()
    adapter = create_adapter(config.model, registry, weights=config.weights)
    execution = check_execution(config, tuple(adapter.stack_modules))
    scorers = build_scorers(profile)
    all_metas = [SCORERS.get(name).meta for name in sorted({n for p in PROFILES.values() for n in p})]
    tasks = load_tasks(config.task, set(known_metrics(all_metas)),
                       noise_dir=Path(config.noise_dir).resolve() if config.noise_dir else None)
    tasks = select_conditions(tasks, config.conditions)
    dataset = dataset or load_run_dataset(config)
    limits = BatchLimits(config.batch_size or adapter.batch_size,
                         config.batch_seconds or getattr(adapter, "max_batch_seconds", None))
    run_dir = RunDirectory(out_dir or default_run_dir(config))
    tasks_spec = {t.name: {"family": t.family, "applies_to": t.applies_to, "metrics": list(t.metrics),
                           "conditions": {c.name: [st.as_dict() for st in c.steps] for c in t.conditions}}
                  for t in tasks}
    run_config = {
        **asdict(config), "device": ",".join(execution.devices), "adapter_version": adapter.version,
        "adapter": {**adapter.describe(), "executor": execution.adapter_placement},
        "adapter_origin": registry.origin(config.model),
        "dataset": {"name": dataset.name, "source": dataset.source, "root": str(dataset.root),
                    "pairs": len(dataset.manifest), "pair_subset": config.pairs or "all",
                    "fingerprint": dataset.fingerprint},
        "dataset_fingerprint": dataset.fingerprint,
        "scorers": [{**_meta_dict(s.meta), "version": s.version, "profile_settings": spec.settings}
                    for s, spec in zip(scorers, profile.scorers, strict=True)],
        "profile_file": {"path": str(profile.path), "sha256": profile.sha256} if profile.path else None,
        "profile_argument": profile.argument(),
        "tasks": tasks_spec,
        "execution": {"kind": execution.kind, "devices": execution.devices,
                      "score_devices": execution.score_devices, "pipeline": config.pipeline,
                      "batching": limits.as_dict()},
        "environment": describe_environment(execution.devices[0]),
    }
    try:
        run_dir.prepare(run_config)
        store = run_dir.store
        identity = {k: v for k, v in run_config.items() if k in ("model", "adapter_version", "seed", "limit",
                                                                    "noise_dir", "weights", "shard")}
        fingerprint = plan_fingerprint(dataset, {**identity, "tasks": tasks_spec,
                                                 "target_audio": adapter.needs_target_audio})
        if store.plan_fingerprint() != fingerprint:
            planned = iter_planned(dataset, tasks, model=config.model, adapter_version=adapter.version,
                                   seed=config.seed, limit=config.limit,
                                   output_depends_on_target=adapter.needs_target_audio)
            store.replace_plan((it for it in planned if in_shard(it.synth_key, execution.shard)), fingerprint)
        store.set_aside_stale()
        store.forget_lost()  # items a lost replica could not finish are done again
        if store.plan_size() > store.record_count():
            run_dir.check_room(int(store.pending_seconds() * BYTES_PER_AUDIO_SECOND))
        versions = {s.meta.name: s.version for s in scorers}
        spec = StageSpec(kind="synthesis", run_root=str(run_dir.root), model=config.model, weights=config.weights,
                         placement=execution.placement, dataset=dataset,
                         shared_inputs=str(run_dir.root.parent / SHARED_INPUTS_DIR),
                         profile=profile.argument(),
                         scorer_weights=overrides())
        driver = Driver(run_dir, synthesis_pool=lambda: _pool(execution, config, spec, execution.devices),
                        scoring_pool=lambda: _pool(execution, config, dataclasses.replace(spec, kind="scoring"),
                                                   execution.score_devices),
                        scorer_versions=versions, scorer_metrics={s.meta.name: [m.name for m in s.meta.metrics]
                                                                  for s in scorers},
                        model=config.model, limits=limits, pipeline=config.pipeline, max_attempts=config.max_attempts,
                        progress=progress)
        try:
            stats = driver.run()
        finally:  # a run that crashed still adds what this invocation spent to its cost
            if driver.stats.syntheses or driver.stats.scored:
                append_usage(run_dir.root, invocation_usage(driver.usage, driver.stats.load_seconds,
                                                            driver.stats.syntheses))
        summary = _summary(run_dir, config, run_config, scorers, tasks, dataset, versions)
        summary["timing"] = {"wall_seconds": time.perf_counter() - started, **stats.as_dict()}
        syntheses, audio_seconds, clone_seconds = store.synth_totals()
        summary["cost"] = summarize_cost(read_usage(run_dir.root), syntheses=syntheses, audio_seconds=audio_seconds,
                                         clone_seconds=clone_seconds)
        run_dir.write_summary(summary)
    finally:
        run_dir.close()
    return RunOutcome(run_dir.root, summary, stats.synthesized, stats.scored, time.perf_counter() - started)


def _pool(execution: Execution, config: RunConfig, spec: StageSpec, devices: list[str]):
    if execution.kind == "ray":
        from rvcbench.execution.ray_pool import RayPool, shape_for

        kind = "cuda" if devices[0].startswith("cuda") else "cpu"
        shape = shape_for(kind, config.ray_cpus_per_actor)
        if spec.kind == "synthesis" and execution.ray_resources:
            shape = dataclasses.replace(shape, resources=execution.ray_resources)
        return RayPool(spec, len(devices), shape)
    from rvcbench.execution.local import LocalPool

    return LocalPool(spec, devices)


def _summary(run_dir: RunDirectory, config: RunConfig, run_config: dict, scorers: list, tasks: list,
             dataset: Dataset, versions: dict) -> dict:
    """The run's summary: re-used when nothing was committed since it was made, else rebuilt from the store."""
    store = run_dir.store
    made_at = {"commits": store.commits(), "scorer_versions": versions, "stale": store.stale_count(),
               "run": json.loads(to_json({k: run_config[k] for k in SUMMARY_RUN_KEYS}))}
    if run_dir.summary_path.exists() and run_dir.table_path.exists():
        previous = run_dir.read_summary()
        if previous.get("made_at") == made_at:
            return previous
    metas = [s.meta for s in scorers]
    columns = store.record_columns(summary_fields(metas, tasks))
    table = pd.DataFrame(columns).dropna(axis=1, how="all")
    summary = summarize_records(table, metas, seed=config.seed, tasks=tasks)
    del table, columns
    analysed = [t for t in tasks if getattr(t, "analysis", None) is not None]
    if analysed:  # set-level analyses over their tasks' items only (e.g. detectability)
        names = {t.name for t in analysed}
        items = [it for chunk in store.iter_plan() for it in chunk if any(m[0] in names for m in it.memberships)]
        records = [store.record(it.item_id) for it in items]
        analyses = run_analyses(tasks, items, [r for r in records if r is not None], run_dir, dataset, config.seed,
                                run_config["execution"]["score_devices"][0])
        if analyses:
            summary["analyses"] = analyses
    summary["run"] = made_at["run"]
    summary["made_at"] = made_at
    run_dir.write_table()
    return summary


SUMMARY_RUN_KEYS = ("model", "adapter", "dataset", "profile", "seed", "limit", "pairs", "task", "tasks", "device",
                    "scorers", "environment", "shard", "execution")


def _meta_dict(meta) -> dict:
    return {"name": meta.name, "version": meta.version, "model": meta.model, "sample_rate": meta.sample_rate,
            "needs": sorted(meta.needs), "settings": meta.settings,
            "metrics": [m.name for m in meta.metrics]}
