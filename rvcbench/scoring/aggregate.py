"""Aggregate per-utterance metrics into means with 95% bootstrap confidence intervals.

Mean metrics: percentile bootstrap over utterances (`n_resamples` draws with replacement, seeded).
Corpus-level ratios (WER = Σ word errors / Σ reference words): the same bootstrap, resampling
utterances and recomputing the ratio. NaN values (failed items, failed scorers) are excluded from
the mean and counted as failures: `n + failures` is always the number of planned items.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

CI_LEVEL = 0.95
N_RESAMPLES = 2000


@dataclass(frozen=True)
class MetricSummary:
    mean: float
    ci_low: float
    ci_high: float
    n: int
    failures: int

    def to_dict(self) -> dict:
        return asdict(self)


def _percentile_ci(draws: np.ndarray, level: float) -> tuple[float, float]:
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [alpha, 1.0 - alpha])
    return float(low), float(high)


def summarize_mean(values: np.ndarray, seed: int, *, n_resamples: int = N_RESAMPLES,
                   level: float = CI_LEVEL) -> MetricSummary:
    """Mean of the finite values with a percentile-bootstrap CI; NaNs are counted as failures."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    failures = int(values.size - finite.size)
    if finite.size == 0:
        return MetricSummary(float("nan"), float("nan"), float("nan"), 0, failures)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, finite.size, size=(n_resamples, finite.size))
    draws = finite[idx].mean(axis=1)
    low, high = _percentile_ci(draws, level)
    return MetricSummary(float(finite.mean()), low, high, int(finite.size), failures)


def summarize_ratio(numerators: np.ndarray, denominators: np.ndarray, seed: int, *,
                    n_resamples: int = N_RESAMPLES, level: float = CI_LEVEL) -> MetricSummary:
    """Σnum/Σden over the items where both are finite, with a bootstrap CI over items."""
    num = np.asarray(numerators, dtype=np.float64)
    den = np.asarray(denominators, dtype=np.float64)
    ok = np.isfinite(num) & np.isfinite(den)
    failures = int(num.size - ok.sum())
    num, den = num[ok], den[ok]
    if num.size == 0 or den.sum() <= 0:
        return MetricSummary(float("nan"), float("nan"), float("nan"), int(num.size), failures)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, num.size, size=(n_resamples, num.size))
    draws = num[idx].sum(axis=1) / np.maximum(den[idx].sum(axis=1), 1e-12)
    low, high = _percentile_ci(draws, level)
    return MetricSummary(float(num.sum() / den.sum()), low, high, int(num.size), failures)
