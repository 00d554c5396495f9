"""Prosody similarity of the clone to the real target recording: pitch range, loudness variation, pace.

Offline and model-free, so the `expressive` task can say whether a clone keeps the prompt speaker's
expressiveness. Per clip (16 kHz), each computed the same way for the clone and the target:
- pitch range: 12·log2(F0 95th percentile / F0 5th percentile) in semitones over voiced frames
  (WORLD DIO + StoneMask, 5 ms frames, 60–600 Hz);
- energy variation: standard deviation of frame energy (dB, 25 ms frames, 10 ms hop) over speech frames
  (frames within 40 dB of the loudest);
- speaking rate: words of the target text per second of speech, speech = the non-silent intervals of
  `librosa.effects.split(top_db=35)`.
Metrics: `f0_range_diff` = |range(clone) − range(target)| (semitones), `energy_var_diff` =
|σE(clone) − σE(target)| (dB), `rate_error` = |log2(rate(clone) / rate(target))| (0: same pace,
1: twice or half as fast). Lower is better for all three. They need the target recording to say the
same text (a parallel target).
"""

from __future__ import annotations

import math

import numpy as np

from rvcbench.environment import package_version
from rvcbench.errors import MissingDependencyError
from rvcbench.lru import LruCache
from rvcbench.scoring.contract import (
    NEEDS_PARALLEL_TARGET,
    NEEDS_TARGET_AUDIO,
    NEEDS_TEXT,
    Metric,
    ScoreInput,
    Scorer,
    ScorerMeta,
)
from rvcbench.scoring.inputs import unusable_reason
from rvcbench.scoring.speaker_similarity import audio_key

CODE_VERSION = "1"
SAMPLE_RATE = 16000
F0_FLOOR, F0_CEIL, FRAME_MS = 60.0, 600.0, 5.0
ENERGY_FRAME, ENERGY_HOP, ENERGY_RANGE_DB = 400, 160, 40.0
SPLIT_TOP_DB = 35
MIN_VOICED_FRAMES = 20
TARGET_CACHE_ITEMS = 1024


class ProsodyError(ValueError):
    """The clip has too little voiced speech for a prosody measurement."""


def prosody_features(wav: np.ndarray, words: int, sample_rate: int = SAMPLE_RATE) -> dict[str, float]:
    """Pitch range (semitones), energy variation (dB) and speaking rate (words/s) of one clip."""
    import librosa
    import pyworld

    reason = unusable_reason(wav)
    if reason:
        raise ProsodyError(reason)
    x = np.asarray(wav, dtype=np.float64)
    f0, times = pyworld.dio(x, sample_rate, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=FRAME_MS)
    f0 = pyworld.stonemask(x, f0, times, sample_rate)
    voiced = f0[f0 > 0]
    if voiced.size < MIN_VOICED_FRAMES:
        raise ProsodyError(f"only {voiced.size} voiced frames")
    low, high = np.percentile(voiced, [5, 95])
    frames = librosa.util.frame(np.pad(x, ENERGY_FRAME // 2), frame_length=ENERGY_FRAME, hop_length=ENERGY_HOP)
    energy = 10 * np.log10(np.mean(frames**2, axis=0) + 1e-12)
    speech_energy = energy[energy > energy.max() - ENERGY_RANGE_DB]
    intervals = librosa.effects.split(x, top_db=SPLIT_TOP_DB)
    speech_seconds = float(sum(end - start for start, end in intervals)) / sample_rate
    return {"f0_range": 12 * math.log2(high / low), "energy_std": float(np.std(speech_energy)),
            "rate": words / speech_seconds if speech_seconds > 0 else math.nan}


def prosody_distances(clip: dict[str, float], target: dict[str, float]) -> dict[str, float]:
    return {"f0_range_diff": abs(clip["f0_range"] - target["f0_range"]),
            "energy_var_diff": abs(clip["energy_std"] - target["energy_std"]),
            "rate_error": abs(math.log2(clip["rate"] / target["rate"]))}


class ProsodySimilarity(Scorer):
    meta = ScorerMeta(
        name="prosody",
        version=f"{CODE_VERSION}+pyworld-{package_version('pyworld')}+librosa-{package_version('librosa')}",
        model="WORLD DIO/StoneMask F0 and frame energy, no learned model",
        needs=frozenset({NEEDS_TARGET_AUDIO, NEEDS_PARALLEL_TARGET, NEEDS_TEXT}),
        sample_rate=SAMPLE_RATE,
        metrics=(
            Metric("f0_range_diff", False, "|pitch range of clone − of target| in semitones (5th–95th pct F0)"),
            Metric("energy_var_diff", False, "|std of frame energy of clone − of target| in dB (speech frames)"),
            Metric("rate_error", False, "|log2(speaking rate of clone / of target)|, words per speech second"),
        ),
        requirements="pip install pyworld librosa",
        settings={"f0": f"dio+stonemask {F0_FLOOR:g}-{F0_CEIL:g} Hz, {FRAME_MS:g} ms",
                  "energy": f"{ENERGY_FRAME}/{ENERGY_HOP} samples, top {ENERGY_RANGE_DB:g} dB",
                  "speech": f"librosa.effects.split top_db={SPLIT_TOP_DB}"},
    )

    def __init__(self) -> None:
        self._targets: LruCache[str, dict | ProsodyError] = LruCache(TARGET_CACHE_ITEMS)

    def load(self, device: str) -> None:
        try:
            import librosa  # noqa: F401
            import pyworld  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError(f"prosody needs pyworld and librosa ({exc}): {self.meta.requirements}") \
                from exc

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        error_key = f"{self.meta.name}_error"
        results: list[dict[str, float | str]] = []
        for item in batch:
            words = len(item.target_text.split())
            if item.target_audio is None or words == 0:
                results.append({error_key: "no target recording or empty text"})
                continue
            target = self._target(item.target_audio, words)
            try:
                if isinstance(target, ProsodyError):
                    raise ProsodyError(f"target: {target}")
                results.append(prosody_distances(prosody_features(item.audio, words), target))
            except ProsodyError as exc:
                results.append({error_key: str(exc)})
        return results

    def _target(self, wav: np.ndarray, words: int) -> dict | ProsodyError:
        key = f"{audio_key(wav)}:{words}"
        cached = self._targets.get(key)
        if cached is None:
            try:
                cached = prosody_features(wav, words)
            except ProsodyError as exc:
                cached = exc
            self._targets.put(key, cached)
        return cached
