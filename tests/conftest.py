"""Shared fixtures: the test adapters in tests/fixtures/models are discovered like any models/ folder."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURE_MODELS = Path(__file__).parent / "fixtures" / "models"


@pytest.fixture
def fixture_models(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RVCBENCH_MODELS_PATH", str(FIXTURE_MODELS))
    return FIXTURE_MODELS
