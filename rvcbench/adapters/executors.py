"""Where an adapter runs: in this process when its stack imports here, else in a worker in its own environment.

The rule (`auto`): every module of the adapter's `stack_modules` importable here → in-process; else a
worker in the environment recorded for the model by `rvcbench env create MODEL`; else an error naming
the missing modules and that command. `inprocess` and `worker` force one side; `worker` without a
recorded environment runs the worker with this interpreter (a separate process, same packages).
"""

from __future__ import annotations

import importlib.util
import sys

from rvcbench.adapters.contract import VoiceCloner
from rvcbench.adapters.registry import build_registry, create_adapter
from rvcbench.errors import MissingDependencyError, RvcbenchError
from rvcbench.model_envs import recorded_env
from rvcbench.registry import Registry

EXECUTORS = ("auto", "inprocess", "worker")


def missing_modules(modules: tuple[str, ...] | list[str]) -> list[str]:
    """The modules that no finder can locate in this interpreter (nothing is imported but parent packages)."""
    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package is missing or broken
            found = False
        if not found:
            missing.append(module)
    return missing


def choose_executor(model: str, stack_modules: tuple[str, ...], requested: str = "auto") -> tuple[str, str | None]:
    """("inprocess", None) or ("worker", python): the interpreter the worker runs with."""
    if requested not in EXECUTORS:
        raise RvcbenchError(f"unknown executor {requested!r}; use one of {', '.join(EXECUTORS)}")
    if requested == "inprocess":
        return "inprocess", None
    missing = missing_modules(stack_modules)
    if requested == "auto" and not missing:
        return "inprocess", None
    env = recorded_env(model)
    if env is None:
        if requested == "worker":
            return "worker", sys.executable
        raise MissingDependencyError(
            f"model {model!r} needs modules that do not import in this environment ({sys.prefix}): "
            f"{', '.join(missing)}; and no environment is recorded for it. Create one with "
            f"`rvcbench env create {model}`, or install the model's requirements here.")
    if not env.ok:
        raise RvcbenchError(f"the environment of model {model!r} at {env.path} is broken ({env.python} is gone); "
                            f"rebuild it with `rvcbench env create {model} --force`")
    return "worker", env.python


def open_adapter(model: str, registry: Registry | None = None, *, weights: str | None = None,
                 executor: str = "auto") -> VoiceCloner:
    """The adapter for `model`, in-process or as a WorkerCloner; close it with `close_adapter`."""
    registry = registry or build_registry()
    adapter = create_adapter(model, registry, weights=weights)
    kind, python = choose_executor(model, tuple(adapter.stack_modules), executor)
    if kind == "inprocess":
        return adapter
    from rvcbench.adapters.worker_client import WorkerCloner

    env = recorded_env(model)
    return WorkerCloner(model, python, weights=weights, env_path=env.path if env else None)


def close_adapter(adapter: VoiceCloner) -> None:
    """Stop the adapter's worker, if it has one."""
    close = getattr(adapter, "close", None)
    if callable(close):
        close()
