"""Command-line commands for model authors and operators: environments, scaffolding, conformance.

    rvcbench env create|list|check MODEL     one virtual environment per model (rvcbench.model_envs)
    rvcbench new-adapter NAME                models/NAME/ from the template (rvcbench.adapters.scaffold)
    rvcbench check-adapter MODEL             the conformance checks (rvcbench.adapters.conformance)

Registered on the main `rvcbench` group at the end of rvcbench/cli.py; thin wrappers, no logic of their own.
"""

from __future__ import annotations

import os
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
@click.option("--shared-torch", is_flag=True,
              help="Read this environment's torch and torchaudio from one shared folder instead of installing the "
                   "pinned torch (saves gigabytes per model; the replaced pins are recorded).")
@click.option("--with-upstream", is_flag=True,
              help="Also clone the upstream checkout at its pinned commit (models that run from a clone).")
@click.option("--with-weights", is_flag=True,
              help="Also download the model's weights (and the extra ones its load reads) into the weights store.")
@click.option("--weights-from", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="With --with-weights: copy from this folder of <org>/<name>/ repositories instead of the Hub.")
@click.option("--dry-run", is_flag=True, help="Print the commands, run nothing.")
@click.option("--force", is_flag=True, help="Rebuild an environment (and checkout) that exists already.")
def env_create(model: str, python: str | None, installer: str | None, shared_torch: bool, with_upstream: bool,
               with_weights: bool, weights_from: Path | None, dry_run: bool, force: bool) -> None:
    """Create MODEL's environment from models/MODEL/requirements.txt (plus rvcbench) and record it.

    With --with-upstream and --with-weights, everything `rvcbench run --model MODEL` needs is then in place, with
    no environment variable set by hand. When the environment exists already (and no --force), only the checkout
    and weights asked for are added.
    """
    from rvcbench import weights_store
    from rvcbench.adapters.registry import build_registry
    from rvcbench.model_envs import check_modules, create_env, plan_create, recorded_env, requirements_file

    registry = build_registry()
    cls = registry.get(model)
    requirements = requirements_file(model, registry.target(model), registry.origin(model))
    checkout = cls.checkout if with_upstream else None
    if with_upstream and checkout is None:
        click.echo(f"{model} runs from its installed package: no upstream checkout to clone")
    weight_ids = [cls.weights_id, *cls.extra_weights] if with_weights else []
    for local in [w for w in weight_ids if w and not weights_store.is_hub_id(w)]:
        click.echo(f"{model}: its weights {local} are not on the Hugging Face Hub: fetch them as "
                   f"models/{model}/README.md says (not downloaded here)")
    weight_ids = [w for w in weight_ids if w and weights_store.is_hub_id(w)]
    plan = plan_create(model, requirements, python=python, installer=installer, shared_torch=shared_torch,
                       checkout=checkout)
    if dry_run:
        click.echo(f"# would create {plan.env_path} with {plan.installer}:")
        for path in plan.files:
            click.echo(f"# write {path}")
        for command in plan.commands:
            click.echo(shlex.join(command))
        for repo_id in weight_ids:
            click.echo(f"# download {repo_id}" + (f" from {weights_from}" if weights_from else " from the Hub"))
        return
    existing = recorded_env(model)
    if existing and plan.env_path.exists() and not force and (checkout or weight_ids):
        click.echo(f"{model}: the environment {existing.path} exists (rebuild it with --force); adding the rest")
        _add_checkout(model, plan, existing)
    else:
        created = create_env(plan, force=force, echo=click.echo)
        click.echo(f"recorded the environment of {model}: {created.path} (Python {created.python_version})")
        _report(check_modules(created.python, _modules(cls)))
    _download_weights(weight_ids, weights_from)


def _add_checkout(model: str, plan, existing) -> None:
    """Clone the upstream beside an existing environment and record it there."""
    import subprocess

    from rvcbench.model_envs import record_env

    if plan.checkout is None:
        return
    if plan.checkout.exists():
        click.echo(f"the checkout {plan.checkout} exists already (rebuild both with --force)")
    else:
        for command in plan.commands[-3:]:
            click.echo("$ " + shlex.join(command))
            if subprocess.run(command).returncode != 0:
                raise click.ClickException(f"cloning the upstream of {model} failed at: {shlex.join(command)}")
    record_env(model, Path(existing.path), installer=existing.installer,
               requirements=Path(existing.requirements) if existing.requirements else None,
               checkout=plan.checkout, notes=existing.notes)
    click.echo(f"recorded the checkout of {model}: {plan.checkout}")


def _download_weights(repo_ids: list[str], source: Path | None) -> None:
    from rvcbench import weights_store

    for repo_id in repo_ids:
        found = weights_store.download(repo_id, source=source, echo=click.echo)
        click.echo(f"  {repo_id}: {found.files} files, {found.bytes / 1e6:.1f} MB, sha256 {found.sha256[:16]} "
                   f"in {found.path}")


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
@click.option("--rehash", is_flag=True, help="Recompute the weights' SHA-256 (slow for large checkpoints).")
def env_check(model: str, rehash: bool) -> None:
    """MODEL's environment (its stack imports), its upstream checkout and its weights, in one table; exit 1 if short."""
    from rvcbench.adapters.registry import build_registry
    from rvcbench.model_envs import check_modules, checkout_state, recorded_env, weights_state

    cls = build_registry().get(model)
    found = recorded_env(model)
    python = found.python if found else sys.executable
    where = f"its environment {found.path}" if found else f"this environment {sys.prefix} (none recorded for it)"
    click.echo(f"checking {model} in {where}")
    for note in found.notes if found else ():
        click.echo(f"  note: {note}")
    good = _report(check_modules(python, _modules(cls)))
    rows = []
    if cls.checkout is not None:
        rows.append(checkout_state(model, cls.checkout))
    rows += [weights_state(repo_id, model, rehash) for repo_id in (cls.weights_id, *cls.extra_weights) if repo_id]
    width = max([len(part) for part, _, _ in rows] + [28])
    if rows:
        click.echo(f"  {'part':<{width}} {'state':<8} detail")
    for part, ok, detail in rows:
        click.echo(f"  {part:<{width}} {'ok' if ok else 'MISSING':<8} {detail}")
        good &= ok
    if not good:
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

    check_file = check_file_of(model)  # a model without a check is refused before anything starts
    os.environ.setdefault("TQDM_DISABLE", "1")  # upstream progress bars, inherited by the worker
    click.echo(f"{'check':<18} {'':<5} detail")
    report = run_random_weight_check(model, python=python, device=device,
                                     on_result=lambda r: click.echo(format_row(r)))
    path = write_record(report, check_file)
    failed = [r.check for r in report.results if r.passed is False]
    click.echo(f"{model} (random weights, {report.record['seconds']:g} s): "
               f"{len(report.results) - len(failed)} of {len(report.results)} checks passed"
               + (f"; failed: {', '.join(failed)}" if failed else "") + f"; recorded in {path}")
    if failed:
        sys.exit(1)


@click.command("model-checks")
@click.option("--write", is_flag=True, help="Write docs/model-checks.md instead of printing it.")
def model_checks(write: bool) -> None:
    """The generated table of what was checked for each model (docs/model-checks.md)."""
    from rvcbench.adapters.checks_table import DOC, render

    text = render()
    if write:
        DOC.write_text(text, encoding="utf-8")
        click.echo(f"wrote {DOC}")
    else:
        click.echo(text, nl=False)
