"""The detectability task through the runner: the oracle is undetectable, results are cached, unusable
conditions are reported unavailable with the reason."""

from __future__ import annotations

import pytest

from rvcbench.runner import RunConfig, run_benchmark
from rvcbench.summary import format_summary


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory):
    """6 pairs of 2 speakers; the oracle's clone is the real target itself."""
    out = tmp_path_factory.mktemp("detectability") / "oracle"
    config = RunConfig(model="oracle", task="detectability", limit=6, profile="none", device="cpu")
    return config, run_benchmark(config, out, progress=False)


def test_the_oracle_is_undetectable_in_every_condition(oracle_run):
    """Real recordings made to travel the clone's path (rate, 16-bit, same transforms and seed) equal the
    oracle's clones, so any EER away from 0.5 would mean the bona fide path differs from the clone's."""
    _, outcome = oracle_run
    result = outcome.summary["analyses"]["detectability"]
    assert result["detector"]["name"] == "lfcc_gmm" and result["detector"]["settings"]["components"] == 32
    conditions = result["conditions"]
    assert list(conditions)[0] == "clean" and len(conditions) >= 3
    for name, entry in conditions.items():
        assert entry["available"], (name, entry.get("reason"))
        eer = entry["eer"]
        assert abs(eer["mean"] - 0.5) < 0.05, name
        assert eer["ci_low"] <= eer["mean"] <= eer["ci_high"]
        assert (eer["n_bona_fide"], eer["n_spoof"], eer["n_speakers"], entry["folds"]) == (6, 6, 2, 2), name
        if name != "clean":
            assert abs(entry["eer_vs_clean"]["mean"]) < 0.05
    assert "spoof-detection EER" in format_summary(outcome.summary)


def test_a_rerun_reuses_the_cached_scores(oracle_run, monkeypatch):
    config, outcome = oracle_run
    cache = outcome.run_dir / "analyses" / "detectability"
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()}
    assert any(p.parent.name == "real" for p in before) and any(p.parent.name == "scores" for p in before)

    def no_training(*args, **kwargs):
        raise AssertionError("the detector was retrained on a rerun")

    monkeypatch.setattr("rvcbench.analyses.detectors.LfccGmm.fit", no_training)
    again = run_benchmark(config, outcome.run_dir, progress=False)
    assert again.summary["analyses"] == outcome.summary["analyses"]
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()} == before


def test_one_speaker_is_reported_unavailable_with_the_reason(tmp_path):
    outcome = run_benchmark(RunConfig(model="oracle", task="detectability", limit=3, profile="none", device="cpu"),
                            tmp_path / "one", progress=False)
    for entry in outcome.summary["analyses"]["detectability"]["conditions"].values():
        assert entry["available"] is False and "at least 2 speakers" in entry["reason"]


def test_failed_clones_make_a_condition_unavailable_not_a_crash(fixture_models, tmp_path):
    outcome = run_benchmark(RunConfig(model="flaky", task="detectability", limit=6, profile="none", device="cpu"),
                            tmp_path / "flaky", progress=False)
    for entry in outcome.summary["analyses"]["detectability"]["conditions"].values():
        assert entry["available"] is False and entry["clone_failures"] == 6
        assert entry["reason"].startswith("no clone of this condition succeeded (6 pairs")
