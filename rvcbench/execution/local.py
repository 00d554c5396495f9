"""Replicas as threads of this process: one per device (`--devices cuda:0,cuda:1`, or `cpu,cpu` as stand-ins).

Each thread owns one replica, built on its device the first time it gets work; payloads wait in one
queue and go to whichever replica is free. Threads suffice: model code releases the GIL (torch,
numpy, ONNX), and an adapter in its own environment runs in its worker subprocess anyway.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from rvcbench.execution.stages import Replica, StageSpec


class LocalPool:
    lost_errors: tuple[type[BaseException], ...] = ()  # a thread cannot vanish: every error is the stage's own

    def __init__(self, spec: StageSpec, devices: list[str]) -> None:
        self.devices = list(devices)
        self._free = queue.Queue()
        for device in self.devices:
            self._free.put(device)
        self._local = threading.local()
        self._replicas: list[Replica] = []
        self._spec = spec
        self._threads = ThreadPoolExecutor(max_workers=len(self.devices), thread_name_prefix=f"rvcbench-{spec.kind}")

    @property
    def size(self) -> int:
        return len(self.devices)

    def submit(self, payload: list) -> Future:
        return self._threads.submit(self._run, payload)

    def _run(self, payload: list):
        replica = getattr(self._local, "replica", None)
        if replica is None:
            replica = self._local.replica = Replica(self._spec, self._free.get_nowait())
            self._replicas.append(replica)
        return replica.run(payload)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        for replica in self._replicas:
            replica.close()
