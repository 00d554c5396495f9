"""Shared fixtures: the test adapters in tests/fixtures/models are discovered like any models/ folder; the model
adapter tests share an adapter/module pair, an empty offline Hugging Face cache, fake weights trees and stack stubs."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

FIXTURE_MODELS = Path(__file__).parent / "fixtures" / "models"


@pytest.fixture
def fixture_models(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RVCBENCH_MODELS_PATH", str(FIXTURE_MODELS))
    return FIXTURE_MODELS


# --- model adapters (tests/test_model_*.py): each test module sets KEY, the adapter's models/ folder name ---


@pytest.fixture
def adapter(request: pytest.FixtureRequest):
    """A fresh instance of the adapter named by the test module's KEY."""
    from rvcbench.adapters.registry import create_adapter

    return create_adapter(request.module.KEY)


@pytest.fixture
def module(adapter) -> types.ModuleType:
    """The adapter's own module (models/<KEY>/adapter.py), for its helpers and constants."""
    return sys.modules[type(adapter).__module__]


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty, offline Hugging Face cache; the constants too, since huggingface_hub reads the env once on import."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def write_tree(root: Path, files: Iterable[str]) -> Path:
    """Create `files` (paths relative to `root`, subfolders made as needed) as one-byte stand-ins; return `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    return root


@pytest.fixture
def fake_tree(tmp_path: Path) -> Callable[..., Path]:
    """`fake_tree(files, folder="w")`: a fake weights (or checkout) tree holding `files`; `folder` is a name under
    tmp_path or a path."""
    return lambda files, folder="w": write_tree(tmp_path / folder, files)


@pytest.fixture
def full_weights(fake_tree, module) -> Path:
    """A weights folder with every file the adapter module lists in WEIGHT_FILES (it then passes the file check)."""
    return fake_tree(module.WEIGHT_FILES)


@pytest.fixture
def stub_stack(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """`stub_stack(adapter, importable)`: the adapter's stack_modules fail to import (importable=False), whatever
    is installed here, or import as empty stand-ins (importable=True), so that what load() checks next is reached."""

    def stub(adapter, importable: bool) -> None:
        for name in adapter.stack_modules:
            monkeypatch.setitem(sys.modules, name, types.ModuleType(name) if importable else None)

    return stub
