"""Run one benchmark: plan → synthesize what is missing → score what is unscored → summarize.

Each phase only touches unfinished items, so a killed run resumes where it stopped, and a finished
run does nothing but rebuild and print its summary (no model is loaded).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from rvcbench.adapters.executors import close_adapter, open_adapter
from rvcbench.adapters.registry import build_registry
from rvcbench.analyses import run_analyses
from rvcbench.data import Dataset, load_dataset
from rvcbench.data.hub import data_root_from
from rvcbench.data.subsets import select_pairs
from rvcbench.environment import describe_environment, resolve_device
from rvcbench.perturb import DatasetVoices, PerturbedInputs
from rvcbench.plan import plan_items
from rvcbench.results import RunDirectory
from rvcbench.scoring.engine import score_records
from rvcbench.scoring.profiles import build_scorers, resolve_profile
from rvcbench.scoring.registry import PROFILES, SCORERS
from rvcbench.summary import known_metrics, summarize_records
from rvcbench.synthesis import synthesize
from rvcbench.tasks import DEFAULT_TASK, load_tasks, select_conditions

BYTES_PER_CLIP_ESTIMATE = 24000 * 2 * 30  # 30 s of 24 kHz 16-bit audio: generous
SHARED_INPUTS_DIR = "_inputs"  # beside the run directories: perturbed inputs shared by every model


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
    executor: str = "auto"  # auto, inprocess or worker: where the adapter runs (rvcbench.adapters.executors)
    conditions: dict[str, list[str]] | None = None  # task → a subset of its conditions (clean is always kept)
    pairs: str | None = None  # a subset of the dataset's pairs (rvcbench.data.subsets), e.g. `per_speaker=1`
    data_root: str | None = None  # where RVCBench config folders live (`--data-root`); not part of the identity


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
    return Path("runs") / f"{config.model}__{data}__{config.profile}__seed{config.seed}{task}{suffix}"


def load_run_dataset(config: RunConfig) -> Dataset:
    """The run's dataset, validated, restricted to its pair subset."""
    return select_pairs(load_dataset(config.data, data_root=data_root_from(config.data_root)), config.pairs)


def run_benchmark(config: RunConfig, out_dir: Path | None = None, *, progress: bool = True,
                  dataset: Dataset | None = None) -> RunOutcome:
    """Run (or resume) one benchmark; `dataset` may be passed when the caller loaded and validated it already."""
    started = time.perf_counter()
    profile = resolve_profile(config.profile)
    config = dataclasses.replace(config, profile=profile.name)  # a user profile file is known by its name
    registry = build_registry()
    adapter = open_adapter(config.model, registry, weights=config.weights, executor=config.executor)
    scorers = build_scorers(profile)
    all_metas = [SCORERS.get(name).meta for name in sorted({n for p in PROFILES.values() for n in p})]
    tasks = load_tasks(config.task, set(known_metrics(all_metas)),
                       noise_dir=Path(config.noise_dir).resolve() if config.noise_dir else None)
    tasks = select_conditions(tasks, config.conditions)
    dataset = dataset or load_run_dataset(config)
    items = plan_items(dataset, tasks, model=config.model, adapter_version=adapter.version, seed=config.seed,
                       limit=config.limit, output_depends_on_target=adapter.needs_target_audio)
    device = resolve_device(config.device)
    run_dir = RunDirectory(out_dir or default_run_dir(config))
    run_config = {
        **asdict(config), "device": device, "adapter_version": adapter.version, "adapter": adapter.describe(),
        "adapter_origin": registry.origin(config.model),
        "dataset": {"name": dataset.name, "source": dataset.source, "root": str(dataset.root),
                    "pairs": len(dataset.manifest), "pair_subset": config.pairs or "all",
                    "fingerprint": dataset.fingerprint},
        "dataset_fingerprint": dataset.fingerprint,
        "scorers": [{**_meta_dict(s.meta), "version": s.version, "profile_settings": spec.settings}
                    for s, spec in zip(scorers, profile.scorers, strict=True)],
        "profile_file": {"path": str(profile.path), "sha256": profile.sha256} if profile.path else None,
        "tasks": {t.name: {"family": t.family, "applies_to": t.applies_to, "metrics": list(t.metrics),
                           "conditions": {c.name: [st.as_dict() for st in c.steps] for c in t.conditions}}
                  for t in tasks},
        "environment": describe_environment(device),
    }
    run_dir.prepare(run_config, expected_bytes=len(items) * BYTES_PER_CLIP_ESTIMATE)

    to_synthesize = [it for it in items if run_dir.read_record(it.item_id) is None]
    if to_synthesize:
        adapter.load(device)
        batch_size = config.batch_size or adapter.batch_size
        with tqdm(total=len(to_synthesize), desc=f"synthesize {config.model}", unit="utt",
                  disable=not progress) as bar:
            failures = 0

            def tick(record: dict) -> None:
                nonlocal failures
                failures += record["status"] == "failed"
                bar.set_postfix(failed=failures)
                bar.update(1)

            inputs = PerturbedInputs(run_dir.root.parent / SHARED_INPUTS_DIR, run_dir.inputs, DatasetVoices(dataset))
            synthesize(adapter, to_synthesize, run_dir, model=config.model, batch_size=batch_size, inputs=inputs,
                       on_item=tick)
    close_adapter(adapter)
    del adapter

    records = [run_dir.read_record(it.item_id) for it in items]
    to_score = [r for r in records if r["status"] == "ok" and missing_scorers(r, scorers)]
    if to_score and scorers:
        groups: dict[tuple[str, ...], list[dict]] = {}
        for record in to_score:
            groups.setdefault(missing_scorers(record, scorers), []).append(record)
        needed = {name for names in groups for name in names}
        for scorer in scorers:
            if scorer.meta.name in needed:
                scorer.load(device)
        with tqdm(total=len(to_score), desc=f"score ({config.profile})", unit="utt", disable=not progress) as bar:
            for names, group in groups.items():
                score_records([s for s in scorers if s.meta.name in names], group, {it.item_id: it for it in items},
                              run_dir, on_batch=bar.update)
        records = [run_dir.read_record(it.item_id) for it in items]

    summary = summarize_records(records, [s.meta for s in scorers], seed=config.seed, tasks=tasks)
    analyses = run_analyses(tasks, items, records, run_dir, dataset, config.seed, device)  # e.g. detectability
    if analyses:
        summary["analyses"] = analyses
    summary.update({"run": {k: run_config[k] for k in ("model", "adapter", "dataset", "profile", "seed", "limit",
                                                       "pairs", "task", "tasks", "device", "scorers", "environment")}})
    run_dir.set_aside_stale({it.item_id for it in items})
    run_dir.write_table(records)
    run_dir.write_summary(summary)
    scored = len(to_score) if scorers else 0
    return RunOutcome(run_dir.root, summary, len(to_synthesize), scored, time.perf_counter() - started)


def missing_scorers(record: dict, scorers: list) -> tuple[str, ...]:
    """The profile's scorers whose current version has not scored this record yet.

    A scorer added to the profile, or a new scorer version, rescores finished runs on their next
    invocation, so a summary never mixes metric versions or reports a new metric as all failures.
    """
    done = (record.get("scorer_versions") or {}) if record.get("scored") else {}
    return tuple(s.meta.name for s in scorers if done.get(s.meta.name) != s.version)


def _meta_dict(meta) -> dict:
    return {"name": meta.name, "version": meta.version, "model": meta.model, "sample_rate": meta.sample_rate,
            "needs": sorted(meta.needs), "settings": meta.settings,
            "metrics": [m.name for m in meta.metrics]}
