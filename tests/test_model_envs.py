"""Model environments: the commands `env create` runs, the registry of environments, `env list` and `env check`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from linked_venv import make_linked_venv

from rvcbench.cli import main
from rvcbench.model_envs import (
    ModelEnvError,
    checkout_root,
    create_env,
    envs_dir,
    plan_create,
    record_env,
    recorded_env,
)

ADAPTER = '''
import numpy as np
from rvcbench.adapters.contract import VoiceCloner

class Adapter(VoiceCloner):
    name = "{name}"
    sample_rate = 16000
    stack_modules = ("numpy", "no_such_stack_xyz")

    def clone(self, requests):
        return [np.full(1600, 0.1, dtype=np.float32) for _ in requests]
'''


@pytest.fixture
def model_folder(tmp_path, monkeypatch) -> Path:
    """A `models/` folder with one model `tiny` (requirements pinned) and the envs registry in tmp."""
    models = tmp_path / "models"
    (models / "tiny").mkdir(parents=True)
    (models / "tiny" / "adapter.py").write_text(ADAPTER.format(name="tiny"))
    (models / "tiny" / "requirements.txt").write_text("# pinned\nsoundfile==0.12.1\n")
    monkeypatch.setenv("RVCBENCH_MODELS_PATH", str(models))
    monkeypatch.setenv("RVCBENCH_ENVS_DIR", str(tmp_path / "envs"))
    return models / "tiny"


def test_dry_run_prints_venv_and_pip_commands_and_creates_nothing(model_folder):
    result = CliRunner().invoke(main, ["env", "create", "tiny", "--dry-run", "--installer", "pip"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()[1:]
    assert lines[0].endswith(f"-m venv {envs_dir() / 'tiny'}")
    assert lines[1].endswith(f"-m pip install -r {model_folder / 'requirements.txt'}")
    assert "'numpy>=" in lines[2] and "soundfile" in lines[2]  # quoted for a shell
    assert lines[3].endswith(f"install --no-deps -e {checkout_root()}")
    assert not envs_dir().exists()


def test_uv_is_used_when_it_is_on_path(model_folder, tmp_path, monkeypatch):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    uv = fake_bin / "uv"
    uv.write_text("#!/bin/sh\nexit 0\n")
    uv.chmod(uv.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    plan = plan_create("tiny", model_folder / "requirements.txt", python="3.10")
    assert plan.installer == "uv"
    assert plan.commands[0] == [str(uv), "venv", "--python", "3.10", str(envs_dir() / "tiny")]
    assert all(c[:4] == [str(uv), "pip", "install", "--python"] for c in plan.commands[1:])


def test_create_runs_each_command_then_records_the_environment(model_folder, tmp_path):
    ran = []

    def run(command):
        ran.append(command)
        if "venv" in command:
            make_linked_venv(Path(command[-1]))
        return type("Done", (), {"returncode": 0})()

    plan = plan_create("tiny", model_folder / "requirements.txt", installer="pip")
    created = create_env(plan, run=run, echo=lambda line: None)
    assert ran == plan.commands
    assert recorded_env("tiny") == created and created.ok and created.installer == "pip"
    listing = CliRunner().invoke(main, ["env", "list"]).output
    assert "tiny" in listing and " ok " in listing and created.python_version in listing
    with pytest.raises(ModelEnvError, match="already exists.*--force"):
        create_env(plan, run=run, echo=lambda line: None)
    Path(created.python).unlink()
    assert " broken " in CliRunner().invoke(main, ["env", "list"]).output


def test_a_failing_install_names_the_command_and_records_nothing(model_folder):
    plan = plan_create("tiny", model_folder / "requirements.txt", installer="pip")
    failing = iter([0, 1])

    def run(command):
        if "venv" in command:
            Path(command[-1]).mkdir(parents=True)
        return type("Done", (), {"returncode": next(failing)})()

    with pytest.raises(ModelEnvError, match=r"failed \(exit 1\) at: .*-r .*requirements.txt"):
        create_env(plan, run=run, echo=lambda line: None)
    assert recorded_env("tiny") is None


def test_env_check_imports_the_stack_in_the_recorded_environment(model_folder, tmp_path):
    make_linked_venv(tmp_path / "env")
    record_env("tiny", tmp_path / "env")
    result = CliRunner().invoke(main, ["env", "check", "tiny"])
    assert result.exit_code == 1
    assert f"its environment {(tmp_path / 'env').absolute()}" in result.output
    numpy_line = next(line for line in result.output.splitlines() if line.strip().startswith("numpy "))
    assert " ok " in numpy_line and np.__version__ in numpy_line
    assert "no_such_stack_xyz" in result.output and "MISSING" in result.output
    assert "missing: no_such_stack_xyz" in result.output


def test_built_in_models_need_no_environment(model_folder):
    result = CliRunner().invoke(main, ["env", "create", "baseline", "--dry-run"])
    assert result.exit_code == 2 and "ships with rvcbench" in result.output


def test_build_constraints_beside_the_requirements_reach_the_isolated_source_builds(model_folder, tmp_path,
                                                                                    monkeypatch):
    build = model_folder / "build-constraints.txt"
    build.write_text("setuptools<81\n")
    pip_plan = plan_create("tiny", model_folder / "requirements.txt", installer="pip")
    install = next(c for c in pip_plan.commands if "-r" in c)
    assert install[:2] == ["env", f"PIP_CONSTRAINT={build}"] and install[2:5] == [
        str(envs_dir() / "tiny" / "bin" / "python"), "-m", "pip"]
    assert any(str(build) in note for note in pip_plan.notes)
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "uv").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "uv").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    uv_install = next(c for c in plan_create("tiny", model_folder / "requirements.txt").commands if "-r" in c)
    assert uv_install[uv_install.index("--build-constraint") + 1] == str(build)
    build.unlink()
    plain = next(c for c in plan_create("tiny", model_folder / "requirements.txt", installer="pip").commands
                 if "-r" in c)
    assert plain[0] != "env" and "--build-constraint" not in plain
