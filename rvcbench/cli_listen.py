"""`rvcbench listen ...`: export a blind listening test from finished runs, import the ratings it downloads."""

from __future__ import annotations

from pathlib import Path

import click

from rvcbench.listening.designs import DESIGNS
from rvcbench.tasks import CLEAN, DEFAULT_TASK


@click.group()
def listen() -> None:
    """Listening tests (MOS, MUSHRA, ABX) on finished runs: a static page listeners open, their ratings back."""


@listen.command("export")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--design", type=click.Choice(DESIGNS), required=True,
              help="mos: rate clips 1-5; mushra: rate against a reference 0-100; abx: which of A, B is closer to X.")
@click.option("--items", type=int, required=True, help="Pairs in the test, drawn from the pairs all runs share.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the pairs, checks, ids and order.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="A new (or empty) folder for the page, its audio and the key test.json.")
@click.option("--task", default=DEFAULT_TASK, show_default=True, help="The task whose clips are played.")
@click.option("--condition", default=CLEAN, show_default=True, help="The condition of that task.")
def export_command(run_dirs: tuple[Path, ...], design: str, items: int, seed: int, out: Path, task: str,
                   condition: str) -> None:
    """Write a self-contained static listening test (works from disk or any static host) into --out."""
    from rvcbench.listening.export import export_test

    report = export_test(list(run_dirs), out, design=design, items=items, seed=seed, task=task, condition=condition)
    click.echo(f"{report.design} test: {report.pairs} pairs, {report.trials} screens, {report.stimuli} audio files, "
               f"{report.total_bytes / 1e6:.1f} MB")
    click.echo(f"page: {report.out / 'index.html'}   key (keep it, do not send it): {report.out / 'test.json'}")


@listen.command("import")
@click.argument("ratings", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--test", "test_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="The exported test's folder (default: the folder of the ratings files).")
@click.option("--max-failed", default=0.15, show_default=True,
              help="Drop a listener failing more than this share of attention checks.")
@click.option("--resamples", default=2000, show_default=True, help="Bootstrap draws for the CIs of mean ratings.")
@click.option("--seed", default=0, show_default=True, help="Seeds the bootstrap.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as JSON to this file.")
def import_command(ratings: tuple[Path, ...], test_dir: Path | None, max_failed: float, resamples: int, seed: int,
                   json_out: Path | None) -> None:
    """Per-model MOS / MUSHRA / ABX preference with 95% CIs, and each MOS predictor's correlation with listeners."""
    from rvcbench.listening.report import format_report, import_ratings
    from rvcbench.results import write_json_atomic

    if not 0 <= max_failed < 1 or resamples < 1:
        raise click.UsageError("--max-failed must be in [0, 1) and --resamples at least 1")
    report = import_ratings(list(ratings), test_dir, max_failed_share=max_failed, resamples=resamples, seed=seed)
    click.echo(format_report(report))
    if json_out:
        write_json_atomic(json_out, report, sort_keys=False)
        click.echo(f"written: {json_out}")
