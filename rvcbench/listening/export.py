"""`listen export`: finished runs → a self-contained, blind listening test in a folder.

    DIR/index.html   the page (Jinja2, autoescaped; CSP: nothing but its own files, no inline script)
    DIR/listen.js    the page's logic: listener id → seeded order, ratings, checks, the CSV download
    DIR/listen.css
    DIR/audio/*.wav  every stimulus, one opaque name each, resampled to one rate and level-aligned
    DIR/test.json    the key: which stimulus is which run / model / pair / condition, each clip's predictor
                     scores, the design, the seed, the rvcbench version. Keep it; the page does not read it.

Everything follows from (runs, design, items, seed): one numpy Generator seeded with `seed` draws the pairs, the
checks, the opaque ids and the page's default order, in that order.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape

from rvcbench import __version__
from rvcbench.audio import load_audio, resample, save_audio
from rvcbench.leaderboard.render import CSP
from rvcbench.listening.designs import LOW_ANCHOR, Design, Stimulus, build_design
from rvcbench.listening.errors import ListeningTestError
from rvcbench.listening.runs import RunClips, choose_pairs, load_run_clips, shared_pairs
from rvcbench.listening.screening import CHECK_RULES
from rvcbench.listening.stimuli import TARGET_RMS_DBFS, align_level, degraded_anchor, mushra_anchor
from rvcbench.results import replace_folder, write_json_atomic
from rvcbench.tasks import CLEAN, DEFAULT_TASK

ASSETS = Path(__file__).parent / "assets"
FORMAT = "rvcbench-listening-test"
FORMAT_VERSION = 1
MOS_SCALE = ((5, "Excellent"), (4, "Good"), (3, "Fair"), (2, "Poor"), (1, "Bad"))


@dataclass(frozen=True)
class ExportReport:
    out: Path
    design: str
    pairs: int
    trials: int
    stimuli: int
    total_bytes: int


def reference_recordings(config: dict, pairs: list[str]) -> dict[str, Path] | None:
    """Per pair, the real recording of the target speaker: the dataset's target audio, else the prompt."""
    from rvcbench.leaderboard.examples import dataset_files

    files = dataset_files(config)
    if files is None:
        return None
    found = {}
    for pair in pairs:
        target, prompt = files.targets.get(pair), files.prompts.get(pair)
        source = target if target is not None and target.is_file() else prompt
        if source is None or not source.is_file():
            return None
        found[pair] = source
    return found


def export_test(run_dirs: list[Path], out: Path, *, design: str, items: int, seed: int, task: str = DEFAULT_TASK,
                condition: str = CLEAN) -> ExportReport:
    """Write the listening test into `out` (which must not exist or be empty); see the module docstring."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ListeningTestError(f"{out} exists and is not empty; choose a new --out (a test's key must not be "
                                 "replaced once listeners have its page)")
    runs = load_run_clips(list(run_dirs), task, condition)
    rng = np.random.default_rng(seed)
    pairs = choose_pairs(shared_pairs(runs), items, rng)
    references = reference_recordings(runs[0].config, pairs) if design != "mos" else None
    built = build_design(design, runs, pairs, references, rng)
    test_id = f"{int(rng.integers(0, 2**48)):012x}"
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part"))
    try:
        rate = write_audio(built, staging / "audio")
        (staging / "index.html").write_text(render_page(built, test_id), encoding="utf-8")
        for asset in ("listen.js", "listen.css"):
            shutil.copyfile(ASSETS / asset, staging / asset)
        write_json_atomic(staging / "test.json", answer_key(built, runs, pairs, test_id, rate, seed, items, task,
                                                          condition))
        if out.exists():
            out.rmdir()
        replace_folder(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return ExportReport(out, design, len(pairs), len(built.trials), len(built.stimuli), total)


def write_audio(design: Design, folder: Path) -> int:
    """Every stimulus as 16-bit WAV at the highest source rate, level-aligned; returns that rate."""
    sources = {s.source: load_audio(s.source) for s in design.stimuli.values()}
    rate = max(sr for _, sr in sources.values())
    for stimulus in design.stimuli.values():
        wav, sr = sources[stimulus.source]
        save_audio(folder / f"{stimulus.id}.wav", align_level(_processed(stimulus, resample(wav, sr, rate), rate)),
                   rate)
    return rate


def _processed(stimulus: Stimulus, wav: np.ndarray, rate: int) -> np.ndarray:
    if stimulus.kind == LOW_ANCHOR:
        return mushra_anchor(wav, rate)
    if stimulus.noise_seed is not None:
        return degraded_anchor(wav, rate, stimulus.noise_seed)
    return wav


def render_page(design: Design, test_id: str) -> str:
    environment = Environment(loader=PackageLoader("rvcbench.listening", "templates"),
                              autoescape=select_autoescape(default=True, default_for_string=True),
                              trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("index.html.j2").render(
        csp=CSP, design=design.name, test_id=test_id, trials=design.trials, stimuli=design.stimuli,
        mos_scale=MOS_SCALE, catch_count=sum(t.check == "catch" for t in design.trials))


def _score(value: object) -> float | None:
    number = float(value) if isinstance(value, (int, float, np.number)) and not isinstance(value, bool) else math.nan
    return number if math.isfinite(number) else None


def answer_key(design: Design, runs: list[RunClips], pairs: list[str], test_id: str, rate: int, seed: int, items: int,
             task: str, condition: str) -> dict:
    """test.json: the design, its provenance, and for every stimulus what it really is."""
    by_label = {run.label: run for run in runs}
    stimuli = {}
    for s in design.stimuli.values():
        run = by_label.get(s.run) if s.run else None
        stimuli[s.id] = {
            "file": f"audio/{s.id}.wav", "kind": s.kind, "check": s.check, "pair_id": s.pair_id,
            "run": s.run, "model": run.model if run else None, "repeat_of": s.repeat_of, "process": s.process,
            "source": str(s.source),
            "scores": {c: _score(run.rows[s.pair_id][c]) for c in run.predictors} if run else {},
        }
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "rvcbench_version": __version__, "test_id": test_id,
        "design": design.name, "seed": seed, "items": items, "task": task, "condition": condition,
        "sample_rate": rate, "level_rms_dbfs": TARGET_RMS_DBFS,
        "runs": [{"label": r.label, "model": r.model, "run_dir": str(r.path.resolve()),
                  "seed": r.config.get("seed"), "profile": r.config.get("profile"),
                  "dataset_fingerprint": r.config.get("dataset_fingerprint")} for r in runs],
        "pairs": pairs,
        "trials": [{"id": t.id, "pair_id": t.pair_id, "stimuli": list(t.stimuli), "reference": t.reference,
                    "check": t.check, "expected": t.expected} for t in design.trials],
        "stimuli": stimuli,
        "checks": CHECK_RULES[design.name],
    }
