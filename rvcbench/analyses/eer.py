"""Equal error rate of a bona fide vs spoof detector, with a speaker-level bootstrap CI.

Scores are "higher = more bona fide"; a trial is accepted as bona fide when its score ≥ the threshold.
For every distinct score t (and +∞), FRR(t) = share of bona fide scores < t and FAR(t) = share of spoof
scores ≥ t. These points, joined by straight lines, form the ROC; the EER is where it crosses
FAR = FRR. Tied scores are one threshold, so a detector that gives both classes the same scores has an
EER of exactly 0.5 (chance), whatever the order of the trials.

Trials may carry weights (how many times a bootstrap resample drew their speaker), so one function
serves the point estimate and every bootstrap draw.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rvcbench.scoring.aggregate import CI_LEVEL, N_RESAMPLES


def equal_error_rate(bona_fide: np.ndarray, spoof: np.ndarray, bona_fide_weights: np.ndarray | None = None,
                     spoof_weights: np.ndarray | None = None) -> float:
    """EER in [0, 1] of scores where higher means bona fide; NaN if a class has no (weighted) trial."""
    bona = np.asarray(bona_fide, dtype=np.float64)
    spoof = np.asarray(spoof, dtype=np.float64)
    wb = np.ones_like(bona) if bona_fide_weights is None else np.asarray(bona_fide_weights, dtype=np.float64)
    ws = np.ones_like(spoof) if spoof_weights is None else np.asarray(spoof_weights, dtype=np.float64)
    total_b, total_s = wb.sum(), ws.sum()
    if total_b <= 0 or total_s <= 0:
        return float("nan")
    thresholds = np.unique(np.concatenate([bona, spoof]))
    # FRR at threshold t: bona fide weight strictly below t; FAR: spoof weight at or above t.
    order_b = np.argsort(bona, kind="stable")
    cum_b = np.concatenate([[0.0], np.cumsum(wb[order_b])])
    frr = cum_b[np.searchsorted(bona[order_b], thresholds, side="left")] / total_b
    order_s = np.argsort(spoof, kind="stable")
    cum_s = np.concatenate([[0.0], np.cumsum(ws[order_s])])
    far = 1.0 - cum_s[np.searchsorted(spoof[order_s], thresholds, side="left")] / total_s
    frr = np.append(frr, 1.0)  # threshold +∞: everything rejected
    far = np.append(far, 0.0)
    diff = frr - far  # from −1 (lowest threshold … ) up to +1, non-decreasing
    j = int(np.argmax(diff >= 0))
    if diff[j] == 0 or j == 0:
        return float(frr[j])
    alpha = -diff[j - 1] / (diff[j] - diff[j - 1])
    return float(frr[j - 1] + alpha * (frr[j] - frr[j - 1]))


@dataclass(frozen=True)
class Trials:
    """Pooled out-of-fold scores of one condition: score, label (1 = bona fide) and speaker of each trial."""

    scores: np.ndarray
    labels: np.ndarray
    speakers: np.ndarray

    def eer(self, weights: np.ndarray | None = None) -> float:
        """EER, optionally with one weight per trial."""
        bona = self.labels == 1
        if weights is None:
            return equal_error_rate(self.scores[bona], self.scores[~bona])
        return equal_error_rate(self.scores[bona], self.scores[~bona], weights[bona], weights[~bona])


@dataclass(frozen=True)
class SpeakerResamples:
    """Bootstrap draws over speakers: each draw picks len(speakers) speakers with replacement; a trial's
    weight in a draw is how often its speaker was picked. The same draws serve every condition (paired)."""

    speakers: tuple[str, ...]
    counts: np.ndarray  # (draws, speakers)

    @classmethod
    def draw(cls, speakers: list[str], seed: int, n_resamples: int = N_RESAMPLES) -> SpeakerResamples:
        ordered = tuple(sorted(set(speakers)))
        picks = np.random.default_rng(seed).integers(0, len(ordered), size=(n_resamples, len(ordered)))
        counts = np.zeros((n_resamples, len(ordered)))
        np.add.at(counts, (np.arange(n_resamples)[:, None], picks), 1.0)
        return cls(ordered, counts)

    def weights(self, trials: Trials) -> np.ndarray:
        """(draws, trials) weights; a speaker outside the draw set weighs 0."""
        index = {s: i for i, s in enumerate(self.speakers)}
        columns = np.array([index.get(s, -1) for s in trials.speakers])
        padded = np.concatenate([self.counts, np.zeros((len(self.counts), 1))], axis=1)  # column −1 → weight 0
        return padded[:, columns]


@dataclass(frozen=True)
class EerSummary:
    mean: float  # the EER of all pooled trials (named `mean` like every other reported number)
    ci_low: float
    ci_high: float
    n: int  # trials: bona fide + spoof
    n_bona_fide: int
    n_spoof: int
    n_speakers: int

    def to_dict(self) -> dict:
        return asdict(self)


def summarize_eer(trials: Trials, resamples: SpeakerResamples, level: float = CI_LEVEL) -> EerSummary:
    """EER of the pooled trials and its percentile CI over the speaker resamples."""
    draws = np.array([trials.eer(w) for w in resamples.weights(trials)])
    low, high = _percentile(draws, level)
    bona = int(np.sum(trials.labels == 1))
    return EerSummary(trials.eer(), low, high, int(len(trials.scores)), bona, int(len(trials.scores) - bona),
                      int(len(set(trials.speakers.tolist()))))


def summarize_eer_difference(a: Trials, b: Trials, resamples: SpeakerResamples, level: float = CI_LEVEL) -> dict:
    """EER(a) − EER(b) with a paired CI: both conditions are recomputed on the same speaker draws."""
    draws = np.array([a.eer(wa) - b.eer(wb) for wa, wb in zip(resamples.weights(a), resamples.weights(b),
                                                             strict=True)])
    low, high = _percentile(draws, level)
    return {"mean": a.eer() - b.eer(), "ci_low": low, "ci_high": high,
            "n_speakers": len(set(a.speakers.tolist()) & set(b.speakers.tolist()))}


def _percentile(draws: np.ndarray, level: float) -> tuple[float, float]:
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high)
