"""`WorkerCloner`: a VoiceCloner whose model runs in a worker process, in another environment.

The runner treats it like any adapter. The worker is started once (its handshake gives the real
adapter's declarations), loaded once, and kept for the whole run.

Crashes: when the worker dies during a call, `clone` raises `WorkerCrashed` with the exit code and the
last lines of its stderr. The runner retries a raising batch item by item, so the batch-mates of the item
that kills the worker are made again and only that item is recorded as failed. The next call starts a
fresh worker (and loads the model again). After `max_restarts` crashes in a row with no successful call
between them, the worker is not started again: every later call raises `WorkerGaveUp`, so the remaining
items fail quickly with that reason instead of reloading a model that cannot run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import weakref
from collections import deque
from typing import IO

import numpy as np

from rvcbench.adapters.contract import CloneFailure, CloneRequest, VoiceCloner
from rvcbench.adapters.protocol import (
    PROTOCOL_VERSION,
    ProtocolError,
    decode_outputs,
    encode_requests,
    read_message,
    write_message,
)
from rvcbench.errors import RvcbenchError

DEFAULT_MAX_RESTARTS = 3
STDERR_LINES_KEPT = 40
STDERR_LINES_IN_REASON = 5
SHUTDOWN_SECONDS = 10.0


class WorkerError(RvcbenchError):
    """The worker could not start or load the model; the message says which environment and why."""


class WorkerCrashed(WorkerError):
    """The worker process died during a call (the items in flight fail with this reason)."""


class WorkerGaveUp(WorkerError):
    """The worker crashed too often in a row and is not restarted."""


class RemoteError(Exception):
    """An exception the adapter raised inside the worker; subclasses carry the original type's name."""


class RemoteTraceback(Exception):
    """The worker-side traceback, chained as the cause of a RemoteError."""


_remote_types: dict[str, type[RemoteError]] = {}


def remote_error(error_type: str, message: str, remote_traceback: str) -> RemoteError:
    """A RemoteError whose class is named like the original (records read `RuntimeError`, as in-process)."""
    name = error_type if error_type.isidentifier() else "RemoteError"
    cls = _remote_types.setdefault(name, type(name, (RemoteError,), {}))
    error = cls(message)
    error.__cause__ = RemoteTraceback(remote_traceback)
    return error


class WorkerCloner(VoiceCloner):
    """Forwards `load` and `clone` to `python -m rvcbench.adapters.worker MODEL` run by `python`."""

    def __init__(self, model: str, python: str, *, weights: str | None = None, env_path: str | None = None,
                 max_restarts: int = DEFAULT_MAX_RESTARTS, adapter_file: str | None = None) -> None:
        self.model = model
        self.adapter_file = adapter_file
        self.python = python
        self.env_path = env_path
        self.max_restarts = max_restarts
        self.restarts = 0  # workers started after a crash, over the whole run
        self._requested_weights = weights
        self._device: str | None = None
        self._crashes_in_a_row = 0
        self._last_crash = ""
        self._proc: subprocess.Popen | None = None
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES_KEPT)
        self._stderr_thread: threading.Thread | None = None
        self._finalizer: weakref.finalize | None = None
        try:
            hello = self._start()
        except WorkerCrashed as exc:
            raise WorkerError(f"the worker of model {model!r} did not start with {python}: {exc}. Check its "
                              f"environment with `rvcbench env check {model}`.") from exc
        for key, value in hello["attributes"].items():
            setattr(self, key, frozenset(value) if key == "languages" else
                    tuple(value) if key == "stack_modules" else value)
        self.environment: dict = hello["environment"]
        self._describe: dict = hello["describe"]
        self.worker_usage: dict | None = None  # set by every clone reply

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def describe(self) -> dict:
        return {**self._describe, "executor": {"kind": "worker", "python": self.environment["python"],
                                               "environment": self.environment["prefix"]}}

    def load(self, device: str) -> None:
        self._device = device
        self._load()

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._proc is None:
            self._restart()
        encoded, arrays = encode_requests(requests)
        header, out_arrays = self._call({"op": "clone", "requests": encoded}, arrays)
        if header.get("op") == "error":
            raise remote_error(header["error_type"], header["message"], header.get("traceback", ""))
        self._crashes_in_a_row = 0
        self.worker_usage = header.get("usage")  # the worker's own peak memory (rvcbench.execution.usage)
        return decode_outputs(header["outputs"], out_arrays)

    def close(self) -> None:
        """Ask the worker to exit (killed if it does not within a few seconds)."""
        if self._finalizer is not None:
            self._finalizer()
        self._proc = None

    # --- process management -------------------------------------------------------------------------

    def _start(self) -> dict:
        command = [self.python, "-m", "rvcbench.adapters.worker", self.model]
        if self._requested_weights:
            command += ["--weights", self._requested_weights]
        if self.adapter_file:
            command += ["--adapter-file", self.adapter_file]
        try:
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
        except OSError as exc:
            raise WorkerError(f"cannot start the worker of model {self.model!r} with {self.python}: {exc}. "
                              f"Recreate its environment with `rvcbench env create {self.model} --force`.") from exc
        self._proc = proc
        self._stderr.clear()
        self._stderr_thread = threading.Thread(target=_drain, args=(proc.stderr, self._stderr, self.model),
                                               daemon=True)
        self._stderr_thread.start()
        self._finalizer = weakref.finalize(self, _stop, proc)
        header, _ = self._call(None, [])
        if header.get("op") == "error":
            self._reap()
            raise WorkerError(f"the worker of model {self.model!r} ({self.python}) cannot create the adapter: "
                              f"{header['error_type']}: {header['message']}")
        if header.get("op") != "hello" or header.get("protocol") != PROTOCOL_VERSION:
            self._reap()
            raise WorkerError(f"the worker of model {self.model!r} ({self.python}) speaks protocol "
                              f"{header.get('protocol')!r}, this rvcbench speaks {PROTOCOL_VERSION}: install the "
                              f"same rvcbench in both environments (`rvcbench env create {self.model} --force`)")
        return header

    def _load(self) -> None:
        header, _ = self._call({"op": "load", "device": self._device}, [])
        if header.get("op") == "error":
            raise WorkerError(f"model {self.model!r} failed to load in its worker ({self.python}): "
                              f"{header['error_type']}: {header['message']}")
        self._describe = header["describe"]

    def _restart(self) -> None:
        if self._crashes_in_a_row > self.max_restarts:
            raise WorkerGaveUp(f"the worker of model {self.model!r} crashed {self._crashes_in_a_row} times in a row; "
                               f"not restarted again (last: {self._last_crash})")
        self.restarts += 1
        self._start()
        if self._device is not None:
            self._load()

    def _call(self, header: dict | None, arrays: list[np.ndarray]) -> tuple[dict, list[np.ndarray]]:
        """Send a request (None: only read, for the handshake) and read the answer; a dead worker → WorkerCrashed."""
        proc = self._proc
        try:
            if header is not None:
                write_message(proc.stdin, header, arrays)
            return read_message(proc.stdout)
        except (ProtocolError, OSError) as exc:  # a closed pipe or a torn frame: the worker is gone
            reason = self._crash_reason(exc)
            self._crashes_in_a_row += 1
            self._last_crash = reason
            raise WorkerCrashed(reason) from exc

    def _crash_reason(self, exc: BaseException) -> str:
        code = self._reap()
        if code is None:
            status = f"protocol broken ({exc})"
        elif code < 0:
            status = f"killed by signal {signal.Signals(-code).name}" if -code in signal.valid_signals() else \
                f"killed by signal {-code}"
        else:
            status = f"exit code {code}"
        tail = " | ".join(list(self._stderr)[-STDERR_LINES_IN_REASON:]) or "(no stderr)"
        return f"worker crashed: {status}; last stderr: {tail}"

    def _reap(self) -> int | None:
        """Stop the current worker; its exit code (None when it had to be killed)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            code = proc.wait(timeout=SHUTDOWN_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=SHUTDOWN_SECONDS)
        if self._finalizer is not None:
            self._finalizer.detach()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None and not stream.closed:
                try:
                    stream.close()
                except OSError:  # the pipe is already broken: nothing left to flush
                    pass
        return code


def _drain(stream: IO[bytes], tail: deque[str], model: str) -> None:
    """Forward the worker's stderr to ours (its logs stay visible) and keep the last lines for crash reasons."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip()
        tail.append(line)
        print(f"[worker {model}] {line}", file=sys.stderr, flush=True)
    stream.close()


def _stop(proc: subprocess.Popen) -> None:
    """Shut a worker down politely, then by force."""
    if proc.poll() is None:
        try:
            write_message(proc.stdin, {"op": "shutdown"})
            proc.stdin.close()
        except OSError:  # it died meanwhile
            pass
        try:
            proc.wait(timeout=SHUTDOWN_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
