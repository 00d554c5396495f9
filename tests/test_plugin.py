"""A third-party package registers an adapter through the `rvcbench.models` entry points and passes the checks.

The package (tests/fixtures/plugin_pkg) is really built and installed with pip, into a folder put on
PYTHONPATH, as a user's `pip install` would leave it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN_SOURCE = Path(__file__).parent / "fixtures" / "plugin_pkg"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("plugin")
    source = tmp / "src"
    shutil.copytree(PLUGIN_SOURCE, source)  # the build writes into its source folder: keep the checkout clean
    target = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True)
    assert list(target.glob("rvcbench_example_plugin-0.1.0.dist-info"))
    return {**os.environ, "PYTHONPATH": str(target), "RVCBENCH_ENVS_DIR": str(tmp / "envs")}


def rvcbench(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rvcbench", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_installed_plugin_is_listed_with_its_origin(plugin_env):
    listing = rvcbench(plugin_env, "models")
    assert listing.returncode == 0, listing.stderr
    line = next(i for i, text in enumerate(listing.stdout.splitlines()) if text.startswith("tonevoice "))
    assert "entry point of rvcbench-example-plugin" in listing.stdout.splitlines()[line + 1]
    assert "tonevoice" not in rvcbench({**plugin_env, "PYTHONPATH": ""}, "models").stdout  # only when installed


def test_the_plugin_passes_every_conformance_check(plugin_env):
    checked = rvcbench(plugin_env, "check-adapter", "tonevoice", "--device", "cpu")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "tonevoice: 9 of 9 checks passed" in checked.stdout
    assert "made clips in en, fr" in checked.stdout


def test_the_plugin_runs_a_benchmark(plugin_env, tmp_path):
    run = rvcbench(plugin_env, "run", "-m", "tonevoice", "--limit", "3", "--profile", "none", "--device", "cpu",
                   "--quiet", "--out", str(tmp_path / "run"))
    assert run.returncode == 0, run.stderr
    assert "items: 3  ok: 3  failed: 0" in run.stdout
