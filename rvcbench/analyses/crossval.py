"""Speaker-disjoint k-fold cross-validation: every speaker's clips are in exactly one test fold.

A detector tested on speakers it was trained on could learn the speakers instead of the spoofing, so
folds group clips by `speaker_id`. Speakers are shuffled with the seed and dealt round-robin into
k = min(folds, speakers) folds, so folds hold nearly equal numbers of speakers and the same speakers
fall in the same fold in every condition of a run.
"""

from __future__ import annotations

import numpy as np

from rvcbench.analyses.detectors import Detector
from rvcbench.errors import RvcbenchError
from rvcbench.seeds import stable_seed


def speaker_folds(speakers: list[str], n_folds: int, seed: int) -> dict[str, int]:
    """speaker → fold index in [0, min(n_folds, number of speakers))."""
    unique = sorted(set(speakers))
    k = min(n_folds, len(unique))
    order = np.random.default_rng(seed).permutation(len(unique))
    return {unique[i]: rank % k for rank, i in enumerate(order)}


def cross_validated_scores(detector: Detector, representations: list[np.ndarray], labels: np.ndarray,
                           speakers: list[str], n_folds: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold score of every trial (the detector trained on the other folds' speakers) and its fold."""
    labels = np.asarray(labels)
    fold_of = speaker_folds(speakers, n_folds, stable_seed(seed, "folds"))
    folds = np.array([fold_of[s] for s in speakers])
    scores = np.full(len(labels), np.nan)
    for fold in range(max(fold_of.values()) + 1):
        test, train = np.flatnonzero(folds == fold), np.flatnonzero(folds != fold)
        if len(set(labels[train].tolist())) < 2:
            raise RvcbenchError(f"fold {fold}: the training speakers lack bona fide or spoof clips")
        detector.fit([representations[i] for i in train], labels[train], seed=stable_seed(seed, "fit", fold))
        scores[test] = detector.score([representations[i] for i in test])
    return scores, folds
