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


DRAW_CHUNK_CELLS = 1 << 20  # resample indices drawn at most ~1 M at a time: memory stays flat at any n


def _bootstrap(rng: np.random.Generator, n: int, n_resamples: int, statistic) -> np.ndarray:
    """`statistic(idx)` for `n_resamples` resamples of n items, drawn in chunks of rows.

    Successive draws from one generator give the same stream as one big draw, so the result does not
    depend on the chunk size (the CIs match those of the unchunked computation exactly).
    """
    rows = max(1, DRAW_CHUNK_CELLS // max(n, 1))
    return np.concatenate([statistic(rng.integers(0, n, size=(min(rows, n_resamples - start), n)))
                           for start in range(0, n_resamples, rows)])


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
    draws = _bootstrap(np.random.default_rng(seed), finite.size, n_resamples, lambda idx: finite[idx].mean(axis=1))
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
    draws = _bootstrap(np.random.default_rng(seed), num.size, n_resamples,
                       lambda idx: num[idx].sum(axis=1) / np.maximum(den[idx].sum(axis=1), 1e-12))
    low, high = _percentile_ci(draws, level)
    return MetricSummary(float(num.sum() / den.sum()), low, high, int(num.size), failures)


def _paired(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok], int(a.size - ok.sum())


def summarize_paired_difference(a: np.ndarray, b: np.ndarray, seed: int) -> MetricSummary:
    """Mean of a − b over pairs where both are finite (paired bootstrap over pairs)."""
    a, b, failures = _paired(a, b)
    summary = summarize_mean(a - b, seed)
    return MetricSummary(summary.mean, summary.ci_low, summary.ci_high, summary.n, failures)


def summarize_paired_ratio_of_means(a: np.ndarray, b: np.ndarray, seed: int, *,
                                    n_resamples: int = N_RESAMPLES, level: float = CI_LEVEL) -> MetricSummary:
    """mean(a) / mean(b) over pairs where both are finite, CI by resampling pairs (e.g. SIM retention)."""
    a, b, failures = _paired(a, b)
    if a.size == 0 or b.mean() == 0:
        return MetricSummary(float("nan"), float("nan"), float("nan"), int(a.size), failures)
    draws = _bootstrap(np.random.default_rng(seed), a.size, n_resamples,
                       lambda idx: a[idx].mean(axis=1) / b[idx].mean(axis=1))
    low, high = _percentile_ci(draws, level)
    return MetricSummary(float(a.mean() / b.mean()), low, high, int(a.size), failures)


def summarize_paired_ratio_difference(num_a: np.ndarray, den_a: np.ndarray, num_b: np.ndarray, den_b: np.ndarray,
                                      seed: int, *, n_resamples: int = N_RESAMPLES,
                                      level: float = CI_LEVEL) -> MetricSummary:
    """Σnum_a/Σden_a − Σnum_b/Σden_b over pairs where all four are finite (e.g. corpus WER increase)."""
    arrays = [np.asarray(x, dtype=np.float64) for x in (num_a, den_a, num_b, den_b)]
    ok = np.logical_and.reduce([np.isfinite(x) for x in arrays])
    failures = int(ok.size - ok.sum())
    na, da, nb, db = (x[ok] for x in arrays)
    if na.size == 0 or da.sum() <= 0 or db.sum() <= 0:
        return MetricSummary(float("nan"), float("nan"), float("nan"), int(na.size), failures)
    draws = _bootstrap(np.random.default_rng(seed), na.size, n_resamples,
                       lambda idx: (na[idx].sum(axis=1) / np.maximum(da[idx].sum(axis=1), 1e-12)
                                    - nb[idx].sum(axis=1) / np.maximum(db[idx].sum(axis=1), 1e-12)))
    low, high = _percentile_ci(draws, level)
    return MetricSummary(float(na.sum() / da.sum() - nb.sum() / db.sum()), low, high, int(na.size), failures)
