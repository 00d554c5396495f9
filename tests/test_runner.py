"""The runner: failure accounting, resume after kill -9, no-op reruns, output-directory checks."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from run_store import record_count, records

from rvcbench.cli import main
from rvcbench.errors import RvcbenchError, UnknownNameError
from rvcbench.runner import RunConfig, run_benchmark
from rvcbench.store import RunStore

FLAKY_SPEAKERS = {
    "arctic_aew": "RuntimeError",
    "arctic_axb": "NaN",
    "vctk_p240": "silent",
    "vctk_p312": "absurd length",
    "vctk_p252": "empty waveform",
    "vctk_p275": "voice not supported",
}


def clip_hashes(run_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((run_dir / "clips").glob("*.wav"))}


def test_every_failure_is_recorded_with_its_reason_and_counted(fixture_models, tmp_path):
    outcome = run_benchmark(RunConfig(model="flaky", profile="none", device="cpu"), tmp_path / "run",
                            progress=False)
    table = pd.read_parquet(tmp_path / "run" / "utterances.parquet")
    assert len(table) == 50  # nothing dropped
    failing = table[table.speaker_id.isin(FLAKY_SPEAKERS)]
    assert (failing.status == "failed").all()
    assert (table[~table.speaker_id.isin(FLAKY_SPEAKERS)].status == "ok").all()  # batch-mates of a raise survive
    for speaker, reason in FLAKY_SPEAKERS.items():
        messages = table[table.speaker_id == speaker].apply(lambda r: f"{r.error_type}: {r.error_message}", axis=1)
        assert messages.str.contains(reason).all(), (speaker, messages.tolist())
    summary = outcome.summary
    assert summary["items"] == 50 and summary["failed"] == len(failing) and summary["ok"] == 50 - len(failing)
    assert summary["metrics"]["rtf"]["n"] + summary["metrics"]["rtf"]["failures"] == 50
    assert sum(summary["failure_reasons"].values()) == len(failing)
    assert len(clip_hashes(tmp_path / "run")) == 50 - len(failing)


def test_rerun_of_a_finished_run_does_no_work_and_keeps_the_summary(fixture_models, tmp_path):
    config = RunConfig(model="slow", profile="none", device="cpu", limit=6)
    first = run_benchmark(config, tmp_path / "run", progress=False)
    second = run_benchmark(config, tmp_path / "run", progress=False)
    assert first.synthesized == 6 and second.synthesized == 0 and second.scored == 0
    assert second.summary["metrics"] == first.summary["metrics"]


def test_killed_run_resumes_only_missing_items_with_identical_results(fixture_models, tmp_path):
    env = {**os.environ, "SLOW_ADAPTER_SECONDS": "0.4", "RVCBENCH_MODELS_PATH": str(fixture_models)}
    killed_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "rvcbench", "run", "-m", "slow", "--profile", "none", "--limit", "12",
           "--device", "cpu", "--quiet", "--out", str(killed_dir)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline and record_count(killed_dir) < 4:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = record_count(killed_dir)
    assert 4 <= done_before < 12
    assert not (killed_dir / "summary.json").exists()

    resumed = run_benchmark(RunConfig(model="slow", profile="none", device="cpu", limit=12), killed_dir,
                            progress=False)
    assert resumed.synthesized == 12 - done_before
    clean = run_benchmark(RunConfig(model="slow", profile="none", device="cpu", limit=12), tmp_path / "clean",
                          progress=False)
    assert clip_hashes(killed_dir) == clip_hashes(tmp_path / "clean")
    columns = ["item_id", "pair_id", "status", "audio_seconds"]
    killed_table = pd.read_parquet(killed_dir / "utterances.parquet")[columns].sort_values("item_id")
    clean_table = pd.read_parquet(tmp_path / "clean" / "utterances.parquet")[columns].sort_values("item_id")
    pd.testing.assert_frame_equal(killed_table.reset_index(drop=True), clean_table.reset_index(drop=True))
    assert resumed.summary["items"] == clean.summary["items"] == 12
    assert resumed.summary["cost"]["complete"] is False  # the killed invocation left no figures: said, not hidden
    assert clean.summary["cost"]["complete"] is True and clean.summary["cost"]["invocations"] == 1
    assert not list(killed_dir.rglob("*.part"))  # atomic writes leave no half files


def test_a_run_directory_holding_other_settings_is_refused(fixture_models, tmp_path):
    run_benchmark(RunConfig(model="slow", profile="none", device="cpu", limit=2), tmp_path / "run", progress=False)
    with pytest.raises(RvcbenchError, match="other settings.*seed"):
        run_benchmark(RunConfig(model="slow", profile="none", device="cpu", limit=2, seed=7), tmp_path / "run",
                      progress=False)


def test_unwritable_output_directory_fails_before_any_synthesis(fixture_models, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(RvcbenchError, match="cannot write to the output directory"):
        run_benchmark(RunConfig(model="slow", profile="none", device="cpu", limit=2), blocker / "run",
                      progress=False)


def test_full_disk_fails_before_any_synthesis(fixture_models, tmp_path, monkeypatch):
    import rvcbench.results as results

    monkeypatch.setattr(results.shutil, "disk_usage", lambda path: type("U", (), {"free": 10_000})())
    with pytest.raises(RvcbenchError, match="not enough free disk"):
        run_benchmark(RunConfig(model="slow", profile="none", device="cpu", limit=2), tmp_path / "run",
                      progress=False)
    assert record_count(tmp_path / "run") == 0


def test_unknown_model_error_lists_the_known_models(fixture_models, tmp_path):
    with pytest.raises(UnknownNameError, match="known models: .*baseline.*oracle"):
        run_benchmark(RunConfig(model="no-such-model", profile="none"), tmp_path / "run", progress=False)


def test_cli_run_prints_the_summary_table_and_writes_summary_json(fixture_models, tmp_path):
    result = CliRunner().invoke(main, ["run", "-m", "slow", "--profile", "none", "--limit", "3", "--quiet",
                                       "--device", "cpu", "--out", str(tmp_path / "run")],
                                env={"SLOW_ADAPTER_SECONDS": "0"})
    assert result.exit_code == 0, result.output
    assert "items: 3  ok: 3  failed: 0" in result.output
    assert "rtf" in result.output and "95% CI" in result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["run"]["environment"]["packages"]["numpy"]
    assert summary["run"]["dataset"]["fingerprint"]


def test_cli_reports_bad_input_as_one_clear_line(fixture_models, tmp_path):
    result = CliRunner().invoke(main, ["run", "-m", "nope", "--profile", "none", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "error: unknown model 'nope'" in result.output and "Traceback" not in result.output


def test_a_scorer_added_to_the_profile_scores_a_finished_run_once(tmp_path, monkeypatch):
    from rvcbench.scoring import registry

    monkeypatch.setitem(registry.PROFILES, "tiny", ("mcd",))
    config = RunConfig(model="oracle", limit=2, profile="tiny", device="cpu")
    first = run_benchmark(config, tmp_path / "run", progress=False)
    assert first.scored == 2 and "rate_error" not in first.summary["metrics"]
    monkeypatch.setitem(registry.PROFILES, "tiny", ("mcd", "prosody"))
    second = run_benchmark(config, tmp_path / "run", progress=False)
    assert second.synthesized == 0 and second.scored == 2  # only the new scorer ran
    assert second.summary["metrics"]["rate_error"]["n"] == 2
    assert second.summary["metrics"]["mcd"]["mean"] == first.summary["metrics"]["mcd"]["mean"]
    assert run_benchmark(config, tmp_path / "run", progress=False).scored == 0


def test_records_outside_the_current_plan_are_set_aside_not_mixed_in(tmp_path):
    config = RunConfig(model="oracle", limit=2, profile="none", device="cpu")
    first = run_benchmark(config, tmp_path / "run", progress=False)
    before = sorted(records(first.run_dir))
    store = RunStore(first.run_dir / "run.sqlite")
    store.commit(records=[{"item_id": "0123456789abcdef0123", "synth_key": "x", "status": "ok"}])
    store.close()
    again = run_benchmark(config, tmp_path / "run", progress=False)
    assert sorted(records(again.run_dir)) == before
    store = RunStore(again.run_dir / "run.sqlite", readonly=True)
    assert store.stale_count() == 1
    store.close()
    assert again.summary["items"] == 2
