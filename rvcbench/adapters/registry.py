"""Where adapters come from: the built-ins, `models/<key>/adapter.py` in a checkout, and entry points.

A third party ships an adapter without forking by declaring, in its own pyproject.toml:

    [project.entry-points."rvcbench.models"]
    mymodel = "my_package.adapter:MyCloner"

A folder `models/<key>/adapter.py` (in this repository, or under a directory named by the
environment variable RVCBENCH_MODELS_PATH) registers the class named `Adapter` in that file as `<key>`.
"""

from __future__ import annotations

import os
from pathlib import Path

from rvcbench.adapters.contract import VoiceCloner
from rvcbench.errors import RvcbenchError
from rvcbench.registry import Registry

MODELS_ENTRY_POINT_GROUP = "rvcbench.models"
ADAPTER_FILE = "adapter.py"
ADAPTER_CLASS = "Adapter"


def model_dirs() -> list[Path]:
    """Folders scanned for `<key>/adapter.py`: the checkout's `models/` and RVCBENCH_MODELS_PATH entries."""
    checkout = Path(__file__).resolve().parents[2]
    dirs = [checkout / "models"] if (checkout / "pyproject.toml").is_file() else []  # a source checkout only
    extra = os.environ.get("RVCBENCH_MODELS_PATH", "")
    dirs += [Path(p) for p in extra.split(os.pathsep) if p]
    return [d for d in dirs if d.is_dir()]


def build_registry() -> Registry:
    registry = Registry("model", MODELS_ENTRY_POINT_GROUP)
    registry.register("oracle", "rvcbench.adapters.builtin.oracle:OracleCloner")
    registry.register("baseline", "rvcbench.adapters.builtin.baseline:BaselineCloner")
    registry.register("baseline-tts", "rvcbench.adapters.builtin.baseline:BaselineTtsOnly")
    for models_dir in model_dirs():
        for adapter_file in sorted(models_dir.glob(f"*/{ADAPTER_FILE}")):
            key = adapter_file.parent.name
            registry.register(key, f"{adapter_file}:{ADAPTER_CLASS}", origin=f"folder {adapter_file.parent}")
    registry.load_entry_points()
    return registry


def create_adapter(name: str, registry: Registry | None = None, weights: str | None = None) -> VoiceCloner:
    """Instantiate the adapter registered as `name` and check it honours the contract's declarations.

    `weights` (a local folder or a Hugging Face id) replaces the adapter's default checkpoint.
    """
    registry = registry or build_registry()
    cls = registry.get(name)
    if not (isinstance(cls, type) and issubclass(cls, VoiceCloner)):
        raise RvcbenchError(f"{registry.target(name)} is not a rvcbench.adapters.VoiceCloner subclass")
    adapter = cls()
    if weights:
        if not adapter.weights_id:
            raise RvcbenchError(f"adapter {name} loads no weights, so --weights does not apply to it")
        adapter.weights = weights
    if adapter.batch_size < 1 or adapter.sample_rate <= 0 or not adapter.languages:
        raise RvcbenchError(f"adapter {name}: batch_size, sample_rate and languages must be declared")
    return adapter
