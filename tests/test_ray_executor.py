"""`--executor ray` on real Ray clusters started on this CPU machine: a local one with 2 CPUs, and two nodes
simulated with ray.cluster_utils.Cluster. Replicas are actors; results must equal the in-process run's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from run_store import clip_hashes, comparable, record_count

from rvcbench.runner import RunConfig, run_benchmark

ray = pytest.importorskip("ray")
FIXTURE_MODELS = Path(__file__).parent / "fixtures" / "models"


@pytest.fixture(scope="module")
def local_cluster():
    """A real local Ray cluster with 2 CPUs; the fixture adapters reach its workers through the environment."""
    from rvcbench.data import load_dataset

    doomed = ",".join(load_dataset("demo").manifest.pair_id[:2])  # the crashy adapter's process dies on these
    env = {"RVCBENCH_MODELS_PATH": str(FIXTURE_MODELS), "SLOW_ADAPTER_SECONDS": "0.5", "CRASHY_ON": doomed}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    yield
    ray.shutdown()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_baseline_on_two_ray_replicas_equals_the_in_process_run(local_cluster, tmp_path):
    profile = tmp_path / "cheap.yaml"
    profile.write_text("name: cheap\ndescription: MCD only\nreference: ''\nscorers: [mcd]\n")
    base = dict(model="baseline", profile=str(profile), limit=4)
    here = run_benchmark(RunConfig(**base, device="cpu"), tmp_path / "here", progress=False)
    on_ray = run_benchmark(RunConfig(**base, executor="ray", devices="cpu,cpu", ray_cpus_per_actor=0.5),
                           tmp_path / "ray", progress=False)
    pd.testing.assert_frame_equal(comparable(on_ray.run_dir), comparable(here.run_dir))
    assert clip_hashes(on_ray.run_dir) == clip_hashes(here.run_dir)
    assert on_ray.summary["metrics"]["mcd"] == here.summary["metrics"]["mcd"]
    assert on_ray.summary["run"]["execution"]["kind"] == "ray"


def test_a_killed_actor_mid_run_is_retried_and_the_run_completes(local_cluster, tmp_path):
    config = RunConfig(model="slow", profile="none", limit=10, executor="ray", devices="cpu,cpu",
                       ray_cpus_per_actor=0.5, batch_size=1)
    outcome: dict = {}
    worker = threading.Thread(target=lambda: outcome.update(run=run_benchmark(config, tmp_path / "killed",
                                                                               progress=False)))
    worker.start()
    deadline = time.time() + 120
    while record_count(tmp_path / "killed") < 2 and time.time() < deadline:
        time.sleep(0.05)
    names = [n for n in ray.util.list_named_actors() if n.startswith("rvcbench-synthesis-")]
    assert names, "no replica actor found"
    ray.kill(ray.get_actor(names[0]), no_restart=False)  # the process dies; Ray restarts it
    worker.join(timeout=300)
    killed = outcome["run"]
    assert killed.summary["ok"] == 10 and killed.summary["failed"] == 0
    assert killed.summary["timing"]["retried_payloads"] >= 1
    clean = run_benchmark(RunConfig(model="slow", profile="none", limit=10, device="cpu", batch_size=1),
                          tmp_path / "clean", progress=False)
    pd.testing.assert_frame_equal(comparable(killed.run_dir), comparable(clean.run_dir))


def test_a_replica_lost_every_time_fails_its_items_with_the_reason(local_cluster, tmp_path):
    config = RunConfig(model="crashy", profile="none", limit=2, executor="ray", devices="cpu",
                       ray_cpus_per_actor=0.5, max_attempts=2)
    outcome = run_benchmark(config, tmp_path / "lost", progress=False)
    assert outcome.summary["failed"] == 2
    assert any("replica lost 2 times" in reason for reason in outcome.summary["failure_reasons"])


def test_the_driver_killed_with_kill_9_resumes_on_rerun(local_cluster, tmp_path):
    out = tmp_path / "driver"
    cmd = [sys.executable, "-m", "rvcbench", "run", "-m", "slow", "--profile", "none", "--limit", "10", "--quiet",
           "--executor", "ray", "--devices", "cpu", "--ray-cpus-per-actor", "0.5", "--batch-size", "1",
           "--out", str(out)]
    env = {**os.environ, "RVCBENCH_MODELS_PATH": str(FIXTURE_MODELS), "SLOW_ADAPTER_SECONDS": "1.0"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 180
    while proc.poll() is None and record_count(out) < 2 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local cluster it started, all at once
    proc.wait()
    done = record_count(out)
    assert 2 <= done < 10 and not (out / "summary.json").exists()
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"synthesized {10 - done}," in resumed.stdout


def test_a_cluster_too_small_for_the_replicas_is_an_error_before_any_work(local_cluster, tmp_path):
    from rvcbench.errors import RvcbenchError

    config = RunConfig(model="slow", profile="none", limit=2, executor="ray", devices="cpu,cpu,cpu",
                       ray_cpus_per_actor=1.0)
    with pytest.raises(RvcbenchError, match="cannot place 3 replica"):
        run_benchmark(config, tmp_path / "small", progress=False)
