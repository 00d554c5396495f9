"""`--executor ray` on two Ray nodes simulated on this machine (ray.cluster_utils.Cluster): the replicas ask for a
resource only the second node has, as GPU replicas ask for GPUs; results must equal the in-process run's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from run_store import comparable

from rvcbench.runner import RunConfig, run_benchmark

ray = pytest.importorskip("ray")
FIXTURE_MODELS = Path(__file__).parent / "fixtures" / "models"


def test_two_nodes_with_a_stand_in_gpu_resource(fixture_models, monkeypatch, tmp_path):
    """Head node: 1 CPU, no accelerator; worker node: 2 CPUs and the stand-in resource the replicas ask for."""
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("SLOW_ADAPTER_SECONDS", "0.1")
    env = {"RVCBENCH_MODELS_PATH": str(fixture_models), "SLOW_ADAPTER_SECONDS": "0.1"}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=2, resources={"stand_in_gpu": 2})
    cluster.wait_for_nodes()
    try:
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": env})
        config = RunConfig(model="slow", profile="none", limit=6, executor="ray", devices="cpu,cpu",
                           ray_resources="stand_in_gpu=1")
        two_nodes = run_benchmark(config, tmp_path / "two-nodes", progress=False)
        nodes = [n["Resources"] for n in ray.nodes() if n["Alive"]]
        assert len(nodes) == 2 and sum("stand_in_gpu" in r for r in nodes) == 1
    finally:
        ray.shutdown()
        cluster.shutdown()
    here = run_benchmark(RunConfig(model="slow", profile="none", limit=6, device="cpu"), tmp_path / "here",
                         progress=False)
    assert two_nodes.summary["ok"] == 6 and two_nodes.summary["run"]["execution"]["kind"] == "ray"
    pd.testing.assert_frame_equal(comparable(two_nodes.run_dir), comparable(here.run_dir))


def test_a_worker_node_that_dies_mid_run_loses_no_finished_result(fixture_models, monkeypatch, tmp_path):
    """The node holding the replicas is removed mid-run: committed records stay, the rest fail as `ReplicaLost`
    (a lost machine, not the model), and a rerun on a new node does exactly those again."""
    import threading
    import time

    from ray.cluster_utils import Cluster
    from run_store import record_count

    import rvcbench.execution.ray_pool as ray_pool

    monkeypatch.setattr(ray_pool, "RECOVERY_SECONDS", 3.0)
    env = {"RVCBENCH_MODELS_PATH": str(fixture_models), "SLOW_ADAPTER_SECONDS": "0.5"}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=2, resources={"stand_in_gpu": 2})
    cluster.wait_for_nodes()
    config = RunConfig(model="slow", profile="none", limit=10, executor="ray", devices="cpu,cpu", batch_size=1,
                       ray_resources="stand_in_gpu=1")
    out = tmp_path / "node-lost"
    try:
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": env})
        outcome: dict = {}
        thread = threading.Thread(target=lambda: outcome.update(run=run_benchmark(config, out, progress=False)))
        thread.start()
        deadline = time.time() + 120
        while record_count(out) < 2 and time.time() < deadline:
            time.sleep(0.05)
        cluster.remove_node(worker)
        thread.join(timeout=300)
        lost = outcome["run"].summary
        assert lost["ok"] >= 2 and lost["ok"] + lost["failed"] == 10 and lost["failed"] >= 1
        assert all("replica lost" in reason for reason in lost["failure_reasons"])
        cluster.add_node(num_cpus=2, resources={"stand_in_gpu": 2})
        cluster.wait_for_nodes()
        again = run_benchmark(config, out, progress=False)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert again.summary["ok"] == 10 and again.synthesized == lost["failed"]
