"""End to end on a subset of the demo set with the real offline scorers and the built-in adapters."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rvcbench.runner import RunConfig, run_benchmark
from rvcbench.scoring.registry import PROFILES
from rvcbench.store import RunStore

LIMIT = 4


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("oracle")
    return run_benchmark(RunConfig(model="oracle", limit=LIMIT, device="cpu"), out, progress=False)


def test_oracle_reads_the_ceiling_of_each_metric(oracle_run):
    metrics = oracle_run.summary["metrics"]
    assert metrics["sim"]["mean"] > 0.99 and metrics["sim"]["n"] == LIMIT
    assert metrics["mcd"]["mean"] < 0.5
    assert metrics["wer_corpus"]["mean"] < 0.25
    assert 2.0 < metrics["dnsmos_ovrl"]["mean"] < 4.5
    assert metrics["sim"]["ci_low"] <= metrics["sim"]["mean"] <= metrics["sim"]["ci_high"]
    assert oracle_run.summary["failed"] == 0


def test_every_row_names_the_scorers_that_produced_it(oracle_run):
    table = pd.read_parquet(oracle_run.run_dir / "utterances.parquet")
    assert len(table) == LIMIT
    for versions in table.scorer_versions:
        assert set(json.loads(versions)) == set(PROFILES["offline"])
    assert table.transcript.str.len().gt(0).all()
    config = json.loads((oracle_run.run_dir / "config.json").read_text())
    assert [s["name"] for s in config["scorers"]] == list(PROFILES["offline"])
    assert next(s for s in config["scorers"] if s["name"] == "wer_whisper")["settings"]["beam_size"] == 5


def test_an_interrupted_scoring_phase_scores_only_what_is_missing(oracle_run):
    store = RunStore(oracle_run.run_dir / "run.sqlite")
    record = next(iter(store.iter_records()))[0]
    store.commit(records=[{**record, "scored": False}])
    store.close()
    again = run_benchmark(RunConfig(model="oracle", limit=LIMIT, device="cpu"), oracle_run.run_dir, progress=False)
    assert again.synthesized == 0 and again.scored == 1
    assert again.summary["metrics"]["sim"] == oracle_run.summary["metrics"]["sim"]


def test_baseline_clones_intelligibly_and_toward_the_speaker(tmp_path):
    outcome = run_benchmark(RunConfig(model="baseline", limit=LIMIT, device="cpu"), tmp_path / "b", progress=False)
    metrics = outcome.summary["metrics"]
    assert outcome.summary["ok"] == LIMIT
    assert metrics["wer_corpus"]["mean"] < 0.3
    assert 0.3 < metrics["sim"]["mean"] < 0.99
    assert 0 < metrics["rtf"]["mean"]


@pytest.mark.heavy  # every task spec with real scorers: ~10-15 min on 2 cores (long-form texts through Whisper)
def test_every_task_runs_end_to_end_with_the_baseline(tmp_path):
    """All task specs, one pair, real scorers: every condition is scored or reported unavailable with a reason."""
    outcome = run_benchmark(RunConfig(model="baseline", limit=1, device="cpu", task="all"), tmp_path / "all",
                            progress=False)
    tasks = outcome.summary["tasks"]
    assert {"noisy-reference", "multi-speaker-reference", "reference-length", "text-robustness",
            "post-processing", "protection"} <= set(tasks)
    for name, task in tasks.items():
        clean = task["conditions"]["clean"]
        assert clean["headline"]["sim_retention"]["mean"] == pytest.approx(1.0), name
        assert clean["headline"]["wer_increase_points"]["mean"] == pytest.approx(0.0), name
        for condition, entry in task["conditions"].items():
            if entry["available"]:
                metric = entry["metrics"]["sim" if "sim" in entry["metrics"] else "wer_corpus"]
                assert metric["n"] + metric["failures"] == 1, condition  # scored, or a counted failure
            else:
                assert entry["reason"], condition
    assert list((outcome.run_dir / "inputs").glob("*.flac"))  # what the model received, kept with the run
