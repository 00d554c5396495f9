"""The staged runner at scale, without Ray: the store, shards and merge, several devices, pipelining, batching,
and the execution options checked before any work."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from run_store import clip_hashes, comparable

from rvcbench.batching import BatchLimits, batches_by_duration, is_out_of_memory
from rvcbench.cli import main
from rvcbench.errors import RvcbenchError
from rvcbench.execution.options import in_shard, parse_shard
from rvcbench.merge import merge_runs
from rvcbench.runner import RunConfig, run_benchmark
from rvcbench.scoring import aggregate
from rvcbench.store import RunStore


@pytest.fixture
def cheap_profile(tmp_path: Path) -> str:
    """A real, fast, deterministic profile: MCD and prosody (numpy and WORLD, no neural model)."""
    path = tmp_path / "cheap.yaml"
    path.write_text("name: cheap\ndescription: MCD and prosody only\nreference: ''\nscorers: [mcd, prosody]\n")
    return str(path)


def metric_means(summary: dict) -> str:
    """Every metric but RTF (a timing), as text: NaN equals NaN."""
    return json.dumps({k: v for k, v in summary["metrics"].items() if k != "rtf"}, sort_keys=True)


# --- batching ---------------------------------------------------------------------------------------------------


def test_batches_follow_duration_under_a_budget_and_an_item_cap():
    work = [("a", 9.0), ("b", 1.0), ("c", 2.0), ("d", 2.5), ("e", 30.0), ("f", 1.5)]
    assert batches_by_duration(work, BatchLimits(8, 5.0)) == [["b", "f", "c"], ["d"], ["a"], ["e"]]
    assert batches_by_duration(work, BatchLimits(2)) == [["b", "f"], ["c", "d"], ["a", "e"]]
    assert batches_by_duration(list(reversed(work)), BatchLimits(8, 5.0)) == batches_by_duration(
        work, BatchLimits(8, 5.0))  # the order the work arrives in does not matter


def test_batch_limits_and_out_of_memory_recognition():
    with pytest.raises(RvcbenchError, match="at least 1"):
        BatchLimits(0)
    with pytest.raises(RvcbenchError, match="positive"):
        BatchLimits(4, 0.0)

    class OutOfMemoryError(RuntimeError):
        pass

    assert is_out_of_memory(OutOfMemoryError("x"))
    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert not is_out_of_memory(ValueError("bad text"))


def test_an_out_of_memory_batch_is_split_and_the_size_that_worked_is_recorded(fixture_models, tmp_path):
    outcome = run_benchmark(RunConfig(model="oomy", profile="none", device="cpu", limit=7), tmp_path / "run",
                            progress=False)
    assert outcome.summary["ok"] == 7 and outcome.summary["failed"] == 0
    synth_sizes = {int(k): v for k, v in outcome.summary["timing"]["batch_sizes"].items()}
    assert max(synth_sizes) <= 2 and sum(synth_sizes.values()) == 7
    table = pd.read_parquet(tmp_path / "run" / "utterances.parquet")
    assert set(table.batch_size) <= {1, 2}


def test_bootstrap_draws_in_chunks_give_the_same_intervals(monkeypatch):
    values = np.random.default_rng(1).normal(size=3001)
    whole = aggregate.summarize_mean(values, seed=4)
    monkeypatch.setattr(aggregate, "DRAW_CHUNK_CELLS", 5000)  # one resample row per chunk
    assert aggregate.summarize_mean(values, seed=4) == whole


# --- the store ---------------------------------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys
    from rvcbench.store import RunStore
    store = RunStore(sys.argv[1])
    batch = 0
    while True:
        store.commit(records=[{"item_id": f"{batch:06d}-{i:02d}", "synth_key": "k", "status": "ok",
                               "text": "x" * 500} for i in range(64)])
        batch += 1
        print(batch, flush=True)
""")


def test_kill_9_during_writes_loses_no_committed_batch(tmp_path):
    path = tmp_path / "run.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    reported = 0
    deadline = time.time() + 60
    while reported < 40 and time.time() < deadline:
        reported = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT count(*) FROM records").fetchone()[0]
    assert rows >= reported * 64 and rows % 64 == 0  # every reported commit, and no half batch


def test_an_older_run_directory_of_json_files_is_imported(tmp_path):
    config = RunConfig(model="oracle", profile="none", device="cpu", limit=3)
    first = run_benchmark(config, tmp_path / "run", progress=False)
    store = RunStore(first.run_dir / "run.sqlite")
    records = [r for chunk in store.iter_records() for r in chunk]
    synths = {r["synth_key"]: store.synth(r["synth_key"]) for r in records}
    store.close()
    legacy = tmp_path / "legacy"
    (legacy / "items").mkdir(parents=True)
    (legacy / "synth").mkdir()
    for record in records:
        (legacy / "items" / f"{record['item_id']}.json").write_text(json.dumps(record))
    for key, synth in synths.items():
        (legacy / "synth" / f"{key}.json").write_text(json.dumps(synth))
    os.rename(first.run_dir / "clips", legacy / "clips")
    (legacy / "config.json").write_text((first.run_dir / "config.json").read_text())
    again = run_benchmark(config, legacy, progress=False)
    assert again.synthesized == 0 and again.summary["ok"] == 3
    assert (legacy / "items.imported").is_dir() and not (legacy / "items").exists()


# --- shards and merge ------------------------------------------------------------------------------------------


def test_shards_partition_the_items_deterministically():
    keys = [hashlib.sha256(str(i).encode()).hexdigest()[:20] for i in range(300)]
    owners = [[i for i in range(3) if in_shard(k, (i, 3))] for k in keys]
    assert all(len(o) == 1 for o in owners)
    assert min(sum(o == [i] for o in owners) for i in range(3)) > 70  # roughly even
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3/2", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(RvcbenchError, match="--shard"):
            parse_shard(bad)


def test_three_shards_merged_equal_one_run(cheap_profile, tmp_path):
    base = dict(model="baseline", profile=cheap_profile, device="cpu", limit=4, task="post-processing",
                conditions={"post-processing": ["telephone"]})
    whole = run_benchmark(RunConfig(**base), tmp_path / "whole", progress=False)
    shards = [run_benchmark(RunConfig(**base, shard=f"{i}/3"), tmp_path / f"s{i}", progress=False)
              for i in range(3)]
    assert sum(s.summary["items"] for s in shards) == whole.summary["items"]
    assert all(s.summary["items"] for s in shards)  # each shard got work
    merged = merge_runs([s.run_dir for s in shards], tmp_path / "merged", progress=False)
    pd.testing.assert_frame_equal(comparable(merged.run_dir), comparable(whole.run_dir))
    assert metric_means(merged.summary) == metric_means(whole.summary)
    conditions = whole.summary["tasks"]["post-processing"]["conditions"]
    assert list(conditions) == ["clean", "telephone"]
    for name, condition in conditions.items():
        merged_metrics = merged.summary["tasks"]["post-processing"]["conditions"][name]["metrics"]
        assert json.dumps(merged_metrics, sort_keys=True) == json.dumps(condition["metrics"], sort_keys=True)
    assert clip_hashes(merged.run_dir) == clip_hashes(whole.run_dir)
    cost = merged.summary["cost"]  # the shards' invocations, summed: the merge itself synthesised nothing
    assert cost["invocations"] == 3 and cost["complete"] is True
    assert cost["generated_audio_seconds"] == pytest.approx(whole.summary["cost"]["generated_audio_seconds"])
    assert cost["phases"]["synthesis"]["wall_seconds"] == pytest.approx(
        sum(s.summary["cost"]["phases"]["synthesis"]["wall_seconds"] for s in shards))


def test_merge_refuses_runs_that_are_not_the_shards_of_one_run(tmp_path):
    base = dict(model="oracle", profile="none", device="cpu", limit=4)
    a = run_benchmark(RunConfig(**base, shard="0/2"), tmp_path / "a", progress=False).run_dir
    b = run_benchmark(RunConfig(**base, shard="1/2", seed=5), tmp_path / "b", progress=False).run_dir
    c = run_benchmark(RunConfig(**base, shard="0/3"), tmp_path / "c", progress=False).run_dir
    with pytest.raises(RvcbenchError) as error:
        merge_runs([a, b], tmp_path / "m1", progress=False)
    assert "seed differs" in str(error.value) and str(b) in str(error.value)
    with pytest.raises(RvcbenchError, match="missing shard.*1/2"):
        merge_runs([a], tmp_path / "m2", progress=False)
    with pytest.raises(RvcbenchError, match="split the run differently"):
        merge_runs([a, c], tmp_path / "m3", progress=False)
    with pytest.raises(RvcbenchError, match="given twice"):
        merge_runs([a, a], tmp_path / "m4", progress=False)
    result = CliRunner().invoke(main, ["merge", str(a), str(b), "--out", str(tmp_path / "m5")])
    assert result.exit_code == 2 and "seed differs" in result.output and "Traceback" not in result.output


# --- several devices, pipelining -----------------------------------------------------------------------------


def test_two_cpu_replicas_and_pipelining_give_the_one_device_results(cheap_profile, tmp_path):
    base = dict(model="baseline", profile=cheap_profile, limit=5)
    one = run_benchmark(RunConfig(**base, device="cpu", pipeline=False), tmp_path / "one", progress=False)
    two = run_benchmark(RunConfig(**base, devices="cpu,cpu", score_devices="cpu,cpu"), tmp_path / "two",
                        progress=False)
    pd.testing.assert_frame_equal(comparable(two.run_dir), comparable(one.run_dir))
    assert clip_hashes(two.run_dir) == clip_hashes(one.run_dir)
    assert metric_means(two.summary) == metric_means(one.summary)
    config = json.loads((two.run_dir / "config.json").read_text())
    assert config["execution"]["devices"] == ["cpu", "cpu"] and config["execution"]["pipeline"] is True


def test_a_finished_run_reopens_without_planning_or_summarising_again(tmp_path, monkeypatch):
    config = RunConfig(model="oracle", profile="none", device="cpu", limit=3)
    first = run_benchmark(config, tmp_path / "run", progress=False)
    import rvcbench.runner as runner

    monkeypatch.setattr(runner, "iter_planned", lambda *a, **k: pytest.fail("re-planned a finished run"))
    monkeypatch.setattr(runner, "summarize_records", lambda *a, **k: pytest.fail("re-summarised"))
    again = run_benchmark(config, tmp_path / "run", progress=False)
    assert again.synthesized == 0 and again.summary["made_at"] == first.summary["made_at"]


# --- options checked before any work ---------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--devices", "cuda:3"], "device 'cuda:3' does not exist here; devices found: cpu"),
    (["--devices", "tpu"], "unknown device 'tpu'"),
    (["--devices", "cpu,,cpu"], "comma-separated list"),
    (["--gpus", "0"], "--gpus 0: must be at least 1"),
    (["--gpus", "2"], "this machine has 0 CUDA device"),
    (["--devices", "cpu", "--gpus", "1"], "not both"),
    (["--device", "cpu", "--devices", "cpu,cpu"], "not both"),
    (["--shard", "3/2"], "--shard '3/2'"),
    (["--batch-size", "0"], "--batch-size 0: must be at least 1"),
    (["--batch-seconds", "-2"], "--batch-seconds -2.0: must be positive"),
    (["--limit", "0"], "--limit 0: must be at least 1"),
    (["--ray-address", "127.0.0.1:1"], "--ray-address needs --executor ray"),
    (["--score-devices", "cuda:7"], "device 'cuda:7' does not exist"),
    (["--ray-resources", "gpu"], "--ray-resources"),
])
def test_bad_run_options_fail_before_any_work_naming_the_option(tmp_path, args, message, monkeypatch):
    import rvcbench.execution.options as options

    monkeypatch.setattr(options, "cuda_devices", lambda: [])
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", "--model", "oracle", "--profile", "none", "--quiet", "--out", str(out),
                                       *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (out / "run.sqlite").exists()


def test_an_unreachable_ray_address_fails_before_any_work(tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", "--model", "oracle", "--profile", "none", "--quiet", "--out", str(out),
                                       "--executor", "ray", "--ray-address", "127.0.0.1:9"])
    assert result.exit_code == 2 and "--ray-address 127.0.0.1:9: no Ray cluster answers there" in result.output
    assert not (out / "run.sqlite").exists()


def test_ray_missing_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    result = CliRunner().invoke(main, ["run", "--model", "oracle", "--profile", "none", "--quiet",
                                       "--out", str(tmp_path / "run"), "--executor", "ray"])
    assert result.exit_code == 2 and "pip install 'rvcbench[ray]'" in result.output
