"""Tasks through the runner: shared perturbed inputs, unavailable conditions, output transforms on one synthesis."""

from __future__ import annotations

import hashlib

import pandas as pd
from run_store import synths

from rvcbench.runner import RunConfig, run_benchmark


def digests(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.flac"))}


def test_perturbed_prompts_are_computed_once_and_identical_for_every_model(fixture_models, tmp_path):
    config = dict(profile="none", device="cpu", limit=2, task="reference-length")
    slow = run_benchmark(RunConfig(model="slow", **config), tmp_path / "slow", progress=False)
    oracle = run_benchmark(RunConfig(model="oracle", **config), tmp_path / "oracle", progress=False)
    slow_inputs, oracle_inputs = digests(slow.run_dir / "inputs"), digests(oracle.run_dir / "inputs")
    assert slow_inputs and slow_inputs == oracle_inputs
    assert digests(tmp_path / "_inputs") == slow_inputs  # the shared cache beside the runs


def test_a_condition_that_cannot_run_is_reported_unavailable_with_its_reason(fixture_models, tmp_path):
    outcome = run_benchmark(RunConfig(model="slow", profile="none", device="cpu", limit=2, task="reference-length"),
                            tmp_path / "run", progress=False)
    conditions = outcome.summary["tasks"]["reference-length"]["conditions"]
    assert conditions["truncate seconds=10"]["available"] is False
    assert "shorter than" in conditions["truncate seconds=10"]["reason"]
    assert conditions["truncate seconds=1"]["available"] is True
    assert outcome.summary["failed"] == 0 and outcome.summary["unavailable"] >= 2


def test_output_transforms_share_one_synthesis_per_pair(fixture_models, tmp_path):
    outcome = run_benchmark(RunConfig(model="slow", profile="none", device="cpu", limit=2, task="post-processing"),
                            tmp_path / "run", progress=False)
    run_dir = outcome.run_dir
    assert len(synths(run_dir)) == 2
    table = pd.read_parquet(run_dir / "utterances.parquet")
    n_conditions = len(outcome.summary["tasks"]["post-processing"]["conditions"])
    assert len(table) == 2 * n_conditions
    telephone = table[table.output_steps.str.contains('"telephone"')]
    assert (telephone[telephone.status == "ok"].sample_rate == 8000).all() and len(telephone) == 2


def test_a_user_noise_folder_adds_file_noise_conditions(fixture_models, tmp_path, monkeypatch):
    import numpy as np

    from rvcbench.audio import save_audio

    monkeypatch.setenv("SLOW_ADAPTER_SECONDS", "0")
    noise_dir = tmp_path / "my-noises"
    rng = np.random.default_rng(0)
    save_audio(noise_dir / "fan.wav", (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32), 16000)
    empty_dir = tmp_path / "empty-noises"
    empty_dir.mkdir()
    base = dict(model="slow", profile="none", device="cpu", limit=1, task="noisy-reference")
    with_noise = run_benchmark(RunConfig(**base, noise_dir=str(noise_dir)), tmp_path / "a", progress=False)
    conditions = with_noise.summary["tasks"]["noisy-reference"]["conditions"]
    added = [name for name in conditions if "file:my-noises" in name]
    assert len(added) == 4 and all(conditions[name]["available"] for name in added)
    no_noise = run_benchmark(RunConfig(**base, noise_dir=str(empty_dir)), tmp_path / "b", progress=False)
    conditions = no_noise.summary["tasks"]["noisy-reference"]["conditions"]
    added = [name for name in conditions if "file:empty-noises" in name]
    assert len(added) == 4 and not any(conditions[name]["available"] for name in added)
    assert all(conditions[name]["reason"] for name in added)
