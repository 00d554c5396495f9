"""What a run costs (per phase, per hour of audio, over resumed invocations) and how much seeds move a metric."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import sys
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from fixtures.leaderboard.fast_scorer import PROFILE, fast_profile

from rvcbench.adapters.executors import close_adapter, open_adapter
from rvcbench.cli import main
from rvcbench.execution import usage
from rvcbench.execution.usage import DeviceSampler, PhaseUsage, read_usage, summarize_cost
from rvcbench.runner import RunConfig, run_benchmark
from rvcbench.seed_group import SeedListError, parse_seeds, run_seed_group, spread


@pytest.fixture
def fast(fixture_models, monkeypatch):
    monkeypatch.setenv("SLOW_ADAPTER_SECONDS", "0")
    with fast_profile():
        yield


def test_a_run_records_its_cost_per_phase_and_per_hour_of_generated_audio(fast, tmp_path):
    outcome = run_benchmark(RunConfig(model="slow", profile=PROFILE, device="cpu", limit=4), tmp_path / "run",
                            progress=False)
    cost = outcome.summary["cost"]
    table = pd.read_parquet(tmp_path / "run" / "utterances.parquet")
    assert cost["generated_audio_seconds"] == pytest.approx(table.audio_seconds.sum())
    assert cost["rtf"] == pytest.approx(table.synth_seconds.sum() / table.audio_seconds.sum())
    synthesis = cost["phases"]["synthesis"]
    assert synthesis["devices"] == ["cpu"] and synthesis["gpu_seconds"] == 0.0 and synthesis["peak_gpu_bytes"] is None
    assert synthesis["peak_rss_bytes"] > 10 * 2**20 and cost["phases"]["scoring"]["wall_seconds"] > 0
    hours = cost["generated_audio_seconds"] / 3600
    assert cost["per_audio_hour"]["synthesis_wall_seconds"] == pytest.approx(synthesis["wall_seconds"] / hours)
    assert cost["invocations"] == 1 and cost["complete"] is True
    again = run_benchmark(RunConfig(model="slow", profile=PROFILE, device="cpu", limit=4), tmp_path / "run",
                          progress=False)
    assert again.summary["cost"]["invocations"] == 1  # a finished run's rerun did nothing and costs nothing
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["cost"] == again.summary["cost"]


def _forget(run_dir: Path, count: int) -> None:
    """Drop the last `count` syntheses and their records, as if the run had been killed before committing them."""
    with sqlite3.connect(run_dir / "run.sqlite") as db:
        keys = [k for (k,) in db.execute("SELECT synth_key FROM synth ORDER BY synth_key DESC LIMIT ?", (count,))]
        db.executemany("DELETE FROM records WHERE synth_key = ?", [(k,) for k in keys])
        db.executemany("DELETE FROM synth WHERE synth_key = ?", [(k,) for k in keys])


def test_a_resumed_run_adds_up_its_invocations_and_says_when_one_left_no_figures(fast, tmp_path):
    config = RunConfig(model="slow", profile=PROFILE, device="cpu", limit=4)
    run_benchmark(config, tmp_path / "run", progress=False)
    _forget(tmp_path / "run", 2)
    first = read_usage(tmp_path / "run")[0]
    (tmp_path / "run" / "usage.jsonl").write_text(json.dumps(first) + "\n" + '{"phases": {"synth')  # killed mid-line
    grown = run_benchmark(config, tmp_path / "run", progress=False).summary["cost"]
    assert grown["invocations"] == 2 and grown["complete"] is True
    assert read_usage(tmp_path / "run")[1]["syntheses"] == 2
    assert grown["phases"]["synthesis"]["wall_seconds"] == pytest.approx(
        sum(i["phases"]["synthesis"]["wall_seconds"] for i in read_usage(tmp_path / "run")))
    (tmp_path / "run" / "usage.jsonl").unlink()  # as after kill -9 before any line, or an older rvcbench
    _forget(tmp_path / "run", 1)
    resumed = run_benchmark(config, tmp_path / "run", progress=False).summary["cost"]
    assert resumed["invocations"] == 1 and resumed["complete"] is False  # 1 of the 4 syntheses has figures


def test_summarize_cost_sums_seconds_and_keeps_the_largest_peaks():
    def invocation(wall, gpu, peak, rss, syntheses):
        phase = {**PhaseUsage(wall_seconds=wall, gpu_seconds=gpu, peak_gpu_bytes=peak, peak_rss_bytes=rss,
                              gpu_source="torch", devices=["cuda:0"]).__dict__}
        return {"phases": {"synthesis": phase}, "load_seconds": 2.0, "syntheses": syntheses}

    cost = summarize_cost([invocation(30.0, 30.0, 5 * 2**30, 9 * 2**30, 3), invocation(6.0, 6.0, 7 * 2**30, None, 1)],
                          syntheses=4, audio_seconds=1800.0, clone_seconds=27.0)
    synthesis = cost["phases"]["synthesis"]
    assert synthesis["wall_seconds"] == 36.0 and synthesis["peak_gpu_bytes"] == 7 * 2**30
    assert synthesis["peak_rss_bytes"] == 9 * 2**30 and cost["phases"]["loading"]["wall_seconds"] == 4.0
    assert cost["per_audio_hour"] == {"synthesis_wall_seconds": 72.0, "synthesis_gpu_seconds": 72.0}
    assert cost["rtf"] == 0.015 and cost["complete"] is True
    assert summarize_cost([], syntheses=4, audio_seconds=0.0, clone_seconds=0.0)["rtf"] is None


def test_a_phase_counts_gpu_seconds_only_on_cuda_devices():
    phase = PhaseUsage()
    phase.add(3.0, "cuda:1", {"peak_rss_bytes": 10, "peak_gpu_bytes": 50, "gpu_source": "torch"})
    phase.add(2.0, "cpu", {"peak_rss_bytes": 40, "peak_gpu_bytes": None})
    assert (phase.wall_seconds, phase.gpu_seconds, phase.peak_rss_bytes, phase.peak_gpu_bytes) == (5.0, 3.0, 40, 50)
    assert phase.devices == ["cuda:1", "cpu"]


def test_the_device_sampler_keeps_nvml_s_largest_reading(monkeypatch):
    readings = iter([100, 300, 200] + [150] * 1000)
    fake = types.SimpleNamespace(nvmlInit=lambda: None, nvmlDeviceGetHandleByIndex=lambda i: ("gpu", i),
                                 nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=next(readings)))
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setattr(usage, "SAMPLE_SECONDS", 0.001)
    with DeviceSampler("cuda:1") as sampler:
        for _ in range(200):
            if sampler.peak_bytes == 300:
                break
            time.sleep(0.005)
    assert sampler._handle == ("gpu", 1) and sampler.peak_bytes == 300
    assert DeviceSampler("cpu").__enter__().peak_bytes is None


def test_a_worker_reports_its_own_peak_memory_not_the_runner_s(fixture_models, tmp_path, monkeypatch):
    monkeypatch.setenv("RVCBENCH_ENVS_DIR", str(tmp_path / "envs"))
    monkeypatch.setenv("CRASHY_ON", "never")
    adapter = open_adapter("crashy", executor="worker")
    try:
        adapter.load("cpu")
        adapter.clone([_request()])
        reported = adapter.worker_usage["peak_rss_bytes"]
        status = Path(f"/proc/{adapter.pid}/status").read_text()
        high_water = int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) * 1024
    finally:
        close_adapter(adapter)
    assert reported == pytest.approx(high_water, rel=0.1)
    assert usage.stage_sample("cpu", adapter, None) is adapter.worker_usage


def _request():
    from rvcbench.adapters.contract import CloneRequest

    return CloneRequest(pair_id="p", prompt_audio=np.zeros(1600, np.float32), prompt_sample_rate=16000,
                        prompt_text="p", prompt_language="en", target_text="hello", target_language="en", seed=1)


def test_seeds_give_one_run_each_and_the_between_seed_sd_of_their_means(fast, tmp_path):
    config = RunConfig(model="slow", profile=PROFILE, device="cpu", limit=4)
    outcome = run_seed_group(config, [0, 1, 2], tmp_path / "group", progress=False)
    means = [json.loads((tmp_path / "group" / f"seed-{s}" / "summary.json").read_text())["metrics"]["sim"]["mean"]
             for s in (0, 1, 2)]
    cell = json.loads((tmp_path / "group" / "seeds.json").read_text())["seed_variation"]["metrics"]["default"]["clean"]
    assert cell["sim"]["means"] == pytest.approx(means) and len(set(means)) == 3  # the model reads the seed
    assert cell["sim"]["sd"] == pytest.approx(np.std(means, ddof=1)) and cell["sim"]["n"] == [4, 4, 4]
    assert [r.summary["run"]["seed"] for r in outcome.runs.values()] == [0, 1, 2]
    again = run_seed_group(config, [0, 1, 2], tmp_path / "group", progress=False)
    assert all(r.synthesized == 0 for r in again.runs.values())  # each seed's run resumes (here: is finished)


def test_spread_needs_two_finite_means():
    est = [{"mean": 1.0, "ci_low": 0.5, "ci_high": 1.5, "n": 3}, {"mean": float("nan"), "n": 0}, None]
    assert spread(est) == {"sd": None, "means": [1.0, None, None], "n": [3, 0, None], "within_run_ci_half_width": 0.5}
    assert spread([{"mean": 1.0, "ci_low": 0.0, "ci_high": 2.0, "n": 3},
                   {"mean": 3.0, "ci_low": 2.0, "ci_high": 3.0, "n": 3}])["sd"] == pytest.approx(2 ** 0.5)


@pytest.mark.parametrize("text", ["1", "0,0", "a,b", ""])
def test_a_bad_seed_list_is_one_clear_error(text):
    with pytest.raises(SeedListError, match="--seeds"):
        parse_seeds(text)


def test_cli_seeds_prints_the_variation_table_and_refuses_seed_beside_it(fast, tmp_path):
    runner = CliRunner()
    both = runner.invoke(main, ["run", "-m", "slow", "--seed", "3", "--seeds", "0,1", "--out", str(tmp_path / "x")])
    assert both.exit_code == 2 and "either --seed or --seeds" in both.output
    done = runner.invoke(main, ["run", "-m", "slow", "--profile", PROFILE, "--limit", "2", "--device", "cpu",
                                "--seeds", "0,1", "--quiet", "--out", str(tmp_path / "g")])
    assert done.exit_code == 0, done.output
    assert "between-seed variation over seeds 0, 1" in done.output and "seed SD" in done.output
    assert "cost (1 invocation(s))" in done.output
    assert (tmp_path / "g" / "seed-1" / "summary.json").exists()


def test_runs_made_separately_with_different_seeds_group_like_run_seeds(fast, tmp_path):
    config = RunConfig(model="slow", profile=PROFILE, device="cpu", limit=3)
    for seed, name in ((2, "later"), (0, "first")):
        run_benchmark(dataclasses.replace(config, seed=seed), tmp_path / "mine" / name, progress=False)
    result = CliRunner().invoke(main, ["seed-group", str(tmp_path / "mine")])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "mine" / "seeds.json").read_text())
    assert written["seeds"] == [0, 2] and written["runs"] == {"0": "first", "2": "later"}
    together = run_seed_group(config, [0, 2], tmp_path / "together", progress=False).group
    sim = written["seed_variation"]["metrics"]["default"]["clean"]["sim"]  # (rtf is timing: it differs)
    assert sim == together["seed_variation"]["metrics"]["default"]["clean"]["sim"] and sim["sd"] > 0
    run_benchmark(dataclasses.replace(config, seed=5, limit=2), tmp_path / "mine" / "fewer", progress=False)
    refused = CliRunner().invoke(main, ["seed-group", str(tmp_path / "mine")])
    assert refused.exit_code == 2 and "limit: fewer has 2, first has 3" in refused.output
    assert "Traceback" not in refused.output
