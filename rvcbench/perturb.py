"""Apply a condition's transforms to one item's inputs, deterministically, computing each input once.

Perturbed prompts are cached by a hash of (source audio, steps, seed) in a folder shared by every run
beside it (`<runs>/_inputs/`), so all models receive byte-identical inputs computed once, and each run
keeps a hard link (or copy) in its own `inputs/` folder so anyone can listen to what the model received.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from rvcbench.audio import load_audio, save_audio
from rvcbench.data import Dataset
from rvcbench.data.texts import DatasetTexts
from rvcbench.lru import LruCache
from rvcbench.seeds import stable_seed
from rvcbench.tasks import Step
from rvcbench.transforms.base import TRANSFORMS, Audio, Target, TransformContext

OTHER_SPEAKER_CACHE = 64


def apply_audio_steps(audio: Audio, steps: tuple[Step, ...], seed: int, context: TransformContext) -> Audio:
    import rvcbench.transforms.library  # noqa: F401 — registers every transform

    for index, step in enumerate(steps):
        rng = np.random.default_rng(stable_seed(seed, index, step.transform))
        audio = TRANSFORMS[step.transform].function(audio, rng, context, **dict(step.params))
    return audio


def apply_text_steps(text: str, steps: tuple[Step, ...], seed: int, context: TransformContext) -> str:
    import rvcbench.transforms.library  # noqa: F401 — registers every transform

    for index, step in enumerate(steps):
        rng = np.random.default_rng(stable_seed(seed, index, step.transform))
        text = TRANSFORMS[step.transform].function(text, rng, context, **dict(step.params))
    return text


def apply_target_steps(target: Target, steps: tuple[Step, ...], seed: int, context: TransformContext) -> Target:
    import rvcbench.transforms.library  # noqa: F401 — registers every transform

    for index, step in enumerate(steps):
        rng = np.random.default_rng(stable_seed(seed, index, step.transform))
        target = TRANSFORMS[step.transform].function(target, rng, context, **dict(step.params))
    return target


class DatasetVoices:
    """Other speakers' recordings of the dataset, for transforms that mix in other voices."""

    def __init__(self, dataset: Dataset) -> None:
        manifest = dataset.manifest
        first = manifest.drop_duplicates("speaker_id").sort_values("speaker_id")
        self._files = dict(zip(first.speaker_id, first.target_file_name, strict=True))
        genders = first["gender"] if "gender" in first.columns else [None] * len(first)
        self._gender = dict(zip(first.speaker_id, genders, strict=True))
        self._dataset = dataset
        self._texts = DatasetTexts(manifest)
        self._audio: LruCache[str, Audio] = LruCache(OTHER_SPEAKER_CACHE)
        self._own = {str(sid): sorted(set(rows.prompt_file_name) | set(rows.target_file_name))
                     for sid, rows in manifest.groupby("speaker_id", sort=True)}

    def context_for(self, speaker_id: str) -> TransformContext:
        return TransformContext(speaker_id=speaker_id, gender=self._gender.get(speaker_id),
                                other_speakers=self.other_speakers, texts=self._texts.texts,
                                same_speaker=self.same_speaker)

    def other_speakers(self, speaker_id: str, gender: str = "any") -> list[tuple[str, Audio]]:
        """Recordings of speakers other than `speaker_id`; gender `same`/`other` needs a `gender` column."""
        own = self._gender.get(speaker_id)
        chosen = []
        for other in self._files:
            if other == speaker_id:
                continue
            if gender != "any" and (own is None or self._gender.get(other) is None
                                    or (self._gender[other] == own) != (gender == "same")):
                continue
            chosen.append((other, self._load(other)))
        return chosen

    def same_speaker(self, speaker_id: str, limit: int | None = None) -> list[tuple[str, Audio]]:
        """The speaker's own recordings (prompt and target files), sorted by file name, at most `limit`."""
        names = self._own.get(str(speaker_id), [])[:limit]
        chosen = []
        for name in names:
            audio = self._audio.get(f"file:{name}")
            if audio is None:
                audio = Audio(*load_audio(self._dataset.audio_path(name)))
                self._audio.put(f"file:{name}", audio)
            chosen.append((name, audio))
        return chosen

    def _load(self, speaker_id: str) -> Audio:
        audio = self._audio.get(speaker_id)
        if audio is None:
            audio = Audio(*load_audio(self._dataset.audio_path(self._files[speaker_id])))
            self._audio.put(speaker_id, audio)
        return audio


class PerturbedInputs:
    """Perturbed prompts: computed once into the shared cache, linked into the run's `inputs/`."""

    def __init__(self, shared_dir: Path, run_inputs_dir: Path, voices: DatasetVoices) -> None:
        self.shared_dir = shared_dir
        self.run_inputs_dir = run_inputs_dir
        self.voices = voices

    def prompt(self, source: Path, source_sha256: str, steps: tuple[Step, ...], seed: int,
               speaker_id: str) -> tuple[Audio, str]:
        """The perturbed prompt and its file name under the run's `inputs/` (TransformUnavailable propagates)."""
        key = hashlib.sha256(json.dumps(
            {"source": source_sha256, "steps": [s.as_dict() for s in steps], "seed": seed},
            sort_keys=True, default=str).encode()).hexdigest()[:20]
        name = f"{key}.flac"
        shared = self.shared_dir / name
        if not shared.exists():
            audio = apply_audio_steps(Audio(*load_audio(source)), steps, seed, self.voices.context_for(speaker_id))
            save_audio(shared, audio.wav, audio.sample_rate)
        local = self.run_inputs_dir / name
        if not local.exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(shared, local)
            except OSError:  # another file system: keep a copy instead
                shutil.copyfile(shared, local)
        return Audio(*load_audio(local)), name
