"""`rvcbench leaderboard ...`: thin click commands over add, validate, build and export."""

from __future__ import annotations

from pathlib import Path

import click

from rvcbench.errors import RvcbenchError

RESULTS_OPTION = click.option("--results", "results_root", type=click.Path(file_okay=False, path_type=Path),
                              default=Path("leaderboard/results"), show_default=True,
                              help="Folder of result folders.")


@click.group()
def leaderboard() -> None:
    """Result files from finished runs, their validation, the static site and exports."""


@leaderboard.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@RESULTS_OPTION
@click.option("--examples", default=2, show_default=True, help="Audio example pairs per task copied from the run.")
def add(run_dirs: tuple[Path, ...], results_root: Path, examples: int) -> None:
    """Validate finished runs and record each as a result folder (model × dataset × scorer profile × pair set).

    A seed group (`rvcbench run --seeds 0,1,2 --out DIR`) is recorded as its first seed's run, with the standard
    deviation between the seeds' means beside each metric.
    """
    from rvcbench.leaderboard.results import add_runs

    for added in add_runs(list(run_dirs), results_root, examples):
        click.echo(f"{'replaced' if added.replaced else 'added'} {added.folder}")


@leaderboard.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check result files (or their folders): schema, table hash, counts and means, scorer profile, paths."""
    from rvcbench.leaderboard.validate import validate_result

    bad = 0
    for file in files:
        problems = validate_result(file)
        if problems:
            bad += 1
            click.echo(f"{file}: INVALID, {len(problems)} problem(s):", err=True)
            for problem in problems:
                click.echo(f"  - {problem}", err=True)
        else:
            click.echo(f"{file}: valid")
    if bad:
        raise RvcbenchError(f"{bad} of {len(files)} result file(s) refused")


@leaderboard.command()
@RESULTS_OPTION
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("leaderboard/site"),
              show_default=True, help="Site folder (replaced atomically).")
def build(results_root: Path, out: Path) -> None:
    """Build the static site from every result folder (works from disk and on any static host)."""
    from rvcbench.leaderboard.site import build_site

    report = build_site(results_root, out)
    click.echo(f"built {report.site}: {report.results} result(s), {report.pages} pages, overview page weight "
               f"{report.page_bytes / 1024:.1f} KB (all files {report.total_bytes / 1024:.0f} KB), "
               f"{report.seconds:.1f} s; open {report.site / 'index.html'}")


@leaderboard.command()
@RESULTS_OPTION
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("leaderboard/exports"),
              show_default=True, help="Folder for the exported tables.")
@click.option("--format", "formats", type=click.Choice(["csv", "json", "latex"]), multiple=True,
              help="Formats to write (default: all).")
def export(results_root: Path, out: Path, formats: tuple[str, ...]) -> None:
    """Write the leaderboard tables as CSV, JSON and LaTeX (for papers)."""
    from rvcbench.leaderboard.aggregate import build_entries, overview_columns
    from rvcbench.leaderboard.exports import render_exports
    from rvcbench.leaderboard.site import load_results

    entries = build_entries(load_results(results_root))
    columns = {p: overview_columns([x.result for x in xs]) for p, xs in entries.items()}
    suffix = {"csv": ".csv", "json": ".json", "latex": ".tex"}
    wanted = {suffix[f] for f in formats or ("csv", "json", "latex")}
    out.mkdir(parents=True, exist_ok=True)
    for name, content in render_exports(entries, columns).items():
        if Path(name).suffix in wanted:
            (out / name).write_text(content, encoding="utf-8")
            click.echo(f"wrote {out / name}")
