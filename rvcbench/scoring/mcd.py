"""Mel-cepstral distortion (MCD, dB) between a clip and the real target recording, DTW-aligned.

MCD values depend on every step of the recipe (analysis, cepstral order and warping, silence
handling, alignment, averaging), so numbers are only comparable with numbers from this exact recipe
(`RECIPE`, recorded in the scorer's settings and version):

  1. Both waveforms at 16 kHz, float64.
  2. WORLD analysis with pyworld, 5 ms frame period: `dio` (f0 floor 71 Hz, ceil 800 Hz) refined by
     `stonemask`, then the `cheaptrick` spectral envelope (fft size from pyworld's default).
  3. `pyworld.code_spectral_envelope(sp, 16000, 25)`: 25 mel-cepstral coefficients per frame;
     c0 (the energy term) is dropped, leaving c1..c24.
  4. Silence frames are dropped from each recording on its own: the frame energy is
     10·log10(Σ_f sp[t, f]) (the envelope's power summed over frequency); frames more than 40 dB below
     the recording's loudest frame are removed (leading, trailing and internal pauses alike).
  5. DTW (`librosa.sequence.dtw`, Euclidean frame distance, librosa's default steps and weights)
     between the two remaining frame sequences.
  6. For each (i, j) on the warping path, (10 / ln 10) · sqrt(2 · Σ_d (c_d[i] − c'_d[j])²); MCD is
     the mean over the path.

Lower is better; a recording against itself gives 0. The target's features are cached by a hash of
its samples, since the same target recurs across models and tasks within a run.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from rvcbench.environment import package_version
from rvcbench.errors import MissingDependencyError
from rvcbench.lru import LruCache
from rvcbench.scoring.contract import NEEDS_PARALLEL_TARGET, NEEDS_TARGET_AUDIO, Metric, ScoreInput, Scorer, ScorerMeta
from rvcbench.scoring.inputs import unusable_reason

CODE_VERSION = "1"
TARGET_CACHE_ITEMS = 512  # ~0.2 MB of mel-cepstra per target: bounded memory on any dataset size
SAMPLE_RATE = 16000
FRAME_PERIOD_MS = 5.0
N_MCEP = 25  # c0..c24; c0 is dropped
SILENCE_DB = 40.0
MIN_FRAMES = 5
MCD_CONSTANT = 10.0 / math.log(10.0) * math.sqrt(2.0)

RECIPE = {
    "analysis": "pyworld dio+stonemask, cheaptrick",
    "frame_period_ms": FRAME_PERIOD_MS,
    "cepstra": f"pyworld.code_spectral_envelope order {N_MCEP}, c0 dropped",
    "silence": f"frames {SILENCE_DB:.0f} dB below the loudest frame dropped",
    "alignment": "librosa.sequence.dtw, euclidean",
    "average": "mean over the DTW path",
}



class FeatureError(ValueError):
    """A waveform that yields no usable mel-cepstral frames."""


def mel_cepstra(wav: np.ndarray, fs: int = SAMPLE_RATE) -> np.ndarray:
    """Steps 2–4: the non-silent frames × 24 mel-cepstra (c1..c24)."""
    import pyworld

    reason = unusable_reason(wav)
    if reason:
        raise FeatureError(reason)
    x = np.asarray(wav, dtype=np.float64)
    f0, t = pyworld.dio(x, fs, frame_period=FRAME_PERIOD_MS)
    f0 = pyworld.stonemask(x, f0, t, fs)
    sp = pyworld.cheaptrick(x, f0, t, fs)
    energy_db = 10.0 * np.log10(np.maximum(sp.sum(axis=1), 1e-20))
    keep = energy_db >= energy_db.max() - SILENCE_DB
    mcep = pyworld.code_spectral_envelope(sp, fs, N_MCEP)[:, 1:]
    mcep = mcep[keep]
    if len(mcep) < MIN_FRAMES:
        raise FeatureError(f"only {len(mcep)} non-silent frames")
    return np.ascontiguousarray(mcep)


def mcd_from_cepstra(a: np.ndarray, b: np.ndarray) -> float:
    """Steps 5–6: DTW-aligned mean mel-cepstral distortion in dB."""
    import librosa

    _, path = librosa.sequence.dtw(X=a.T, Y=b.T, metric="euclidean")
    diff = a[path[:, 0]] - b[path[:, 1]]
    return float(MCD_CONSTANT * np.mean(np.sqrt(np.sum(diff * diff, axis=1))))


def mel_cepstral_distortion(wav: np.ndarray, reference: np.ndarray, fs: int = SAMPLE_RATE) -> float:
    """MCD (dB) of `wav` against `reference`, both at `fs`."""
    return mcd_from_cepstra(mel_cepstra(wav, fs), mel_cepstra(reference, fs))


def _audio_key(wav: np.ndarray) -> str:
    data = np.ascontiguousarray(wav, dtype=np.float32)
    return hashlib.blake2b(data.tobytes(), digest_size=16).hexdigest() + f":{data.size}"


class MelCepstralDistortion(Scorer):
    meta = ScorerMeta(
        name="mcd",
        version=f"{CODE_VERSION}+pyworld-{package_version('pyworld')}",
        model="WORLD (pyworld) mel-cepstra, no learned model",
        needs=frozenset({NEEDS_TARGET_AUDIO, NEEDS_PARALLEL_TARGET}),
        sample_rate=SAMPLE_RATE,
        metrics=(
            Metric("mcd", False, "Mel-cepstral distortion (dB) vs the real target recording, DTW-aligned, "
                                 "c1..c24 of WORLD coded envelopes, silence dropped (rvcbench recipe)"),
        ),
        requirements="pip install pyworld librosa",
        settings=RECIPE,
    )

    def __init__(self) -> None:
        self._target_cache: LruCache[str, np.ndarray | FeatureError] = LruCache(TARGET_CACHE_ITEMS)

    def load(self, device: str) -> None:
        try:
            import librosa  # noqa: F401
            import pyworld  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError(f"MCD needs pyworld and librosa ({exc}): {self.meta.requirements}") from exc

    def _target_features(self, wav: np.ndarray) -> np.ndarray | FeatureError:
        key = _audio_key(wav)
        features = self._target_cache.get(key)
        if features is None:
            try:
                features = mel_cepstra(wav)
            except FeatureError as exc:
                features = exc
            self._target_cache.put(key, features)
        return features

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        error_key = f"{self.meta.name}_error"
        results: list[dict[str, float | str]] = []
        for item in batch:
            if item.target_audio is None:
                results.append({"mcd": math.nan, error_key: "no target recording"})
                continue
            target = self._target_features(item.target_audio)
            if isinstance(target, FeatureError):
                results.append({"mcd": math.nan, error_key: f"target: {target}"})
                continue
            if _audio_key(item.audio) == _audio_key(item.target_audio):
                clip: np.ndarray | FeatureError = target
            else:
                try:
                    clip = mel_cepstra(item.audio)
                except FeatureError as exc:
                    results.append({"mcd": math.nan, error_key: f"clip: {exc}"})
                    continue
            results.append({"mcd": mcd_from_cepstra(clip, target)})
        return results
