"""The perceptual budget (SNR, PESQ, STOI) and input SIM of the prompt a model received vs the original."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rvcbench.audio import load_audio_at
from rvcbench.data import load_dataset
from rvcbench.scoring.contract import ScoreInput
from rvcbench.scoring.input_similarity import InputSimilarity
from rvcbench.scoring.perceptual_budget import PerceptualBudget, snr_db


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return load_audio_at(load_dataset("demo").root / "audios" / "arctic_aew" / "aew_arctic_a0002.flac", 16000)


def _at_snr(clean: np.ndarray, snr: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(len(clean))
    scale = np.sqrt(np.sum(clean.astype(np.float64) ** 2) / (np.sum(noise**2) * 10.0 ** (snr / 10.0)))
    return (clean + scale * noise).astype(np.float32)


def _budget(original: np.ndarray, received: np.ndarray) -> dict:
    return PerceptualBudget().score([ScoreInput("p", audio=received, prompt_audio=original,
                                                input_prompt_audio=received)])[0]


def test_measured_snr_equals_the_constructed_snr(speech) -> None:
    for snr in (20.0, 7.5, -3.0):
        assert snr_db(speech, _at_snr(speech, snr)) == pytest.approx(snr, abs=0.1)


def test_unchanged_prompt_gets_best_pesq_and_stoi_and_snr_not_applicable(speech) -> None:
    values = _budget(speech, speech.copy())
    assert math.isnan(values["input_snr_db"]) and "not applicable" in values["perceptual_budget_error"]
    assert values["input_pesq"] == pytest.approx(4.64, abs=0.01)
    assert values["input_stoi"] == pytest.approx(1.0, abs=1e-3)


def test_noisier_prompt_has_lower_snr_pesq_and_stoi(speech) -> None:
    mild, harsh = _budget(speech, _at_snr(speech, 25.0)), _budget(speech, _at_snr(speech, 0.0))
    assert mild["input_snr_db"] == pytest.approx(25.0, abs=0.1)
    assert harsh["input_snr_db"] == pytest.approx(0.0, abs=0.1)
    assert mild["input_pesq"] > harsh["input_pesq"] + 0.5
    assert mild["input_stoi"] > harsh["input_stoi"] + 0.05
    assert "perceptual_budget_error" not in mild


def test_a_prompt_of_another_length_is_not_applicable(speech) -> None:
    values = _budget(speech, speech[: len(speech) // 2])
    assert all(math.isnan(values[m]) for m in ("input_snr_db", "input_pesq", "input_stoi"))
    assert "changed the prompt's length" in values["perceptual_budget_error"]


def test_input_sim_is_one_for_the_original_and_lower_for_another_speaker(speech) -> None:
    other = load_audio_at(load_dataset("demo").root / "audios" / "vctk_p226" / "p226_003.flac", 16000)
    scorer = InputSimilarity()
    same, different = scorer.score([ScoreInput("a", audio=speech, prompt_audio=speech, input_prompt_audio=speech),
                                    ScoreInput("b", audio=other, prompt_audio=speech, input_prompt_audio=other)])
    assert same["input_sim"] == pytest.approx(1.0, abs=1e-5)
    assert different["input_sim"] < 0.9


def test_scoring_engine_feeds_the_prompt_the_model_received(tmp_path, monkeypatch) -> None:
    """input_* compare the perturbed prompt under the run's inputs/ with the original: clean vs protected rows."""
    from rvcbench.adapters.registry import build_registry, create_adapter
    from rvcbench.plan import plan_items
    from rvcbench.results import RunDirectory
    from rvcbench.runner import RunConfig, run_benchmark
    from rvcbench.scoring.engine import score_records
    from rvcbench.summary import known_metrics
    from rvcbench.tasks import load_tasks

    tasks_root = tmp_path / "tasks" / "perturbation"
    tasks_root.mkdir(parents=True)
    (tasks_root / "mini-protection.yaml").write_text(
        "name: mini-protection\nfamily: perturbation\napplies_to: prompt\nmetrics: [input_snr_db]\n"
        "conditions:\n  - name: gaussian\n    steps:\n      - {transform: gaussian_protection, epsilon: 0.0313725}\n")
    monkeypatch.setenv("RVCBENCH_TASKS_PATH", str(tmp_path / "tasks"))
    outcome = run_benchmark(RunConfig(model="oracle", profile="none", device="cpu", limit=1,
                                      task="mini-protection"), tmp_path / "run", progress=False)
    run_dir = RunDirectory(outcome.run_dir)
    metrics = set(known_metrics([PerceptualBudget.meta]))
    adapter = create_adapter("oracle", build_registry())
    items = {it.item_id: it for it in plan_items(load_dataset("demo"), load_tasks("mini-protection", metrics),
                                                 model="oracle", adapter_version=adapter.version, seed=0, limit=1,
                                                 output_depends_on_target=adapter.needs_target_audio)}
    records = [r for r in (run_dir.read_record(i) for i in items) if r is not None]
    assert len(records) == 2
    score_records([PerceptualBudget()], records, items, run_dir)
    by_condition = {r["memberships"][0][1]: r for r in records}
    assert math.isnan(by_condition["clean"]["input_snr_db"])
    protected = by_condition["gaussian"]
    received = load_audio_at(run_dir.root / protected["prompt_input_file"], 16000)
    original = load_audio_at(items[protected["item_id"]].prompt_path, 16000)
    assert protected["input_snr_db"] == pytest.approx(snr_db(original, received), abs=1e-6)
    assert 0.0 < protected["input_snr_db"] < 30.0
