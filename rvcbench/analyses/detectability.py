"""The `detectability` analysis: can a spoof detector tell a model's clones from real speech of the same speakers?

Per condition of the task, the spoof trials are the condition's successful clones, and the bona fide
trials are the real target recordings of the same pairs, made to travel the clone's path: resampled to
the model's output rate, written as 16-bit audio like a clip, then passed through the condition's
output transforms with the same seed (`apply_audio_steps`, the code that transformed the clone). Only
the cloning differs, so a detector can only tell them apart by what the model did.

A trainable detector (default `lfcc_gmm`) is trained and tested with speaker-disjoint k-fold
cross-validation (`crossval.py`); the EER is computed on the pooled out-of-fold scores (`eer.py`), with a
95% percentile bootstrap CI over speakers (2000 draws, shared by every condition, so the change vs
clean gets a paired CI). The CI covers which speakers were tested, not retraining the detector.

Everything is cached under `<run>/analyses/<task>/`: the bona fide clips (`real/`), each utterance's
detector representation (`features/<detector>/`) and each condition's out-of-fold scores (`scores/`),
all keyed by content hashes, so a rerun recomputes nothing and a killed run resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from rvcbench.analyses.base import Analysis, AnalysisContext
from rvcbench.analyses.crossval import cross_validated_scores
from rvcbench.analyses.detectors import Detector
from rvcbench.analyses.eer import SpeakerResamples, Trials, summarize_eer, summarize_eer_difference
from rvcbench.analyses.registry import DETECTORS
from rvcbench.analyses.spec import AnalysisSpec, AnalysisSpecError
from rvcbench.audio import load_audio, load_audio_at, resample, save_audio
from rvcbench.perturb import DatasetVoices, apply_audio_steps
from rvcbench.plan import WorkItem, file_sha256, steps_key
from rvcbench.results import write_json_atomic
from rvcbench.scoring.aggregate import CI_LEVEL, N_RESAMPLES
from rvcbench.seeds import stable_seed
from rvcbench.tasks import CLEAN, Condition, Task
from rvcbench.transforms.base import Audio, TransformUnavailable

DEFAULT_DETECTOR = "lfcc_gmm"
DEFAULT_FOLDS = 5
MIN_SPEAKERS = 2  # speaker-disjoint cross-validation needs a speaker to train on and one to test
MIN_TRIALS_PER_CLASS = 4


class Detectability(Analysis):
    name = "detectability"
    parameters = {
        "detector": f"a detector name (default {DEFAULT_DETECTOR}); `rvcbench.detectors` entry points add more",
        "detector_settings": "a mapping of the detector's keyword settings",
        "folds": f"speaker-disjoint cross-validation folds, at least 2 (default {DEFAULT_FOLDS})",
    }

    @classmethod
    def check_params(cls, params: dict) -> None:
        super().check_params(params)
        name = params.get("detector", DEFAULT_DETECTOR)
        if name not in DETECTORS.names():
            raise AnalysisSpecError(f"key 'detector': unknown detector {name!r}; allowed: {DETECTORS.names()}")
        settings = params.get("detector_settings") or {}
        if not isinstance(settings, dict):
            raise AnalysisSpecError("key 'detector_settings': a mapping of the detector's settings")
        detector_cls = DETECTORS.get(name)
        unknown = sorted(set(settings) - set(detector_cls.parameters()))
        if unknown:
            raise AnalysisSpecError(f"key 'detector_settings': detector {name!r} has no setting(s) {unknown}; "
                                    f"allowed: {list(detector_cls.parameters())}")
        try:
            detector_cls(**settings)
        except ValueError as exc:
            raise AnalysisSpecError(f"key 'detector_settings': {exc}") from exc
        folds = params.get("folds", DEFAULT_FOLDS)
        if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
            raise AnalysisSpecError(f"key 'folds': an integer of at least 2; got {folds!r}")

    def __init__(self, spec: AnalysisSpec) -> None:
        super().__init__(spec)
        self.detector_name = str(spec.get("detector", DEFAULT_DETECTOR))
        self.detector: Detector = DETECTORS.get(self.detector_name)(**dict(spec.get("detector_settings") or ()))
        self.folds = int(spec.get("folds", DEFAULT_FOLDS))

    def describe(self) -> dict:
        meta = self.detector.meta
        return {"name": self.detector_name, "version": meta.version, "trainable": meta.trainable,
                "sample_rate": meta.sample_rate, "settings": self.detector.settings(),
                "description": meta.description, "reference": meta.reference,
                "origin": DETECTORS.origin(self.detector_name)}

    def run(self, task: Task, context: AnalysisContext) -> dict:
        store = _Store(context.run_dir.root / "analyses" / task.name, self.describe())
        voices = DatasetVoices(context.dataset)
        conditions: dict[str, dict] = {}
        trials: dict[str, Trials] = {}
        for condition in task.conditions:
            entry, condition_trials = self._condition(task, condition, context, store, voices)
            conditions[condition.name] = entry
            if condition_trials is not None:
                trials[condition.name] = condition_trials
        speakers = sorted({s for t in trials.values() for s in t.speakers.tolist()})
        resamples = SpeakerResamples.draw(speakers, stable_seed(context.seed, task.name, "bootstrap"))
        for name, condition_trials in trials.items():
            conditions[name]["eer"] = summarize_eer(condition_trials, resamples).to_dict()
            if name != CLEAN and CLEAN in trials:
                conditions[name]["eer_vs_clean"] = summarize_eer_difference(condition_trials, trials[CLEAN],
                                                                            resamples)
        return {
            "analysis": self.name, "detector": self.describe(),
            "protocol": {
                "folds": self.folds if self.detector.meta.trainable else 0,
                "cross_validation": "speaker-disjoint k-fold, k = min(folds, speakers), speakers dealt round-robin "
                                    "after a seeded shuffle; EER on the pooled out-of-fold scores"
                                    if self.detector.meta.trainable else "none: pretrained detector",
                "ci": f"{CI_LEVEL:.0%} percentile bootstrap over speakers (draws shared by all conditions; "
                      "paired for the change vs clean)",
                "resamples": N_RESAMPLES, "seed": context.seed,
                "bona_fide": "the pair's real target recording, resampled to the model's output rate and "
                             "passed through the condition's output transforms with the clone's seed",
                "cache": str(store.root.relative_to(context.run_dir.root)),
            },
            "conditions": conditions,
        }

    def _condition(self, task: Task, condition: Condition, context: AnalysisContext, store: _Store,
                   voices: DatasetVoices) -> tuple[dict, Trials | None]:
        members = sorted((it for it in context.items if (task.name, condition.name) in it.memberships),
                         key=lambda it: it.pair_id)
        records = [context.records[it.item_id] for it in members]
        statuses = Counter(r["status"] for r in records)
        entry: dict = {"steps": [s.as_dict() for s in condition.steps], "pairs": len(members),
                       "clone_failures": statuses.get("failed", 0), "unavailable_items": statuses.get("unavailable", 0)}
        ok = [(it, r) for it, r in zip(members, records, strict=True) if r["status"] == "ok"]
        reason = self._unavailable_reason(records, ok)
        if reason is None:
            try:
                trials, folds = self._trials(condition, ok, context, store, voices)
                return {**entry, "available": True, "folds": folds}, trials
            except TransformUnavailable as exc:
                reason = f"the bona fide recordings could not be transformed here: {exc}"
        return {**entry, "available": False, "reason": reason}, None

    def _unavailable_reason(self, records: list[dict], ok: list[tuple[WorkItem, dict]]) -> str | None:
        if not records:
            return "no pairs in this condition"
        if not ok:
            unavailable = [r for r in records if r["status"] == "unavailable"]
            if len(unavailable) == len(records):
                return Counter(r["error_message"] for r in unavailable).most_common(1)[0][0]
            failed = Counter(f"{r['error_type']}: {r['error_message']}" for r in records if r["status"] != "ok")
            common = failed.most_common(1)[0][0]
            return f"no clone of this condition succeeded ({len(records)} pairs; most often {common})"
        speakers = {it.speaker_id for it, _ in ok}
        if self.detector.meta.trainable and len(speakers) < MIN_SPEAKERS:
            return (f"speaker-disjoint cross-validation needs clips of at least {MIN_SPEAKERS} speakers; "
                    f"the successful clones come from {len(speakers)}")
        if len(ok) < MIN_TRIALS_PER_CLASS:
            return f"too few clips: {len(ok)} successful clone(s), at least {MIN_TRIALS_PER_CLASS} needed"
        return None

    def _trials(self, condition: Condition, ok: list[tuple[WorkItem, dict]], context: AnalysisContext,
                store: _Store, voices: DatasetVoices) -> tuple[Trials, int]:
        """Pooled out-of-fold (or pretrained) scores of the bona fide and spoof clips of one condition,
        and the number of folds used (0 for a pretrained detector)."""
        clips = []  # (path, label, speaker, pair id)
        for item, record in ok:
            clips.append((context.run_dir.root / record["clip_file"], 0, item.speaker_id, item.pair_id))
            clips.append((store.bona_fide(item, int(record["synth_sample_rate"]), voices), 1, item.speaker_id,
                          item.pair_id))
        key = _hash({"detector": store.detector_key, "folds": self.folds, "seed": context.seed,
                     "clips": [(p.name, label) for p, label, _, _ in clips]})
        cached = store.read_scores(key)
        if cached is None:
            representations = [store.representation(self.detector, path, "real" if label else "clone", context.device)
                               for path, label, _, _ in clips]
            labels = np.array([label for _, label, _, _ in clips])
            speakers = [speaker for _, _, speaker, _ in clips]
            if self.detector.meta.trainable:
                scores, folds = cross_validated_scores(self.detector, representations, labels, speakers,
                                                       self.folds, context.seed)
            else:
                scores, folds = np.asarray(self.detector.score(representations), dtype=float), np.zeros(len(clips))
            cached = {"condition": condition.name, "pair_id": [c[3] for c in clips], "speaker_id": speakers,
                      "label": labels.tolist(), "fold": folds.astype(int).tolist(), "score": scores.tolist(),
                      "clip": [str(p.relative_to(context.run_dir.root)) for p, *_ in clips]}
            store.write_scores(key, cached)
        trials = Trials(np.asarray(cached["score"], dtype=float), np.asarray(cached["label"]),
                        np.asarray(cached["speaker_id"]))
        return trials, len(set(cached["fold"])) if self.detector.meta.trainable else 0


class _Store:
    """The analysis's cache folder in the run directory: bona fide clips, representations, scores."""

    def __init__(self, root: Path, detector: dict) -> None:
        self.root = root
        self.detector_key = _hash({k: detector[k] for k in ("name", "version", "settings")})
        self.features = root / "features" / f"{detector['name']}-{self.detector_key[:12]}"
        self._loaded = False
        self._hashes: dict[Path, str] = {}

    def bona_fide(self, item: WorkItem, sample_rate: int, voices: DatasetVoices) -> Path:
        """The real target as the clone was made: at the model's rate, 16-bit, then the output transforms."""
        base_key = _hash({"target": file_sha256(item.target_path, self._hashes), "rate": sample_rate})
        base = self.root / "real" / f"{base_key}.wav"
        if not base.exists():
            wav, rate = load_audio(item.target_path)
            save_audio(base, resample(wav, rate, sample_rate), sample_rate)
        if not item.output_steps:
            return base
        key = _hash({"base": base_key, "steps": steps_key(item.output_steps), "seed": item.perturbation_seed})
        path = self.root / "real" / f"{key}.wav"
        if not path.exists():
            audio = apply_audio_steps(Audio(*load_audio(base)), item.output_steps, item.perturbation_seed,
                                      voices.context_for(item.speaker_id))
            save_audio(path, audio.wav, audio.sample_rate)
        return path

    def representation(self, detector: Detector, clip: Path, kind: str, device: str) -> np.ndarray:
        """The detector's representation of one clip, computed once (clip names are hashes of what made them)."""
        path = self.features / f"{kind}-{clip.stem}.npy"
        if path.exists():
            return np.load(path)
        if not self._loaded:
            detector.load(device)
            self._loaded = True
        value = np.asarray(detector.represent(load_audio_at(clip, detector.meta.sample_rate)))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.save(handle, value)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return value

    def read_scores(self, key: str) -> dict | None:
        path = self.root / "scores" / f"{key}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def write_scores(self, key: str, payload: dict) -> None:
        write_json_atomic(self.root / "scores" / f"{key}.json", payload)


def _hash(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]
