"""The clips a listening test can use: finished runs, their rows in one task × condition, the pairs all share."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from rvcbench.leaderboard.schema import safe_member
from rvcbench.leaderboard.table import memberships
from rvcbench.listening.errors import ListeningTestError


@dataclass(frozen=True)
class RunClips:
    """One finished run's ok clips in the chosen task × condition, by pair id."""

    label: str  # the model name, or model (run folder) when two runs share a model name
    model: str
    path: Path
    config: dict
    clips: dict[str, Path]  # pair id → clip file
    rows: dict[str, pd.Series]  # pair id → the row of utterances.parquet
    predictors: list[str]  # the MOS predictor columns of the run's table


def predictor_columns(table: pd.DataFrame) -> list[str]:
    """The MOS predictors a table holds: every numeric column whose name contains "mos" (dnsmos_*, utmos, …)."""
    return sorted(c for c in table.columns if "mos" in c.lower() and pd.api.types.is_numeric_dtype(table[c]))


def _read_run(path: Path) -> tuple[dict, pd.DataFrame]:
    missing = [f for f in ("config.json", "utterances.parquet") if not (path / f).is_file()]
    if missing:
        raise ListeningTestError(f"{path}: no {' and no '.join(missing)}; not a finished run (rerun the same "
                                 "`rvcbench run` command to finish it)")
    try:
        return json.loads((path / "config.json").read_text()), pd.read_parquet(path / "utterances.parquet")
    except (OSError, ValueError) as exc:
        raise ListeningTestError(f"{path}: cannot read the run: {exc}") from exc


def _clips_of(path: Path, table: pd.DataFrame, task: str, condition: str) -> tuple[dict, dict]:
    members = memberships(table)
    clips, rows = {}, {}
    for index, row in enumerate(table.itertuples(index=False)):
        if (task, condition) not in members[index] or getattr(row, "status", None) != "ok":
            continue
        clip = safe_member(path, getattr(row, "clip_file", None))
        if clip is None or not clip.is_file():
            raise ListeningTestError(f"{path}: the clip of pair {row.pair_id} ({getattr(row, 'clip_file', None)!r}) "
                                     "is missing or outside the run folder")
        clips[str(row.pair_id)] = clip
        rows[str(row.pair_id)] = table.iloc[index]
    return clips, rows


def load_run_clips(run_dirs: list[Path], task: str, condition: str) -> list[RunClips]:
    """Every run's ok clips in `task` × `condition`; refuses runs without any, naming the tasks they do have."""
    if len({Path(p).resolve() for p in run_dirs}) < len(run_dirs):
        raise ListeningTestError("the same run directory is given twice: " + ", ".join(map(str, run_dirs)))
    loaded = []
    for path in map(Path, run_dirs):
        config, table = _read_run(path)
        clips, rows = _clips_of(path, table, task, condition)
        if not clips:
            have = sorted({f"{t}/{c}" for m in memberships(table) for t, c in m})
            raise ListeningTestError(f"{path}: no ok clip in {task}/{condition}; this run has: {', '.join(have)} "
                                     "(choose with --task and --condition)")
        model = str(config.get("model", path.name))
        loaded.append(RunClips(model, model, path, config, clips, rows, predictor_columns(table)))
    fingerprints = {str(run.config.get("dataset_fingerprint")) for run in loaded}
    if len(fingerprints) > 1:
        listing = ", ".join(f"{run.path}: {run.config.get('dataset_fingerprint')}" for run in loaded)
        raise ListeningTestError(f"the runs are on different datasets (fingerprints {listing}); a listening test "
                                 "compares clips of the same pairs")
    models = [run.model for run in loaded]
    return [run if models.count(run.model) == 1 else replace(run, label=f"{run.model} ({run.path.name})")
            for run in loaded]


def shared_pairs(runs: list[RunClips]) -> list[str]:
    """Pairs every run has an ok clip for, sorted."""
    common = set(runs[0].clips)
    for run in runs[1:]:
        common &= set(run.clips)
    return sorted(common)


def choose_pairs(pairs: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """`n` pairs drawn without replacement by `rng`, in the order drawn."""
    if n < 1:
        raise ListeningTestError(f"--items must be at least 1, not {n}")
    if n > len(pairs):
        raise ListeningTestError(f"--items {n} asks for more pairs than the runs share ({len(pairs)}): lower --items "
                                 "or use runs over more pairs")
    picks = rng.choice(len(pairs), size=n, replace=False)
    return [pairs[i] for i in picks]
