"""Means with bootstrap CIs, corpus-level ratios, and failure counts."""

from __future__ import annotations

import numpy as np

from rvcbench.scoring.aggregate import summarize_mean, summarize_ratio
from rvcbench.summary import format_summary, summarize_records


def test_bootstrap_ci_brackets_the_mean_and_shrinks_with_more_data():
    rng = np.random.default_rng(0)
    small = summarize_mean(rng.normal(0.7, 0.1, 20), seed=1)
    large = summarize_mean(rng.normal(0.7, 0.1, 2000), seed=1)
    assert small.ci_low < small.mean < small.ci_high
    assert (large.ci_high - large.ci_low) < (small.ci_high - small.ci_low) / 5
    assert abs(large.mean - 0.7) < 0.01


def test_bootstrap_is_reproducible_with_its_seed():
    values = np.linspace(0, 1, 37)
    assert summarize_mean(values, seed=3) == summarize_mean(values, seed=3)
    assert summarize_mean(values, seed=3).ci_low != summarize_mean(values, seed=4).ci_low


def test_nan_values_are_counted_as_failures_not_averaged():
    summary = summarize_mean(np.array([1.0, np.nan, 3.0, np.nan]), seed=0)
    assert summary.mean == 2.0 and summary.n == 2 and summary.failures == 2


def test_corpus_ratio_sums_before_dividing():
    # per-utterance WERs are 1/1 and 0/9: mean 0.5, corpus WER 0.1
    ratio = summarize_ratio(np.array([1.0, 0.0]), np.array([1.0, 9.0]), seed=0)
    assert ratio.mean == 0.1 and ratio.n == 2


def test_run_summary_counts_failed_items_in_every_metric():
    from rvcbench.scoring.contract import Metric, ScorerMeta

    meta = ScorerMeta(name="toy", version="1", model="none", needs=frozenset(), sample_rate=16000,
                      metrics=(Metric("sim", True, "toy similarity"),))
    records = [
        {"status": "ok", "sim": 0.8, "rtf": 0.1},
        {"status": "ok", "sim": 0.6, "rtf": 0.3},
        {"status": "failed", "error_type": "RuntimeError", "error_message": "boom"},
    ]
    summary = summarize_records(records, [meta], seed=0)
    assert summary["metrics"]["sim"]["n"] == 2 and summary["metrics"]["sim"]["failures"] == 1
    assert summary["failure_reasons"] == {"RuntimeError: boom": 1}
    text = format_summary(summary)
    assert "sim" in text and "1 × RuntimeError: boom" in text


def test_groups_report_their_means_and_the_direction_aware_worst_group_gap():
    import pandas as pd

    from rvcbench.summary import summarize_groups

    table = pd.DataFrame({
        "accent": ["US", "US", "Scottish", "Scottish"],
        "sim": [0.8, 0.6, 0.5, 0.3],
        "wer_errors": [0, 1, 3, 3], "wer_ref_words": [10, 10, 10, 10],
    })
    grouping = summarize_groups(table, "accent", ("sim", "wer_corpus"), seed=0)
    assert grouping["groups"]["US"]["sim"]["mean"] == 0.7 and grouping["groups"]["Scottish"]["sim"]["n"] == 2
    sim_gap = grouping["worst_group_gap"]["sim"]
    assert sim_gap["best_group"] == "US" and sim_gap["worst_group"] == "Scottish"
    assert abs(sim_gap["gap"] - 0.3) < 1e-12
    wer_gap = grouping["worst_group_gap"]["wer_corpus"]  # lower is better: best is US (0.05), worst Scottish (0.3)
    assert wer_gap["best_group"] == "US" and wer_gap["worst_group"] == "Scottish"
    assert abs(wer_gap["gap"] - 0.25) < 1e-12
    assert summarize_groups(table, "gender", ("sim",), seed=0) == {
        "available": False, "reason": "the dataset has no 'gender' column"}
