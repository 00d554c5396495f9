"""`rvcbench data ...`: list, fetch, verify and describe datasets (thin commands over rvcbench.data)."""

from __future__ import annotations

from pathlib import Path

import click

from rvcbench.errors import DatasetError


@click.group(invoke_without_command=True)
@click.pass_context
def data(ctx: click.Context) -> None:
    """The datasets rvcbench can load: the embedded demo, the 10 RVCBench configs, any folder."""
    if ctx.invoked_subcommand:
        return
    from rvcbench.data.loaders import known_datasets

    for info in known_datasets():
        click.echo(f"{info.name:<28} {info.description}")
        click.echo(f"{'':<28} needs: {info.needs}")


@data.command()
@click.argument("configs", nargs=-1, required=True)
@click.option("--to", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Download into DIR/<Config>/ (default: the Hugging Face cache); pass DIR as --data-root later.")
def fetch(configs: tuple[str, ...], to: Path | None) -> None:
    """Download RVCBench configs (names, or `all`) and write each folder's lock file (sha256 of every file).

    Partial downloads resume when the command is run again.
    """
    from rvcbench.data.hub import fetch_configs

    for fetched in fetch_configs(list(configs), to):
        click.echo(f"{fetched.config:<20} {fetched.files} files, {fetched.bytes / 1e6:.1f} MB, "
                   f"locked: {fetched.folder}")


@data.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--quick", is_flag=True, help="Check presence and sizes only, not the sha256 of every file.")
def verify(folder: Path, quick: bool) -> None:
    """Re-check a fetched config folder (or a folder of config folders) against its lock file."""
    from rvcbench.data.lock import LOCK_NAME, verify_lock

    folders = [folder] if (folder / LOCK_NAME).is_file() else sorted(
        p.parent for p in folder.glob(f"*/{LOCK_NAME}"))
    if not folders:
        raise DatasetError(f"{folder}: no {LOCK_NAME} here or in its sub-folders; fetch with `rvcbench data fetch`")
    problems = []
    for f in folders:
        found = verify_lock(f, full=not quick)
        click.echo(f"{f.name:<20} {'ok' if not found else f'{len(found)} problem(s)'}")
        problems += found
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise DatasetError(f"{len(problems)} problem(s) against the lock file(s):\n{listing}")


@data.command()
@click.argument("datasets", nargs=-1)
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A folder holding RVCBench config folders (default: RVCBENCH_DATA_ROOT, else the HF cache).")
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
def stats(datasets: tuple[str, ...], data_root: Path | None, as_json: bool) -> None:
    """Speakers, pairs, hours, languages and extra columns per dataset (config names or folders), and the union.

    With no argument: every RVCBench config (and variant) present here, set beside the paper's counts.
    """
    import json

    from rvcbench.data.hub import data_root_from
    from rvcbench.data.stats import format_stats, stats_for, union_report

    found, missing = stats_for(list(datasets), data_root_from(data_root))
    union = union_report(found) if found else None
    if as_json:
        click.echo(json.dumps({"datasets": [s.as_dict() for s in found], "union": union, "missing": missing},
                              indent=1))
        return
    click.echo(format_stats(found, union, missing))
