"""`rvcbench calibrate`: what a profile's scorers give real recordings, the frame every model's numbers sit in.

- Ceiling (same speaker): the `oracle` run, whose "clone" is the real target recording: WER/CER of real speech,
  its MOS predictions, and speaker similarity between the target and the prompt (two recordings of one
  speaker; the same quantity Seed-TTS-eval reports as the ground truth's SIM). A clone-vs-target SIM scorer
  would give 1.0 on the oracle itself, so its ceiling is read from the target-vs-prompt similarity.
- Floor (other speakers): each pair's real target scored against the target and prompt of the next pair of a
  different speaker (manifest order): the similarity of two different voices with this scorer.

The result is written as `<out>/<data>__<profile>.json` (default `leaderboard/calibration/`), which the
leaderboard shows beside the models of that profile on that data. Published ground-truth figures to compare
with when the real weights are used: docs/profiles.md.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from rvcbench.audio import load_audio
from rvcbench.leaderboard.schema import slug
from rvcbench.results import write_json_atomic
from rvcbench.runner import RunConfig, load_run_dataset, run_benchmark
from rvcbench.scoring.aggregate import summarize_mean
from rvcbench.scoring.contract import NEEDS_PROMPT_AUDIO, NEEDS_TARGET_AUDIO, ScoreInput
from rvcbench.scoring.engine import AudioAtRates
from rvcbench.scoring.profiles import build_scorers, resolve_profile

DEFAULT_OUT = Path("leaderboard/calibration")
CALIBRATION_KIND = "rvcbench-calibration"
# clone-vs-target SIM metrics: their same-speaker ceiling is the oracle's target-vs-prompt metric
SIMILARITY_PAIRS = {"sim": "sim_prompt", "sim_ecapa": "sim_ecapa_prompt", "sim_wavlm_target": "sim_wavlm"}


def cross_speaker_partners(speakers: list[str]) -> list[int | None]:
    """For each row, the next row (cyclically) whose speaker differs; None when the data has one speaker."""
    out: list[int | None] = []
    for i, speaker in enumerate(speakers):
        order = list(range(i + 1, len(speakers))) + list(range(i))
        out.append(next((j for j in order if speakers[j] != speaker), None))
    return out


def calibrate(base: RunConfig, out: Path = DEFAULT_OUT, runs_root: Path = Path("runs"),
              progress: bool = True) -> tuple[Path, dict]:
    profile = resolve_profile(base.profile)
    config = dataclasses.replace(base, model="oracle")
    dataset = load_run_dataset(config)
    subset = f"__{slug(config.pairs)}" if config.pairs else ""
    run_dir = runs_root / f"calibration__{slug(config.data)}{subset}__{profile.name}__seed{config.seed}"
    outcome = run_benchmark(config, run_dir, progress=progress, dataset=dataset)
    metrics = outcome.summary["metrics"]
    ceiling = {name: metrics[name] for name in metrics if name != "rtf"}
    for metric, source in SIMILARITY_PAIRS.items():
        if source in metrics:
            ceiling[metric] = {**metrics[source], "from": f"{source} of the real target (same speaker)"}
    floor, floor_rows = cross_speaker_floor(profile, dataset, config.seed, config.device)
    report = {
        "kind": CALIBRATION_KIND, "profile": profile.name, "seed": config.seed,
        "dataset": outcome.summary["run"]["dataset"],
        "scorers": outcome.summary["run"]["scorers"],
        "same_speaker": ceiling,
        "other_speaker": floor,
        "eer_thresholds": eer_thresholds(pd.read_parquet(outcome.run_dir / "utterances.parquet"), floor_rows),
        "oracle_run": str(run_dir),
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{slug(dataset.name)}__{slug(profile.name)}.json"
    write_json_atomic(path, report)
    return path, report


def eer_thresholds(oracle_table, floor_rows: dict[str, list[float]]) -> dict:
    """Per clone-vs-target SIM metric: the equal-error-rate threshold between same-speaker trials (target vs its
    prompt) and other-speaker trials (target vs another speaker's target), and the EER there. A profile can pass
    it on (e.g. `sva_eer_threshold` of sim_ecapa) to report verification at the dataset's own operating point."""
    from rvcbench.scoring.ecapa import eer_threshold, equal_error_rate

    out = {}
    for metric, source in SIMILARITY_PAIRS.items():
        if source not in oracle_table.columns or metric not in floor_rows:
            continue
        same = pd.to_numeric(oracle_table[source], errors="coerce").to_numpy(dtype=np.float64)
        different = np.asarray(floor_rows[metric], dtype=np.float64)
        same, different = same[np.isfinite(same)], different[np.isfinite(different)]
        if same.size and different.size:
            out[metric] = {"threshold": eer_threshold(same, different), "eer": equal_error_rate(same, different),
                           "same_speaker_trials": int(same.size), "other_speaker_trials": int(different.size)}
    return out


def cross_speaker_floor(profile, dataset, seed: int, device: str) -> tuple[dict, dict[str, list[float]]]:
    """Speaker-similarity metrics of each real target against another speaker's recordings: (summaries, values)."""
    scorers = [s for s in build_scorers(profile) if {NEEDS_TARGET_AUDIO, NEEDS_PROMPT_AUDIO} & s.meta.needs
               and any(m.name.startswith("sim") for m in s.meta.metrics)]
    rows = dataset.manifest.to_dict(orient="records")
    partners = cross_speaker_partners([r["speaker_id"] for r in rows])
    if not scorers or all(p is None for p in partners):
        return {}, {}
    audio = {}

    def recording(name: str) -> AudioAtRates:
        if name not in audio:
            audio[name] = AudioAtRates(*load_audio(dataset.audio_path(name)))
        return audio[name]

    values: dict[str, list[float]] = {}
    for scorer in scorers:
        scorer.load(device)
        rate = scorer.meta.sample_rate
        inputs = [ScoreInput(pair_id=r["pair_id"], audio=recording(r["target_file_name"]).at(rate),
                             target_audio=recording(rows[j]["target_file_name"]).at(rate),
                             prompt_audio=recording(rows[j]["prompt_file_name"]).at(rate),
                             target_text=r["target_text"], language=r["target_language"])
                  for r, j in zip(rows, partners, strict=True) if j is not None]
        for result in scorer.score(inputs):
            for metric in (m.name for m in scorer.meta.metrics if m.name.startswith("sim") and not m.auxiliary):
                value = result.get(metric)
                values.setdefault(metric, []).append(float(value) if isinstance(value, (int, float)) else np.nan)
    kept = {metric: v for metric, v in values.items() if np.isfinite(v).any()}
    return {metric: summarize_mean(np.array(v), seed).to_dict() for metric, v in kept.items()}, kept


def format_calibration(report: dict) -> str:
    lines = [f"calibration of profile {report['profile']} on {report['dataset']['name']} "
             f"({report['dataset']['pairs']} pairs)", f"{'metric':<20}{'same speaker (real)':>28}{'other speaker':>28}"]
    for metric in sorted(set(report["same_speaker"]) | set(report["other_speaker"])):
        cells = [_cell(report["same_speaker"].get(metric)), _cell(report["other_speaker"].get(metric))]
        lines.append(f"{metric:<20}{cells[0]:>28}{cells[1]:>28}")
    for metric, t in report.get("eer_thresholds", {}).items():
        lines.append(f"EER threshold of {metric} (same vs other speaker, real recordings): {t['threshold']:.4f} "
                     f"(EER {t['eer']:.3f}; {t['same_speaker_trials']} + {t['other_speaker_trials']} trials)")
    return "\n".join(lines)


def _cell(m: dict | None) -> str:
    if not m or not np.isfinite(m.get("mean", np.nan)):
        return "-"
    return f"{m['mean']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}] n={m['n']}"
