"""The statistics of a listening test: mean ratings with two-way bootstrap CIs, binomial preference, correlations.

- Mean rating (MOS, MUSHRA): ratings of one listener are correlated, and so are ratings of one item, so the
  95% CI is a percentile bootstrap that resamples listeners and items independently, with replacement
  (two-way bootstrap), and recomputes the mean over every rating of the drawn listeners on the drawn items.
  With one listener it is the ordinary bootstrap over items.
- Preference (ABX): the share of trials where A was chosen, with the exact (Clopper–Pearson) 95% CI and the
  two-sided exact binomial test against 1/2 (scipy.stats.binomtest).
- Correlation of a predictor with the per-clip listener mean: Pearson r with the Fisher-z CI (as
  scipy.stats.pearsonr's), Spearman ρ with the Fisher-z CI and the variance 1.06 / (n − 3) of Fieller, Hartley
  & Pearson (1957).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
MIN_CORRELATION_N = 4  # Fisher z needs n - 3 > 0
SPEARMAN_VARIANCE = 1.06  # Fieller, Hartley & Pearson (1957): var(atanh ρ) ≈ 1.06 / (n - 3)


@dataclass(frozen=True)
class MeanCI:
    mean: float
    ci_low: float
    ci_high: float
    n_ratings: int
    n_listeners: int
    n_items: int


@dataclass(frozen=True)
class Preference:
    wins: int
    n: int
    share: float
    ci_low: float
    ci_high: float
    p: float


@dataclass(frozen=True)
class Correlation:
    r: float
    ci_low: float
    ci_high: float
    n: int


def two_way_bootstrap_mean(listeners: list[str], items: list[str], ratings: list[float], *, resamples: int = 2000,
                           seed: int = 0) -> MeanCI:
    """Mean of `ratings` (one per (listener, item) row) and its 95% CI, resampling listeners and items."""
    values = np.asarray(ratings, dtype=np.float64)
    if values.size == 0:
        return MeanCI(math.nan, math.nan, math.nan, 0, 0, 0)
    listener_ids, l_index = np.unique(np.asarray(listeners, dtype=object), return_inverse=True)
    item_ids, i_index = np.unique(np.asarray(items, dtype=object), return_inverse=True)
    sums = np.zeros((len(listener_ids), len(item_ids)))
    counts = np.zeros_like(sums)
    np.add.at(sums, (l_index, i_index), values)
    np.add.at(counts, (l_index, i_index), 1.0)
    rng = np.random.default_rng(seed)
    l_weights = rng.multinomial(len(listener_ids), np.full(len(listener_ids), 1 / len(listener_ids)), resamples)
    i_weights = rng.multinomial(len(item_ids), np.full(len(item_ids), 1 / len(item_ids)), resamples)
    numerator = np.einsum("bl,li,bi->b", l_weights, sums, i_weights)
    denominator = np.einsum("bl,li,bi->b", l_weights, counts, i_weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(denominator > 0, numerator / denominator, np.nan)  # a draw may hit no rating (sparse)
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.nanpercentile(means, [tail, 100 - tail])
    return MeanCI(float(values.mean()), float(low), float(high), int(values.size), len(listener_ids), len(item_ids))


def preference(wins: int, n: int) -> Preference:
    """Share of `n` forced choices won, exact binomial CI and two-sided p against no preference (1/2)."""
    if n == 0:
        return Preference(0, 0, math.nan, math.nan, math.nan, math.nan)
    test = stats.binomtest(wins, n, 0.5)
    ci = test.proportion_ci(CONFIDENCE, method="exact")
    return Preference(wins, n, wins / n, float(ci.low), float(ci.high), float(test.pvalue))


def _fisher_interval(r: float, n: int, variance: float) -> tuple[float, float]:
    z = math.atanh(min(max(r, -1.0), 1.0) * (1 - 1e-15))
    half = stats.norm.ppf(0.5 + CONFIDENCE / 2) * math.sqrt(variance / (n - 3))
    return math.tanh(z - half), math.tanh(z + half)


def _usable(x: np.ndarray, y: np.ndarray) -> bool:
    return len(x) >= MIN_CORRELATION_N and np.ptp(x) > 0 and np.ptp(y) > 0


def pearson(x: list[float], y: list[float]) -> Correlation:
    """Pearson r and its Fisher-z 95% CI; NaN with fewer than 4 clips or a constant input."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not _usable(a, b):
        return Correlation(math.nan, math.nan, math.nan, len(a))
    r = float(stats.pearsonr(a, b).statistic)
    return Correlation(r, *_fisher_interval(r, len(a), 1.0), len(a))


def spearman(x: list[float], y: list[float]) -> Correlation:
    """Spearman ρ and its Fisher-z 95% CI with Fieller's variance 1.06 / (n − 3)."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not _usable(a, b):
        return Correlation(math.nan, math.nan, math.nan, len(a))
    rho = float(stats.spearmanr(a, b).statistic)
    return Correlation(rho, *_fisher_interval(rho, len(a), SPEARMAN_VARIANCE), len(a))
