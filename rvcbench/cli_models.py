"""Command-line commands for model authors and operators: environments, scaffolding, conformance.

    rvcbench env create|list|check MODEL     one virtual environment per model (rvcbench.model_envs)
    rvcbench new-adapter NAME                models/NAME/ from the template (rvcbench.adapters.scaffold)
    rvcbench check-adapter MODEL             the conformance checks (rvcbench.adapters.conformance)

Registered on the main `rvcbench` group at the end of rvcbench/cli.py; thin wrappers, no logic of their own.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click


@click.group("env")
def env() -> None:
    """Each model's own virtual environment: create it, list them, check one."""


@env.command("create")
@click.argument("model")
@click.option("--python", "python", default=None,
              help="Interpreter (path or, with uv, a version such as 3.10) for the environment; default: this one.")
@click.option("--installer", type=click.Choice(["uv", "pip"]), default=None,
              help="Default: uv when it is on PATH, else venv + pip.")
@click.option("--dry-run", is_flag=True, help="Print the commands, run nothing.")
@click.option("--force", is_flag=True, help="Rebuild an environment that exists already.")
def env_create(model: str, python: str | None, installer: str | None, dry_run: bool, force: bool) -> None:
    """Create MODEL's environment from models/MODEL/requirements.txt (plus rvcbench) and record it."""
    from rvcbench.adapters.registry import build_registry
    from rvcbench.model_envs import check_modules, create_env, plan_create, requirements_file

    registry = build_registry()
    requirements = requirements_file(model, registry.target(model), registry.origin(model))
    plan = plan_create(model, requirements, python=python, installer=installer)
    if dry_run:
        click.echo(f"# would create {plan.env_path} with {plan.installer}:")
        for command in plan.commands:
            click.echo(shlex.join(command))
        return
    created = create_env(plan, force=force, echo=click.echo)
    click.echo(f"recorded the environment of {model}: {created.path} (Python {created.python_version})")
    _report(check_modules(created.python, _modules(registry.get(model))))


@env.command("list")
def env_list() -> None:
    """The recorded environments: model, path, Python version, created, ok or broken."""
    from rvcbench.model_envs import envs_dir, recorded_envs

    envs = recorded_envs()
    if not envs:
        click.echo(f"no environments recorded in {envs_dir()}; create one with `rvcbench env create MODEL`")
        return
    click.echo(f"{'model':<16} {'python':<8} {'created':<26} {'status':<7} path")
    for name, found in sorted(envs.items()):
        click.echo(f"{name:<16} {found.python_version:<8} {found.created:<26} "
                   f"{'ok' if found.ok else 'broken':<7} {found.path}")


@env.command("check")
@click.argument("model")
def env_check(model: str) -> None:
    """Import MODEL's stack in its environment (or here, when none is recorded) and report what is missing."""
    from rvcbench.adapters.registry import build_registry
    from rvcbench.model_envs import check_modules, recorded_env

    cls = build_registry().get(model)
    found = recorded_env(model)
    python = found.python if found else sys.executable
    where = f"its environment {found.path}" if found else f"this environment {sys.prefix} (none recorded for it)"
    click.echo(f"checking {model} in {where}")
    if not _report(check_modules(python, _modules(cls))):
        sys.exit(1)


def _modules(cls: type) -> list[str]:
    """The adapter's stack, plus what the worker itself needs."""
    return [*cls.stack_modules, "rvcbench.adapters.worker"]


def _report(checks: list) -> bool:
    for check in checks:
        state = "ok" if check.ok else "MISSING"
        version = check.version or "not installed"
        click.echo(f"  {check.module:<28} {state:<8} {version:<14} {check.error}")
    missing = [c.module for c in checks if not c.ok]
    click.echo(f"missing: {', '.join(missing)}" if missing else "every module imports")
    return not missing


@click.command("new-adapter")
@click.argument("name")
@click.option("--dir", "models_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where model folders live (default: the checkout's models/, else ./models).")
def new_adapter(name: str, models_dir: Path | None) -> None:
    """Scaffold models/NAME/ (adapter.py, requirements.txt, README.md) from the documented template."""
    from rvcbench.adapters.scaffold import scaffold_adapter

    for path in scaffold_adapter(name, models_dir):
        click.echo(f"wrote {path}")
    click.echo(f"next: fill in the TODOs (guide: docs/adding-a-model.md), then `rvcbench check-adapter {name}`")


@click.command("check-adapter")
@click.argument("model")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ...")
@click.option("--executor", type=click.Choice(["auto", "inprocess", "worker"]), default="auto", show_default=True,
              help="Where the model runs (as for `rvcbench run`).")
@click.option("--weights", default=None, help="The model's checkpoint: a local folder or a Hugging Face id.")
@click.option("--random-weights", is_flag=True,
              help="Run models/MODEL/random_weight_check.py instead: the upstream code with random weights, through "
                   "the worker in the model's environment; writes models/MODEL/random_weight_check.json.")
@click.option("--python", "python", default=None,
              help="With --random-weights: the interpreter of the environment to use (default: the recorded one).")
def check_adapter(model: str, device: str, executor: str, weights: str | None, random_weights: bool,
                  python: str | None) -> None:
    """Run the conformance checks every adapter must pass; exits 1 when one fails."""
    from rvcbench.adapters.conformance import format_row, run_checks

    if random_weights:
        _check_random_weights(model, "cpu" if device == "auto" else device, python)
        return
    from rvcbench.adapters.executors import close_adapter, open_adapter
    from rvcbench.environment import resolve_device

    adapter = open_adapter(model, weights=weights, executor=executor)
    click.echo(f"{'check':<18} {'':<5} detail")
    try:
        results = run_checks(adapter, resolve_device(device), on_result=lambda r: click.echo(format_row(r)))
    finally:
        close_adapter(adapter)
    failed = [r.check for r in results if r.passed is False]
    click.echo(f"{model}: {len(results) - len(failed)} of {len(results)} checks passed"
               + (f"; failed: {', '.join(failed)}" if failed else ""))
    if failed:
        sys.exit(1)


def _check_random_weights(model: str, device: str, python: str | None) -> None:
    from rvcbench.adapters.conformance import format_row
    from rvcbench.adapters.random_weights import check_file_of, run_random_weight_check, write_record

    click.echo(f"{'check':<18} {'':<5} detail")
    report = run_random_weight_check(model, python=python, device=device,
                                     on_result=lambda r: click.echo(format_row(r)))
    path = write_record(report, check_file_of(model))
    failed = [r.check for r in report.results if r.passed is False]
    click.echo(f"{model} (random weights, {report.record['seconds']:g} s): "
               f"{len(report.results) - len(failed)} of {len(report.results)} checks passed"
               + (f"; failed: {', '.join(failed)}" if failed else "") + f"; recorded in {path}")
    if failed:
        sys.exit(1)
