"""Spoof detectors (countermeasures) for the detectability analysis: the contract and the offline baselines.

Contract (one instance per condition and task; the engine owns caching, folds and the EER):

    class MyDetector(Detector):
        meta = DetectorMeta(name="my_cm", version="1", sample_rate=16000, trainable=False, description=...)
        def __init__(self, **settings): ...          # keyword settings, set from the task spec's detector_settings
        def load(self, device: str) -> None: ...     # optional: load weights once
        def represent(self, wav) -> np.ndarray: ...  # one utterance (float32 mono at meta.sample_rate) → an array,
                                                     # deterministic; cached in the run directory
        def fit(self, representations, labels, seed) -> None: ...   # trainable only; labels 1 = bona fide
        def score(self, representations) -> np.ndarray: ...         # higher = more bona fide

A trainable detector is trained and tested with speaker-disjoint cross-validation on the run's own clips;
a pretrained one (`trainable=False`, e.g. AASIST) is never fitted and scores every utterance once. Outside
packages add detectors through the `rvcbench.detectors` entry-point group (`name = "module:Class"`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from rvcbench.analyses.lfcc import LfccSettings, lfcc


@dataclass(frozen=True)
class DetectorMeta:
    name: str
    version: str
    sample_rate: int  # audio reaches `represent` at this rate
    trainable: bool  # True: fitted per fold on the run's data; False: pretrained, scores as shipped
    description: str
    reference: str = ""


class Detector:
    meta: ClassVar[DetectorMeta]

    def settings(self) -> dict:
        """The settings that determine the scores: recorded with the result and part of the cache key."""
        return {}

    def load(self, device: str) -> None:
        """Load weights once (pretrained detectors); the offline baselines have nothing to load."""

    def represent(self, wav: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit(self, representations: list[np.ndarray], labels: np.ndarray, seed: int) -> None:
        raise NotImplementedError(f"{self.meta.name} is pretrained: it has nothing to fit")

    def score(self, representations: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    @classmethod
    def parameters(cls) -> tuple[str, ...]:
        """Keyword settings a task spec may set (the constructor's parameters)."""
        return tuple(p for p in inspect.signature(cls.__init__).parameters if p != "self")


def one_thread():
    """Run small numerical fits on one BLAS/OpenMP thread: on a busy machine the thread pools of numpy and
    scikit-learn spin instead of working (20× slower measured), and one thread gives the same numbers."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return value


class LfccGmm(Detector):
    """Two GMMs on LFCC frames, bona fide and spoof; score = mean frame log-likelihood ratio (ASVspoof 2019 B2).

    The baseline's 512 diagonal components are scaled down to 32 by default, for training sets of tens of
    utterances (a few thousand frames per class); features are standardised with the training set's
    mean and deviation before EM. Frames beyond `max_frames` per class are subsampled evenly.
    """

    meta = DetectorMeta(
        name="lfcc_gmm", version="1", sample_rate=16000, trainable=True,
        description="LFCC (20 + Δ + ΔΔ) front end, bona fide vs spoof diagonal GMMs, log-likelihood ratio",
        reference="Todisco et al., ASVspoof 2019: future horizons in spoofed and fake audio detection, "
                  "Interspeech 2019 (LFCC-GMM baseline)",
    )

    def __init__(self, components: int = 32, max_frames: int = 100_000, max_iter: int = 100) -> None:
        self.components = _positive_int("components", components)
        self.max_frames = _positive_int("max_frames", max_frames)
        self.max_iter = _positive_int("max_iter", max_iter)
        self.lfcc = LfccSettings()
        self._models: tuple | None = None

    def settings(self) -> dict:
        return {"components": self.components, "covariance": "diag", "max_frames": self.max_frames,
                "max_iter": self.max_iter, "lfcc": self.lfcc.to_dict()}

    def represent(self, wav: np.ndarray) -> np.ndarray:
        return lfcc(wav, self.lfcc)

    def fit(self, representations: list[np.ndarray], labels: np.ndarray, seed: int) -> None:
        from sklearn.mixture import GaussianMixture

        with one_thread():
            self._fit(GaussianMixture, representations, labels, seed)

    def _fit(self, gmm_class: type, representations: list[np.ndarray], labels: np.ndarray, seed: int) -> None:
        labels = np.asarray(labels)
        pooled = np.concatenate(representations).astype(np.float64)
        mean, std = pooled.mean(axis=0), pooled.std(axis=0) + 1e-8
        models = []
        for label in (1, 0):
            frames = np.concatenate([r for r, y in zip(representations, labels, strict=True) if y == label])
            if len(frames) > self.max_frames:
                frames = frames[np.linspace(0, len(frames) - 1, self.max_frames).astype(int)]
            gmm = gmm_class(n_components=min(self.components, len(frames)), covariance_type="diag",
                            max_iter=self.max_iter, reg_covar=1e-4, init_params="k-means++", random_state=seed)
            models.append(gmm.fit((frames - mean) / std))
        self._models = (mean, std, models[0], models[1])

    def score(self, representations: list[np.ndarray]) -> np.ndarray:
        if self._models is None:
            raise RuntimeError("fit the detector before scoring")
        mean, std, bona, spoof = self._models
        out = []
        with one_thread():
            for frames in representations:
                x = (np.asarray(frames, dtype=np.float64) - mean) / std
                out.append(float(np.mean(bona.score_samples(x)) - np.mean(spoof.score_samples(x))))
        return np.array(out)


class LfccLogistic(Detector):
    """Logistic regression on utterance statistics of LFCC frames (mean and standard deviation, 120 values),
    standardised; score = log-odds of bona fide. Fast and stable on small training sets."""

    meta = DetectorMeta(
        name="lfcc_lr", version="1", sample_rate=16000, trainable=True,
        description="LFCC (20 + Δ + ΔΔ) utterance mean and deviation, L2 logistic regression, log-odds",
    )

    def __init__(self, c: float = 1.0) -> None:
        if isinstance(c, bool) or not isinstance(c, (int, float)) or c <= 0:
            raise ValueError(f"c (inverse regularisation strength) must be a positive number; got {c!r}")
        self.c = float(c)
        self.lfcc = LfccSettings()
        self._model = None

    def settings(self) -> dict:
        return {"c": self.c, "statistics": ["mean", "std"], "lfcc": self.lfcc.to_dict()}

    def represent(self, wav: np.ndarray) -> np.ndarray:
        frames = lfcc(wav, self.lfcc)
        return np.concatenate([frames.mean(axis=0), frames.std(axis=0)])

    def fit(self, representations: list[np.ndarray], labels: np.ndarray, seed: int) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(StandardScaler(), LogisticRegression(C=self.c, max_iter=2000, random_state=seed))
        with one_thread():
            self._model = model.fit(np.stack(representations), np.asarray(labels))

    def score(self, representations: list[np.ndarray]) -> np.ndarray:
        if self._model is None:
            raise RuntimeError("fit the detector before scoring")
        return self._model.decision_function(np.stack(representations))
