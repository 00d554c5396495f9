"""Feed finished clips to the scorers: models loaded once per run, batches, each scorer at its own rate.

What a scorer receives follows its declared `needs`; every row records which scorer version produced
its metrics. A scorer that raises on a batch marks its metrics NaN for those items, with the reason
under `<scorer>_error`: counted as failures in the summary, never dropped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rvcbench.audio import load_audio, resample
from rvcbench.plan import WorkItem
from rvcbench.results import RunDirectory
from rvcbench.scoring.contract import (
    NEEDS_INPUT_PROMPT_AUDIO,
    NEEDS_PARALLEL_TARGET,
    NEEDS_PROMPT_AUDIO,
    NEEDS_TARGET_AUDIO,
    ScoreInput,
    Scorer,
)

SCORING_BATCH = 16


class AudioAtRates:
    """One recording, converted to each sample rate at most once."""

    def __init__(self, wav: np.ndarray, sample_rate: int) -> None:
        self._by_rate = {sample_rate: wav}
        self._native = (wav, sample_rate)

    @classmethod
    def from_file(cls, path: Path) -> AudioAtRates:
        return cls(*load_audio(path))

    def at(self, sample_rate: int) -> np.ndarray:
        if sample_rate not in self._by_rate:
            self._by_rate[sample_rate] = resample(self._native[0], self._native[1], sample_rate)
        return self._by_rate[sample_rate]


def score_records(scorers: list[Scorer], records: list[dict], items: dict[str, WorkItem], run_dir: RunDirectory,
                  *, on_batch: Callable[[int], None] = lambda n: None,
                  batch_size: int = SCORING_BATCH) -> list[dict]:
    """Add the scorers' metrics to `records` (in place, and returned); the caller commits them."""
    for start in range(0, len(records), batch_size):
        chunk = records[start:start + batch_size]
        clips = [AudioAtRates.from_file(run_dir.root / r["clip_file"]) for r in chunk]
        targets = [AudioAtRates.from_file(items[r["item_id"]].target_path) for r in chunk]
        prompts = [AudioAtRates.from_file(items[r["item_id"]].prompt_path) for r in chunk]
        model_inputs = ({r["item_id"]: _model_input(run_dir, r, p) for r, p in zip(chunk, prompts, strict=True)}
                        if any(NEEDS_INPUT_PROMPT_AUDIO in s.meta.needs for s in scorers) else {})
        for scorer in scorers:
            meta = scorer.meta
            if NEEDS_PARALLEL_TARGET in meta.needs:
                applicable = [r.get("parallel_target", True) for r in chunk]
                for record in (r for r, ok in zip(chunk, applicable, strict=True) if not ok):
                    record.update({**{m.name: math.nan for m in meta.metrics},
                                   f"{meta.name}_error": "not applicable: the task rewrote the target text, "
                                                         "so no real recording says it"})
                    record.setdefault("scorer_versions", {})[meta.name] = scorer.version
            else:
                applicable = [True] * len(chunk)
            runnable = [(r, c, t, p) for r, c, t, p, ok in zip(chunk, clips, targets, prompts, applicable,
                                                                 strict=True) if ok]
            inputs = [
                ScoreInput(
                    pair_id=r["pair_id"], audio=clip.at(meta.sample_rate),
                    target_audio=target.at(meta.sample_rate) if NEEDS_TARGET_AUDIO in meta.needs else None,
                    prompt_audio=prompt.at(meta.sample_rate) if NEEDS_PROMPT_AUDIO in meta.needs else None,
                    input_prompt_audio=(model_inputs[r["item_id"]].at(meta.sample_rate)
                                        if NEEDS_INPUT_PROMPT_AUDIO in meta.needs else None),
                    target_text=r["target_text"], language=r["target_language"],
                )
                for r, clip, target, prompt in runnable
            ]
            if not inputs:
                continue
            for record, values in zip([r for r, *_ in runnable], _score_batch(scorer, inputs), strict=True):
                record.update(values)
                record.setdefault("scorer_versions", {})[meta.name] = scorer.version
        for record in chunk:
            record["scored"] = True
        on_batch(len(chunk))
    return records


class ScoringStage:
    """One scorer replica: the profile's scorer models, loaded once on its device, fed batches of records.

    A record carries the names of the scorers it still needs (`missing`); records needing the same
    scorers are scored together. Returns the records with their metrics; the driver commits them.
    """

    def __init__(self, scorers: list[Scorer], run_dir: RunDirectory, device: str) -> None:
        self.scorers, self.run_dir, self.device = scorers, run_dir, device
        self._loaded: set[str] = set()
        self.load_seconds = 0.0

    def run(self, work: list[tuple[dict, WorkItem, tuple[str, ...]]]) -> list[dict]:
        groups: dict[tuple[str, ...], list[tuple[dict, WorkItem]]] = {}
        for record, item, missing in work:
            groups.setdefault(missing, []).append((record, item))
        for names, members in groups.items():
            chosen = [s for s in self.scorers if s.meta.name in names]
            for scorer in chosen:
                if scorer.meta.name not in self._loaded:
                    start = time.perf_counter()
                    scorer.load(self.device)
                    self.load_seconds += time.perf_counter() - start
                    self._loaded.add(scorer.meta.name)
            score_records(chosen, [r for r, _ in members], {it.item_id: it for _, it in members}, self.run_dir)
        return [record for record, _, _ in work]


def _model_input(run_dir: RunDirectory, record: dict, prompt: AudioAtRates) -> AudioAtRates:
    """The prompt exactly as the model received it: the perturbed input file, or the original prompt."""
    name = record.get("prompt_input_file")
    return AudioAtRates.from_file(run_dir.root / name) if name else prompt


def _score_batch(scorer: Scorer, inputs: list[ScoreInput]) -> list[dict]:
    meta = scorer.meta
    nan_metrics = {m.name: math.nan for m in meta.metrics}
    try:
        results = scorer.score(inputs)
        if len(results) != len(inputs):
            raise ValueError(f"returned {len(results)} results for {len(inputs)} inputs")
    except Exception as exc:  # noqa: BLE001 — recorded per item as this scorer's failure
        reason = f"{type(exc).__name__}: {exc}"
        return [{**nan_metrics, f"{meta.name}_error": reason} for _ in inputs]
    return [{**nan_metrics, **values} for values in results]
