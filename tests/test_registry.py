"""Adapters are found as built-ins, in models/ folders, and through the `rvcbench.models` entry points."""

from __future__ import annotations

import sys

import pytest

from rvcbench.adapters.registry import build_registry, create_adapter
from rvcbench.registry import Registry


def test_builtins_and_folder_adapters_are_listed_without_importing_them(fixture_models):
    registry = build_registry()
    assert {"oracle", "baseline", "flaky", "slow"} <= set(registry.names())
    assert registry.origin("flaky").startswith("folder ")
    assert create_adapter("slow").sample_rate == 16000


def test_an_installed_package_registers_an_adapter_through_its_entry_point(tmp_path, monkeypatch):
    """A real distribution on sys.path (dist-info with entry_points.txt), as `pip install` leaves it."""
    package = tmp_path / "my_vc_plugin"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import numpy as np\n"
        "from rvcbench.adapters import VoiceCloner\n"
        "class PluginCloner(VoiceCloner):\n"
        "    name = 'myvc'\n"
        "    sample_rate = 8000\n"
        "    def clone(self, requests):\n"
        "        return [np.ones(800, dtype=np.float32) * 0.1 for _ in requests]\n"
    )
    dist_info = tmp_path / "my_vc_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-vc-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[rvcbench.models]\nmyvc = my_vc_plugin:PluginCloner\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = build_registry()
    assert "myvc" in registry.names() and "my-vc-plugin" in registry.origin("myvc")
    assert create_adapter("myvc", registry).sample_rate == 8000
    sys.modules.pop("my_vc_plugin", None)


def test_one_name_cannot_point_at_two_classes():
    registry = Registry("model", "rvcbench.none")
    registry.register("x", "a:B")
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("x", "c:D", origin="plugin")
