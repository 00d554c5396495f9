"""The `rvcbench` command line: thin click commands over the engine, no logic of their own."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rvcbench.errors import RvcbenchError


class FriendlyGroup(click.Group):
    """Print RvcbenchError as one clear message (no traceback) and exit 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RvcbenchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=FriendlyGroup)
@click.version_option(package_name="rvcbench")
def main() -> None:
    """rvcbench: how robust is a voice-cloning model when deployment conditions shift?"""


@main.command()
@click.option("--model", "-m", required=True, help="Adapter name (see `rvcbench models`).")
@click.option("--data", "-d", default="demo", show_default=True,
              help="`demo`, `rvcbench:<Config>` (Hugging Face), or a local folder (see `rvcbench data`).")
@click.option("--profile", default="offline", show_default=True,
              help="Scorer profile (see `rvcbench profiles`), or a path to your own profile YAML file.")
@click.option("--scorer-weights", multiple=True, metavar="NAME=PATH",
              help="A scorer's checkpoint folder or file (e.g. whisper_medium=/models/faster-whisper-medium); "
                   "repeat for several. Default: the local Hugging Face cache.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Run directory (default: runs/<model>__<data>__<profile>__seed<seed>).")
@click.option("--seed", default=0, show_default=True, help="Run seed: per-item seeds and bootstrap derive from it.")
@click.option("--seeds", default=None, metavar="S,S,...",
              help="One run per seed (DIR/seed-<s>) and the between-seed SD of every metric (DIR/seeds.json).")
@click.option("--limit", type=int, default=None, help="Only the first N pairs of the manifest.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ...")
@click.option("--batch-size", type=int, default=None, help="Override the adapter's preferred batch size.")
@click.option("--task", "-t", default="default", show_default=True,
              help="`default` (every pair, clean), a task name (see `rvcbench tasks`), names joined by commas, "
                   "or `all`.")
@click.option("--noise-dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="A folder of noise recordings (e.g. DEMAND, MUSAN): adds file-noise conditions to noisy-reference.")
@click.option("--weights", default=None,
              help="The model's checkpoint: a local folder or a Hugging Face id (default: the adapter's own id).")
@click.option("--executor", type=click.Choice(["auto", "inprocess", "worker", "ray"]), default="auto",
              show_default=True,
              help="Where the model runs: auto (here when its stack imports, else a worker in its environment "
                   "from `rvcbench env create`), inprocess, worker, or ray (replicas as actors of a Ray cluster).")
@click.option("--devices", default=None,
              help="One synthesis replica per device, e.g. cuda:0,cuda:1 (cpu,cpu: CPU stand-ins).")
@click.option("--gpus", type=int, default=None, help="N synthesis replicas on N GPUs (the Ray cluster's with ray).")
@click.option("--score-devices", default=None,
              help="One scoring replica per device (default: the first synthesis device).")
@click.option("--batch-seconds", type=float, default=None,
              help="Most expected audio seconds per synthesis batch (default: the adapter's budget, if any).")
@click.option("--no-pipeline", is_flag=True,
              help="Synthesize everything, then score (default: score clips while later ones synthesize).")
@click.option("--shard", default=None, help="i/n: only this part of the items (SLURM arrays; join with `merge`).")
@click.option("--ray-address", default=None,
              help="With --executor ray: the cluster to join (auto, host:port); default: a new local cluster.")
@click.option("--ray-cpus-per-actor", type=float, default=1.0, show_default=True,
              help="With --executor ray: CPUs each replica actor asks for.")
@click.option("--ray-resources", default=None, metavar="NAME=N,...",
              help="With --executor ray: custom resources each synthesis actor asks for (places it on such nodes).")
@click.option("--pairs", default=None,
              help="A subset of the pairs: `per_speaker=N`, `speakers=N`, or both joined by a comma.")
@click.option("--protocol", "-p", default=None,
              help="Run every evaluation of a protocol (see `rvcbench protocols`), each on its own data.")
@click.option("--evaluation", "-e", default=None, help="With --protocol: only these evaluations (comma-separated).")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A folder holding RVCBench config folders (<Config>/metadata.parquet), e.g. copied from a "
                   "machine with network; default: RVCBENCH_DATA_ROOT, else the Hugging Face cache.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def run(ctx: click.Context, model: str, data: str, profile: str, scorer_weights: tuple[str, ...], out: Path | None,
        seed: int, seeds: str | None, limit: int | None, device: str, batch_size: int | None, task: str,
        noise_dir: str | None, weights: str | None, executor: str, devices: str | None, gpus: int | None,
        score_devices: str | None,
        batch_seconds: float | None, no_pipeline: bool, shard: str | None, ray_address: str | None,
        ray_cpus_per_actor: float, ray_resources: str | None, pairs: str | None, protocol: str | None,
        evaluation: str | None, data_root: Path | None, quiet: bool) -> None:
    """Clone every pair of a dataset with MODEL, score the clips, print and save the summary.

    With --protocol, run every evaluation of a published benchmark instead, each on its own dataset.
    Rerunning the same command resumes an interrupted run; on a finished run it only prints the summary.
    """
    from rvcbench.data.subsets import parse_pairs
    from rvcbench.runner import RunConfig, run_benchmark
    from rvcbench.scoring.weights import parse_overrides, set_overrides
    from rvcbench.summary import format_summary

    parse_pairs(pairs)
    set_overrides(parse_overrides(scorer_weights))
    config = RunConfig(model=model, data=data, profile=profile, seed=seed, limit=limit, device=device,
                       batch_size=batch_size, task=task, noise_dir=noise_dir, weights=weights,
                       executor=executor, pairs=pairs, data_root=str(data_root) if data_root else None,
                       devices=devices, gpus=gpus, score_devices=score_devices, batch_seconds=batch_seconds,
                       pipeline=not no_pipeline, shard=shard, ray_address=ray_address,
                       ray_cpus_per_actor=ray_cpus_per_actor, ray_resources=ray_resources)
    if seeds is not None:
        _run_seeds(ctx, config, seeds, out, quiet, protocol)
        return
    if protocol:
        _run_protocol(ctx, config, protocol, evaluation, out, quiet)
        return
    if evaluation:
        raise click.UsageError("--evaluation selects evaluations of a --protocol")
    outcome = run_benchmark(config, out, progress=not quiet)
    title = f"{model} on {data} (scorer profile {profile}, seed {seed})"
    click.echo(format_summary(outcome.summary, title))
    click.echo(f"this invocation: synthesized {outcome.synthesized}, scored {outcome.scored}, "
               f"{outcome.seconds:.1f} s; run directory: {outcome.run_dir}")


def _run_seeds(ctx: click.Context, config, seeds: str, out: Path | None, quiet: bool, protocol: str | None) -> None:
    from rvcbench.seed_group import format_seed_variation, parse_seeds, run_seed_group
    from rvcbench.summary import format_summary

    if ctx.get_parameter_source("seed") == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("give either --seed or --seeds")
    if protocol:
        raise click.UsageError("--seeds runs one configuration per seed; run a --protocol once per --seed instead")
    outcome = run_seed_group(config, parse_seeds(seeds), out, progress=not quiet)
    first = min(outcome.runs, key=list(outcome.runs).index)
    click.echo(format_summary(outcome.runs[first].summary, f"{config.model} on {config.data} (scorer profile "
                                                           f"{config.profile}, seed {first} of {seeds})"))
    click.echo("")
    click.echo(format_seed_variation(outcome.group))
    click.echo(f"seed group directory: {outcome.out_dir} (one run per seed; seeds.json)")


@main.command("seed-group")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def seed_group(folder: Path) -> None:
    """Write FOLDER/seeds.json for finished runs made with different --seed and moved into FOLDER.

    The same as `run --seeds` writes: per metric each seed's mean and the between-seed SD; `leaderboard add
    FOLDER` then records the first seed's run with them.
    """
    from rvcbench.seed_group import format_seed_variation, group_existing_runs

    click.echo(format_seed_variation(group_existing_runs(folder)))
    click.echo(f"wrote {folder / 'seeds.json'}")


def _run_protocol(ctx: click.Context, config, protocol: str, evaluation: str | None, out: Path | None,
                  quiet: bool) -> None:
    from rvcbench.protocol_run import format_protocol, run_protocol
    from rvcbench.protocols import load_protocol

    clashing = [f"--{name.replace('_', '-')}" for name in ("data", "task", "limit", "pairs", "noise_dir")
                if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
    if clashing:
        raise click.UsageError(f"--protocol decides the data, tasks and pairs of each evaluation; drop "
                               f"{', '.join(clashing)}")
    spec = load_protocol(protocol)
    outcome = run_protocol(spec, config, out, evaluations=evaluation, progress=not quiet)
    click.echo(format_protocol(outcome.report))
    click.echo(f"this invocation: synthesized {outcome.synthesized}, scored {outcome.scored}; "
               f"protocol directory: {outcome.out_dir}")


@main.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path), help="The merged run directory.")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where RVCBench config folders live, as for `run`.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def merge(run_dirs: tuple[Path, ...], out: Path, data_root: Path | None, quiet: bool) -> None:
    """Join the shards of one run (`run --shard i/n`) into one run directory with one summary."""
    from rvcbench.merge import merge_runs
    from rvcbench.summary import format_summary

    outcome = merge_runs(list(run_dirs), out, data_root=str(data_root) if data_root else None,
                         progress=not quiet)
    click.echo(format_summary(outcome.summary, f"merged {len(run_dirs)} shards"))
    click.echo(f"run directory: {outcome.run_dir}")


@main.command()
def models() -> None:
    """List the adapters rvcbench can run, with what each needs."""
    from rvcbench.adapters.registry import build_registry

    registry = build_registry()
    for name in registry.names():
        try:
            cls = registry.get(name)
            needs = cls.requirements or "(not declared)"
            description = cls.description
        except ImportError as exc:  # a plugin whose own module does not import: show why, keep listing
            needs, description = f"cannot import: {exc}", ""
        click.echo(f"{name:<14} {description}")
        click.echo(f"{'':<14} needs: {needs}  [{registry.origin(name)}]")


@main.command()
@click.argument("names", nargs=-1)
def profiles(names: tuple[str, ...]) -> None:
    """List the scorer profiles with every scorer, its model id, version and settings (or only NAMES)."""
    from rvcbench.scoring.profiles import build_scorers, resolve_profile
    from rvcbench.scoring.registry import PROFILES

    for name in names or PROFILES:
        profile = resolve_profile(name)
        click.echo(f"{profile.name}: {profile.description}")
        if profile.reference:
            click.echo(f"  reproduces: {profile.reference}")
        for scorer, spec in zip(build_scorers(profile), profile.scorers, strict=True):
            meta = scorer.meta
            settings = {**meta.settings, **spec.settings}
            click.echo(f"  - {meta.name} {scorer.version}")
            click.echo(f"      model: {meta.model}")
            click.echo(f"      metrics: {', '.join(m.name for m in meta.metrics if not m.auxiliary)}")
            if settings:
                click.echo(f"      settings: {settings}")
        click.echo("")


@main.command()
@click.option("--profile", default="offline", show_default=True, help="Scorer profile (name or YAML file).")
@click.option("--data", "-d", default="demo", show_default=True, help="Dataset, as for `run`.")
@click.option("--pairs", default=None, help="A pair subset, as for `run`.")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--scorer-weights", multiple=True, metavar="NAME=PATH")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("leaderboard/calibration"),
              show_default=True, help="Where the calibration file goes (the leaderboard reads it from there).")
@click.option("--quiet", is_flag=True)
def calibrate(profile: str, data: str, pairs: str | None, data_root: Path | None, seed: int, device: str,
              scorer_weights: tuple[str, ...], out: Path, quiet: bool) -> None:
    """Score real recordings with a profile: the same-speaker ceiling and the other-speaker floor of each metric."""
    from rvcbench.calibration import calibrate as run_calibration
    from rvcbench.calibration import format_calibration
    from rvcbench.runner import RunConfig
    from rvcbench.scoring.weights import parse_overrides, set_overrides

    set_overrides(parse_overrides(scorer_weights))
    config = RunConfig(model="oracle", data=data, profile=profile, seed=seed, device=device, pairs=pairs,
                       data_root=str(data_root) if data_root else None)
    path, report = run_calibration(config, out, progress=not quiet)
    click.echo(format_calibration(report))
    click.echo(f"written: {path}")


@main.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--alpha", default=0.05, show_default=True, help="Significance level, after Holm within each task.")
@click.option("--resamples", default=2000, show_default=True, help="Bootstrap draws and sign-flip draws.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the comparison as JSON to this file.")
def compare(run_dirs: tuple[Path, ...], alpha: float, resamples: int, seed: int, json_out: Path | None) -> None:
    """Is run A really better than run B? Paired differences, CIs and corrected tests per task × condition × metric."""
    from rvcbench.compare import compare_runs, format_comparison
    from rvcbench.results import write_json_atomic

    if not 0 < alpha < 1 or resamples < 1:
        raise click.UsageError("--alpha must be in (0, 1) and --resamples at least 1")
    result = compare_runs(list(run_dirs), alpha=alpha, resamples=resamples, seed=seed)
    click.echo(format_comparison(result))
    if json_out:
        write_json_atomic(json_out, result)
        click.echo(f"written: {json_out}")


@main.command()
def protocols() -> None:
    """List the protocols (protocols/*.yaml): published benchmarks as evaluations over datasets and tasks."""
    from rvcbench.protocols import discover_protocols, load_protocol

    for name in discover_protocols():
        protocol = load_protocol(name)
        first_line = protocol.description.splitlines()[0] if protocol.description else ""
        click.echo(f"{name:<14} v{protocol.version}: {first_line}")
        for e in protocol.evaluations:
            what = e.task + (f" ({len(e.conditions)} conditions)" if e.conditions else "")
            click.echo(f"  {e.name:<28} [{e.family}] {e.data}, {what}, pairs {e.pairs}")


@main.command()
@click.option("--evaluation", "-e", default=None, help="Only the table this evaluation of rvcbench-v2 is set beside.")
@click.option("--protocol", "-p", default="rvcbench-v2", show_default=True)
def paper(evaluation: str | None, protocol: str) -> None:
    """Print a paper's published numbers, stored with their source (paper version, table, upstream commit)."""
    from rvcbench.protocols import load_protocol, load_published
    from rvcbench.published import format_published

    spec = load_protocol(protocol)
    if not spec.published:
        raise click.UsageError(f"protocol {protocol} has no published numbers")
    published = load_published(spec.published, spec.path)
    tables = None
    if evaluation:
        ref = spec.evaluation(evaluation).published
        if ref is None:
            raise click.UsageError(f"evaluation {evaluation} has no published numbers in {protocol}")
        tables = [ref.table]
        click.echo(f"evaluation {evaluation}: table {ref.table}" + (f", column {ref.column}" if ref.column else ""))
    click.echo(format_published(published, tables))


@main.command()
def tasks() -> None:
    """List the robustness tasks (task specs under tasks/<family>/), with their conditions."""
    from rvcbench.scoring.registry import PROFILES, SCORERS
    from rvcbench.summary import known_metrics
    from rvcbench.tasks import discover_tasks, load_task

    metas = [SCORERS.get(n).meta for n in sorted({n for p in PROFILES.values() for n in p})]
    for name, path in discover_tasks().items():
        task = load_task(path, set(known_metrics(metas)))
        click.echo(f"{name:<26} [{task.family}] {task.description.splitlines()[0] if task.description else ''}")
        click.echo(f"{'':<26} {len(task.conditions)} conditions (clean included), metrics: {', '.join(task.metrics)}")


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def summary(run_dir: Path) -> None:
    """Print the summary of a finished run directory."""
    from rvcbench.results import RunDirectory
    from rvcbench.summary import format_summary

    click.echo(format_summary(RunDirectory(run_dir).read_summary(), str(run_dir)))


from rvcbench.leaderboard.cli import leaderboard  # noqa: E402

main.add_command(leaderboard)

from rvcbench.cli_models import check_adapter, env, model_checks, new_adapter  # noqa: E402

main.add_command(env)
main.add_command(new_adapter)
main.add_command(check_adapter)
main.add_command(model_checks)

from rvcbench.cli_data import data  # noqa: E402

main.add_command(data)

from rvcbench.cli_listen import listen  # noqa: E402

main.add_command(listen)
