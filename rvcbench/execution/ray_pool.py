"""Replicas as Ray actors: a run spread over every GPU of a node, or of a cluster (`--executor ray`).

Each actor holds one `Replica`, built on its first payload. GPU replicas ask Ray for `num_gpus=1`
(Ray sets CUDA_VISIBLE_DEVICES, so the replica's device is `cuda`); CPU replicas ask for CPUs only.
A model whose stack does not import in the driver's environment runs, inside its actor, in the worker
subprocess of its own environment (`rvcbench env create`): the environment is built once per machine
from the model's pinned requirements (torch from local disk where the pins allow), which Ray's
runtime_env cannot do offline, and the worker protocol is the one every other executor uses.

Actors that die (a killed process, a lost node) restart up to `MAX_RESTARTS` times; their in-flight
payload fails with a RayActorError, which the driver retries a bounded number of times (on an actor
that is alive) before recording the items as failures with the reason.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future
from concurrent.futures import wait as concurrent_wait
from dataclasses import dataclass, field

from rvcbench.errors import MissingDependencyError, RvcbenchError
from rvcbench.execution.stages import Replica, StageSpec

MAX_RESTARTS = 2
RECOVERY_SECONDS = 300.0  # an actor not back by then (its node is gone, nowhere to place it) counts as dead
INSTALL = "pip install 'rvcbench[ray]'"


def import_ray():
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError(f"--executor ray needs Ray, which is not installed here; install it with "
                                     f"`{INSTALL}`") from exc
    return ray


def connect(address: str | None, num_cpus: int | None = None) -> None:
    """Join the cluster at `address` (`auto`, `ray://host:port` or `host:port`), or start a local one.

    A given address is checked before any work: unreachable → an error naming it.
    """
    ray = import_ray()
    if ray.is_initialized():
        return
    if address and address not in ("auto", "local"):
        host, _, port = address.removeprefix("ray://").rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5):
                pass
        except (OSError, ValueError) as exc:
            raise RvcbenchError(f"--ray-address {address}: no Ray cluster answers there ({exc}); start one with "
                                "`ray start --head` or give the address `ray status` prints") from exc
    forwarded = {k: v for k, v in os.environ.items() if k.startswith("RVCBENCH_")}  # plugins, task paths, weights
    try:
        ray.init(address=None if address == "local" else address, num_cpus=num_cpus, include_dashboard=False,
                 log_to_driver=False, runtime_env={"env_vars": forwarded} if forwarded else None)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RvcbenchError(f"cannot connect to the Ray cluster at {address or 'a new local cluster'}: {exc}") from exc


@dataclass(frozen=True)
class ActorShape:
    """What one replica asks Ray for, and the device it then uses."""

    device: str  # "cuda" (Ray gave it a GPU) or "cpu"
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    resources: dict[str, float] = field(default_factory=dict)


def shape_for(device_kind: str, cpus_per_actor: float) -> ActorShape:
    if device_kind == "cuda":
        return ActorShape("cuda", num_cpus=cpus_per_actor, num_gpus=1.0)
    return ActorShape("cpu", num_cpus=cpus_per_actor)


class ReplicasGone(RuntimeError):
    """Every actor of a pool is dead for good: what is left to do fails with this reason."""


class _ReplicaActor:
    def __init__(self, spec: StageSpec, device: str) -> None:
        self._replica = Replica(spec, device)

    def run(self, payload: list):
        return self._replica.run(payload)

    def ready(self) -> bool:
        return True

    def shutdown(self) -> None:
        self._replica.close()


class RayPool:
    """`count` actors of one shape; each payload goes to the live actor with the least work in flight."""

    def __init__(self, spec: StageSpec, count: int, shape: ActorShape) -> None:
        ray = import_ray()
        self._ray = ray
        self.lost_errors = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                            ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError, ReplicasGone)
        self._check_resources(count, shape)
        remote = ray.remote(max_restarts=MAX_RESTARTS, max_task_retries=0)(_ReplicaActor)
        run = uuid.uuid4().hex[:8]
        self.names = [f"rvcbench-{spec.kind}-{run}-{i}" for i in range(count)]  # ray.get_actor(name) finds one
        self.actors = [remote.options(name=name, num_cpus=shape.num_cpus, num_gpus=shape.num_gpus,
                                      resources=dict(shape.resources) or None).remote(spec, shape.device)
                       for name in self.names]
        self.devices = [shape.device] * count
        self._busy = [0] * count
        self._recovering: dict[int, tuple[Future, float]] = {}  # actor → (a ping answered once restarted, since)
        self._dead: set[int] = set()

    @property
    def size(self) -> int:
        return len(self.actors)

    def _check_resources(self, count: int, shape: ActorShape) -> None:
        total = self._ray.cluster_resources()
        wanted = {"CPU": shape.num_cpus * count, "GPU": shape.num_gpus * count,
                  **{k: v * count for k, v in shape.resources.items()}}
        short = [f"{k}: {v:g} wanted, {total.get(k, 0):g} in the cluster" for k, v in wanted.items()
                 if v and total.get(k, 0) < v]
        if short:
            raise RvcbenchError(f"the Ray cluster cannot place {count} replica(s): {'; '.join(short)}")

    def submit(self, payload: list) -> Future:
        """Send `payload` to the live actor with the least work in flight (waiting while every actor restarts)."""
        while True:
            self._reap()
            live = [i for i in range(len(self.actors)) if i not in self._recovering and i not in self._dead]
            if live:
                break
            if len(self._dead) == len(self.actors):
                gone: Future = Future()
                gone.set_exception(ReplicasGone(f"all {len(self.actors)} replicas died and used up their restarts"))
                return gone
            concurrent_wait([ping for ping, _ in self._recovering.values()], timeout=1.0,
                            return_when=FIRST_COMPLETED)
        index = min(live, key=self._busy.__getitem__)
        self._busy[index] += 1
        future = self.actors[index].run.remote(payload).future()
        future.add_done_callback(lambda f, i=index: self._done(i, f))
        return future

    def _done(self, index: int, future: Future) -> None:
        self._busy[index] -= 1
        if isinstance(future.exception(), self.lost_errors) and index not in self._recovering:
            self._recovering[index] = (self.actors[index].ready.remote().future(), time.monotonic())

    def _reap(self) -> None:
        for index, (ping, since) in list(self._recovering.items()):
            if ping.done():
                del self._recovering[index]
                if ping.exception() is not None:  # gone for good (its restarts used up)
                    self._dead.add(index)
            elif time.monotonic() - since > RECOVERY_SECONDS:
                del self._recovering[index]
                self._dead.add(index)

    def close(self) -> None:
        for index, actor in enumerate(self.actors):
            if index not in self._dead:
                try:
                    self._ray.get(actor.shutdown.remote(), timeout=60)
                except self.lost_errors:  # already gone: nothing to close
                    pass
            self._ray.kill(actor)
