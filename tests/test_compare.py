"""Paired comparison of runs: sign-flip p-values, paired-bootstrap CIs, Holm correction, verdicts, refusals."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rvcbench.compare import (
    A_BETTER,
    B_BETTER,
    NO_DIFFERENCE,
    LoadedRun,
    compare_loaded,
    compare_runs,
    format_comparison,
    holm,
    paired_mean_test,
    paired_ratio_test,
)
from rvcbench.errors import RvcbenchError
from rvcbench.scoring.aggregate import summarize_mean

CLEAN_ONLY = '[["default", "clean"]]'


def make_table(n: int, *, sim=None, errors=None, words=None, status=None, memberships=None,
               pair_ids=None) -> pd.DataFrame:
    columns = {"pair_id": pair_ids or [f"pair{i:03d}" for i in range(n)],
               "status": status or ["ok"] * n,
               "memberships": memberships or [CLEAN_ONLY] * n}
    for name, values in (("sim", sim), ("wer_errors", errors), ("wer_ref_words", words)):
        if values is not None:
            columns[name] = np.asarray(values, dtype=np.float64)
    return pd.DataFrame(columns)


def base_config(**changes) -> dict:
    config = {"model": "toy", "seed": 0, "profile": "offline", "pairs": None, "limit": None, "task": "default",
              "dataset": {"name": "demo", "fingerprint": "f1"}, "dataset_fingerprint": "f1"}
    config.update(changes)
    return config


def write_run(root: Path, name: str, table: pd.DataFrame, **config_changes) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(base_config(**config_changes)))
    table.to_parquet(folder / "utterances.parquet", index=False)
    return folder


def cell_of(result: dict, metric: str, condition: str = "clean", task: str = "default") -> dict:
    (cell,) = [c for c in result["cells"] if (c["metric"], c["condition"], c["task"]) == (metric, condition, task)]
    return cell


# --- the tests on their own, against exact answers --------------------------------------------------------------


def test_sign_flip_p_is_close_to_the_exact_2_in_256_when_all_eight_differences_are_positive():
    rng = np.random.default_rng(1)
    b = rng.normal(0.7, 0.05, 8)
    a = b + rng.uniform(0.01, 0.05, 8)
    exact = stats.permutation_test((a, b), lambda x, y: np.mean(x - y), permutation_type="samples",
                                   alternative="two-sided").pvalue
    assert exact == pytest.approx(2 / 256)
    ours = paired_mean_test(a, b, resamples=2000, seed=0)
    assert ours.n == 8 and abs(ours.p - exact) < 0.005


def test_sign_flip_p_converges_to_the_full_enumeration_of_sign_flips():
    rng = np.random.default_rng(2)
    d = rng.normal(0.3, 1.0, 10)
    flips = np.array(list(itertools.product([1.0, -1.0], repeat=10)))
    exact = np.mean(np.abs((flips * d).mean(axis=1)) >= abs(d.mean()) - 1e-12)
    ours = paired_mean_test(d, np.zeros(10), resamples=20000, seed=3)
    assert abs(ours.p - exact) < 0.01


def test_ratio_swap_test_converges_to_the_full_enumeration_of_swaps():
    rng = np.random.default_rng(4)
    words = rng.integers(5, 20, 8).astype(float)
    err_a, err_b = rng.binomial(words.astype(int), 0.3).astype(float), rng.binomial(words.astype(int), 0.1)
    err_b = err_b.astype(float)
    observed = err_a.sum() / words.sum() - err_b.sum() / words.sum()
    draws = []
    for mask in itertools.product([False, True], repeat=8):
        m = np.array(mask)
        draws.append(np.where(m, err_b, err_a).sum() / words.sum() - np.where(m, err_a, err_b).sum() / words.sum())
    exact = np.mean(np.abs(draws) >= abs(observed) - 1e-12)
    ours = paired_ratio_test(err_a, words, err_b, words, resamples=20000, seed=0)
    assert ours.diff == pytest.approx(observed)
    assert abs(ours.p - exact) < 0.01


def test_bootstrap_ci_contains_a_constructed_shift_and_is_the_aggregate_bootstrap_of_the_differences():
    rng = np.random.default_rng(5)
    a = rng.normal(0.7, 0.1, 200)
    b = a - 0.05 + rng.normal(0, 0.02, 200)
    test = paired_mean_test(a, b, resamples=2000, seed=7)
    assert test.ci_low < 0.05 < test.ci_high and test.ci_high - test.ci_low < 0.02
    reference = summarize_mean(a - b, 7, n_resamples=2000)
    assert (test.diff, test.ci_low, test.ci_high) == (reference.mean, reference.ci_low, reference.ci_high)
    assert test.p == pytest.approx(1 / 2001)


def test_corpus_ratio_difference_sums_errors_before_dividing():
    test = paired_ratio_test(np.array([1.0, 0.0]), np.array([1.0, 9.0]), np.array([0.0, 0.0]),
                             np.array([1.0, 9.0]), resamples=200, seed=0)
    assert test.diff == pytest.approx(0.1) and test.n == 2 and test.ci_low <= 0.1 <= test.ci_high


def test_identical_runs_give_p_one_and_no_difference(tmp_path: Path):
    table = make_table(12, sim=np.linspace(0.5, 0.9, 12), errors=[1] * 12, words=[10] * 12)
    result = compare_runs([write_run(tmp_path, "a", table), write_run(tmp_path, "b", table)], resamples=199)
    for cell in result["cells"]:
        assert cell["diff"] == 0 and cell["p"] == 1 and cell["verdict"] == NO_DIFFERENCE


# --- verdicts on constructed runs ------------------------------------------------------------------------------


def improved_pair(n: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    """B speaks the voice better (SIM + 0.1) but garbles more words (corpus WER about 0.1 → 0.3)."""
    rng = np.random.default_rng(6)
    words = rng.integers(8, 20, n)
    sim_a = rng.normal(0.7, 0.05, n)
    a = make_table(n, sim=sim_a, errors=rng.binomial(words, 0.1), words=words)
    b = make_table(n, sim=sim_a + 0.1 + rng.normal(0, 0.02, n), errors=rng.binomial(words, 0.3), words=words)
    return a, b


def test_a_known_difference_is_credited_to_the_better_run_in_the_metric_direction(tmp_path: Path):
    table_a, table_b = improved_pair()
    a, b = write_run(tmp_path, "a", table_a), write_run(tmp_path, "b", table_b)
    result = compare_runs([a, b], resamples=999)
    sim, wer = cell_of(result, "sim"), cell_of(result, "wer_corpus")
    assert sim["higher_is_better"] and not wer["higher_is_better"]
    assert sim["diff"] == pytest.approx(float(np.mean(table_a.sim - table_b.sim)))
    assert sim["ci_low"] < -0.1 + 0.02 and sim["ci_high"] > -0.1 - 0.02
    assert sim["verdict"] == B_BETTER and wer["verdict"] == A_BETTER and wer["diff"] < 0
    assert sim["n"] == wer["n"] == 40 and sim["p_holm"] <= 0.05
    swapped = compare_runs([b, a], resamples=999)
    assert cell_of(swapped, "sim")["verdict"] == A_BETTER and cell_of(swapped, "wer_corpus")["verdict"] == B_BETTER
    assert cell_of(swapped, "sim")["diff"] == pytest.approx(-sim["diff"])


def test_failed_rows_and_nan_values_leave_that_metric_only(tmp_path: Path):
    n = 20
    table_a, table_b = improved_pair(n)
    table_a.loc[3, "sim"] = np.nan  # scorer failed on one clip of A: SIM only
    table_b.loc[[5, 6], "status"] = "failed"  # synthesis failed on two pairs of B: every metric
    table_b = table_b.drop(index=9)  # B never planned one pair
    result = compare_runs([write_run(tmp_path, "a", table_a), write_run(tmp_path, "b", table_b)], resamples=199)
    sim, wer = cell_of(result, "sim"), cell_of(result, "wer_corpus")
    assert (sim["n"], sim["dropped"], sim["unmatched"]) == (n - 4, 3, 1)
    assert (wer["n"], wer["dropped"], wer["unmatched"]) == (n - 3, 2, 1)
    kept = [i for i in range(n) if i not in (3, 5, 6, 9)]
    expected = np.mean(table_a.sim.to_numpy()[kept] - table_b.set_index("pair_id").sim.reindex(table_a.pair_id)
                       .to_numpy()[kept])
    assert sim["diff"] == pytest.approx(expected)


def test_runs_from_the_same_distribution_rarely_show_a_difference():
    """Null data, one metric (so Holm changes nothing): the rate of 'detectable' verdicts is about alpha."""
    detected = 0
    for seed in range(200):
        rng = np.random.default_rng(1000 + seed)
        runs = [LoadedRun(name, Path(name), base_config(), make_table(30, sim=rng.normal(0.7, 0.1, 30)))
                for name in ("a", "b")]
        (cell,) = compare_loaded(runs, alpha=0.05, resamples=199, seed=seed)["cells"]
        detected += cell["verdict"] != NO_DIFFERENCE
    assert 0.01 <= detected / 200 <= 0.10


# --- Holm-Bonferroni -------------------------------------------------------------------------------------------


def test_holm_adjusts_sorted_p_values_by_rank_and_keeps_them_monotone():
    # sorted: 0.005×4 = 0.02, 0.01×3 = 0.03, 0.03×2 = 0.06, 0.04×1 = 0.04 → max(0.06, 0.04) = 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, None, 0.2]) == [pytest.approx(0.5), None, pytest.approx(0.4)]
    assert holm([0.9, 0.8]) == [1.0, 1.0]
    assert holm([]) == []


def test_holm_family_is_one_task_for_one_pair_of_runs(tmp_path: Path):
    n = 16
    memberships = ['[["noisy", "clean"], ["post", "clean"]]'] * n + ['[["noisy", "snr10"]]'] * n
    pair_ids = [f"p{i}" for i in range(n)] * 2
    rng = np.random.default_rng(8)
    words = [10] * 2 * n
    tables = [make_table(2 * n, sim=rng.normal(0.7, 0.05, 2 * n), errors=rng.binomial(10, 0.2, 2 * n), words=words,
                         memberships=memberships, pair_ids=pair_ids) for _ in range(3)]
    runs = [write_run(tmp_path, name, t, tasks={"noisy": {"metrics": ["sim", "wer_corpus"]}})
            for name, t in zip("abc", tables, strict=True)]
    result = compare_runs(runs, resamples=199)
    pairs = {(c["run_a"], c["run_b"]) for c in result["cells"]}
    assert pairs == {("a", "b"), ("a", "c"), ("b", "c")}
    for (run_a, run_b), task in itertools.product(pairs, ("noisy", "post")):
        family = [c for c in result["cells"] if (c["run_a"], c["run_b"], c["task"]) == (run_a, run_b, task)]
        assert len(family) == (4 if task == "noisy" else 2)  # noisy: 2 conditions × its 2 declared metrics
        assert [c["p_holm"] for c in family] == pytest.approx(holm([c["p"] for c in family]))
        assert all(c["n"] == n for c in family)


# --- refusals and output ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "key", "values"), [
    ({"dataset": {"name": "demo", "fingerprint": "f2"}}, "dataset fingerprint", ("'f1'", "'f2'")),
    ({"profile": "paper"}, "scorer profile", ("'offline'", "'paper'")),
    ({"pairs": "pairs.txt"}, "pair subset", ("None", "'pairs.txt'")),
    ({"limit": 10}, "pair limit", ("None", "10")),
])
def test_runs_on_other_datasets_pairs_or_profiles_are_refused_naming_both_values(tmp_path: Path, change, key, values):
    table = make_table(5, sim=[0.5] * 5)
    runs = [write_run(tmp_path, "a", table), write_run(tmp_path, "b", table, **change)]
    with pytest.raises(RvcbenchError) as error:
        compare_runs(runs)
    line = next(x for x in str(error.value).splitlines() if key in x)
    assert f"a has {values[0]}" in line and f"b has {values[1]}" in line


def test_conditions_with_the_same_name_but_other_steps_are_refused(tmp_path: Path):
    table = make_table(5, sim=[0.5] * 5)
    steps = {"noisy": {"conditions": {"clean": [], "snr10": [{"transform": "add_noise", "snr_db": 10}]}}}
    other = {"noisy": {"conditions": {"clean": [], "snr10": [{"transform": "add_noise", "snr_db": 5}]}}}
    runs = [write_run(tmp_path, "a", table, tasks=steps), write_run(tmp_path, "b", table, tasks=other)]
    with pytest.raises(RvcbenchError, match="noisy/snr10"):
        compare_runs(runs)


def test_runs_that_differ_only_in_seed_are_compared(tmp_path: Path):
    table_a, table_b = improved_pair(10)
    result = compare_runs([write_run(tmp_path, "a", table_a, seed=0), write_run(tmp_path, "b", table_b, seed=1)],
                          resamples=99)
    assert [r["seed"] for r in result["runs"]] == [0, 1] and result["cells"]


def test_an_unfinished_run_is_refused_naming_the_folder_and_what_is_missing(tmp_path: Path):
    table = make_table(5, sim=[0.5] * 5)
    done = write_run(tmp_path, "done", table)
    unfinished = tmp_path / "unfinished"
    (unfinished / "items").mkdir(parents=True)
    (unfinished / "config.json").write_text(json.dumps(base_config()))
    with pytest.raises(RvcbenchError) as error:
        compare_runs([done, unfinished])
    assert str(unfinished) in str(error.value) and "utterances.parquet" in str(error.value)
    assert str(done) not in str(error.value)
    with pytest.raises(RvcbenchError, match="at least two"):
        compare_runs([done])


def test_result_is_strict_json_and_prints_one_table_per_task(tmp_path: Path):
    table_a, table_b = improved_pair(12)
    table_b.loc[:, "wer_ref_words"] = 0.0  # no reference words in B: corpus WER undefined, not tested
    result = compare_runs([write_run(tmp_path, "a", table_a), write_run(tmp_path, "b", table_b)], resamples=99)
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert set(result["settings"]) >= {"alpha", "resamples", "seed", "test", "correction"}
    assert cell_of(result, "wer_corpus")["p"] is None and cell_of(result, "wer_corpus")["verdict"] == "not tested"
    text = format_comparison(result)
    assert "A = a  vs  B = b  — task default (1 tests)" in text
    assert "sim" in text and B_BETTER in text and "not tested" in text


def test_cli_compare_prints_the_table_writes_json_and_refuses_bad_options(tmp_path: Path):
    from click.testing import CliRunner

    from rvcbench.cli import main

    table_a, table_b = improved_pair()
    a, b = write_run(tmp_path, "a", table_a), write_run(tmp_path, "b", table_b)
    out = CliRunner().invoke(main, ["compare", str(a), str(b), "--resamples", "299",
                                    "--json", str(tmp_path / "c.json")])
    assert out.exit_code == 0, out.output
    assert "B better" in out.output and json.loads((tmp_path / "c.json").read_text())["cells"]
    bad = CliRunner().invoke(main, ["compare", str(a), str(b), "--alpha", "1.5"])
    assert bad.exit_code == 2 and "--alpha" in bad.output
    other = write_run(tmp_path, "c", table_b, profile="standard")
    refused = CliRunner().invoke(main, ["compare", str(a), str(other)])
    assert refused.exit_code == 2 and "Traceback" not in refused.output and "profile" in refused.output


def test_paired_cell_is_the_uncorrected_cell_compare_reports_and_verdict_follows_the_direction(tmp_path: Path):
    from rvcbench.compare import NOT_TESTED, condition_rows, paired_cell, verdict

    rng = np.random.default_rng(3)
    base = rng.uniform(0.5, 0.7, 20)
    runs = [LoadedRun(name, tmp_path / name, base_config(), make_table(20, sim=sim, errors=[1.0] * 20,
                                                                        words=[10.0] * 20))
            for name, sim in (("a", base + 0.05), ("b", base))]
    rows = [condition_rows(r)[("default", "clean")] for r in runs]
    cell = paired_cell(rows[0], rows[1], "sim", resamples=500, seed=4)
    reported = cell_of(compare_loaded(runs, resamples=500, seed=4), "sim")
    assert {k: cell[k] for k in ("n", "diff", "ci_low", "ci_high", "p")} == {
        k: reported[k] for k in ("n", "diff", "ci_low", "ci_high", "p")}
    assert cell["diff"] == pytest.approx(0.05) and cell["n"] == 20
    assert verdict(0.05, 0.01, True, 0.05) == A_BETTER and verdict(0.05, 0.01, False, 0.05) == B_BETTER
    assert verdict(0.05, 0.2, True, 0.05) == NO_DIFFERENCE and verdict(None, None, True, 0.05) == NOT_TESTED
