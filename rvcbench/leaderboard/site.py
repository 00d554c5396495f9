"""`leaderboard build`: every result folder → a static site that works from disk and on any static host.

The site is written into a temporary folder beside the destination and swapped in with renames only when
complete, so a failed build (an invalid result, a full disk) leaves the published site exactly as it was.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rvcbench.leaderboard import schema
from rvcbench.leaderboard.aggregate import Entry, build_entries, overview_columns
from rvcbench.leaderboard.calibration import load_calibrations
from rvcbench.leaderboard.exports import render_exports
from rvcbench.leaderboard.pages import compare_page, method_page, model_page, overview_page, robustness_page
from rvcbench.leaderboard.validate import LoadedResult, load_result
from rvcbench.results import replace_folder, write_json_atomic

ASSETS = Path(__file__).parent / "assets"
DEFAULT_SITE = Path("leaderboard/site")


@dataclass(frozen=True)
class BuildReport:
    site: Path
    results: int
    pages: int
    page_bytes: int  # HTML + CSS + JS of the overview page: what a visitor downloads first
    total_bytes: int  # everything, audio included
    seconds: float


def load_results(results_root: Path) -> list[LoadedResult]:
    """Every result folder under `results_root`; refuse the build if any is invalid (listing them all)."""
    folders = sorted(p for p in Path(results_root).iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if Path(results_root).is_dir() else []
    loaded, problems = [], []
    for folder in folders:
        try:
            loaded.append(load_result(folder))
        except schema.ResultFileError as exc:
            problems.append(str(exc))
    if problems:
        raise schema.ResultFileError("not building: fix or remove these result files first:\n" + "\n".join(problems))
    return loaded


def build_site(results_root: Path, out: Path = DEFAULT_SITE) -> BuildReport:
    started = time.perf_counter()
    results = load_results(results_root)
    entries = build_entries(results)
    columns = {profile: overview_columns([x.result for x in items]) for profile, items in entries.items()}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part"))
    try:
        pages = write_site(staging, entries, columns, load_calibrations(Path(results_root).parent / "calibration"))
        replace_folder(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    first = sum((out / p).stat().st_size for p in ("index.html", "assets/site.css", "assets/site.js"))
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return BuildReport(out, len(results), pages, first, total, time.perf_counter() - started)


def write_site(root: Path, entries: dict[str, list[Entry]], columns: dict,
               calibrations: list[dict] | None = None) -> int:
    from rvcbench.leaderboard.method import method_inputs

    shutil.copytree(ASSETS, root / "assets")
    (root / ".nojekyll").write_text("")  # GitHub Pages: serve the folder as it is
    from rvcbench.leaderboard.published import paper_page, published_sets

    published = published_sets()
    pages = {"index.html": overview_page(entries, columns, published, calibrations),
             "compare.html": compare_page(entries, columns),
             "robustness.html": robustness_page(entries),
             "paper.html": paper_page(published),
             "method.html": method_page(*method_inputs([x.result for xs in entries.values() for x in xs]))}
    for profile_entries in entries.values():
        for entry in profile_entries:
            pages[f"models/{entry.slug}.html"] = model_page(entry, profile_entries)
            copy_audio(entry, root / "audio" / entry.slug)
    for name, html in pages.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(html, encoding="utf-8")
    for name, content in render_exports(entries, columns).items():
        (root / "data").mkdir(exist_ok=True)
        (root / "data" / name).write_text(content, encoding="utf-8")
    write_json_atomic(root / "data" / "sources.json",
                      {x.slug: {"model": x.name, "profile": x.data["profile"],
                                "table_sha256": x.data["table"]["sha256"]} for xs in entries.values() for x in xs})
    return len(pages)


def copy_audio(entry: Entry, destination: Path) -> None:
    for example in entry.data["examples"]:
        for role in schema.EXAMPLE_AUDIO_ROLES:
            source = schema.safe_member(entry.result.folder, example.get(role)) if example.get(role) else None
            if source is not None:
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination / source.name)
