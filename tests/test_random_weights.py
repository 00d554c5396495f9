"""The random-weight harness: a check adapter run through a real worker process, its checks, its record."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rvcbench.adapters.random_weights import RECORD_FILE, run_random_weight_check
from rvcbench.cli import main

TINYNET = Path(__file__).parent / "fixtures" / "random_weights" / "tinynet"


@pytest.fixture
def models_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    shutil.copytree(TINYNET, folder / "tinynet")
    monkeypatch.setenv("RVCBENCH_MODELS_PATH", str(folder))
    monkeypatch.setenv("RVCBENCH_ENVS_DIR", str(tmp_path / "envs"))
    return folder


def test_a_sound_adapter_passes_every_check_through_the_worker_and_is_recorded(models_dir):
    result = CliRunner().invoke(main, ["check-adapter", "tinynet", "--random-weights", "--python", sys.executable])
    assert result.exit_code == 0, result.output
    record = json.loads((models_dir / "tinynet" / RECORD_FILE).read_text())
    checks = {r["check"]: r for r in record["results"]}
    assert record["passed"] and record["check"] == "random weights through the worker"
    assert {"worker", "load", "outputs", "sample rate", "batch == single", "deterministic", "seed used",
            "failure reasons"} <= set(checks)
    assert all(r["passed"] for r in record["results"])
    assert "lengths as upstream's arithmetic gives" in checks["outputs"]["detail"]
    assert record["distributions"]["numpy"] and record["adapter_version"] == "1"
    assert "unsupported language" in checks["failure reasons"]["detail"]


def test_items_leaking_into_each_other_fail_batch_equals_single(models_dir, monkeypatch):
    monkeypatch.setenv("TINYNET_LEAK", "1")  # inherited by the worker
    report = run_random_weight_check("tinynet", python=sys.executable)
    failed = {r.check for r in report.results if r.passed is False}
    assert "batch == single" in failed and not report.passed


def test_a_wrong_length_and_a_missing_check_are_reported(models_dir):
    check = models_dir / "tinynet" / "random_weight_check.py"
    check.write_text(check.read_text().replace("real.HOP * len", "2 * real.HOP * len"))
    report = run_random_weight_check("tinynet", python=sys.executable)
    outputs = next(r for r in report.results if r.check == "outputs")
    assert outputs.passed is False and "expected" in outputs.detail
    check.unlink()
    result = CliRunner().invoke(main, ["check-adapter", "tinynet", "--random-weights"])
    assert result.exit_code != 0 and "has no random-weight check" in result.output
    assert "Traceback" not in result.output


def test_no_recorded_environment_names_the_command(models_dir):
    result = CliRunner().invoke(main, ["check-adapter", "tinynet", "--random-weights"])
    assert result.exit_code != 0 and "rvcbench env create tinynet --shared-torch" in result.output


def test_the_committed_model_checks_table_is_the_generated_one():
    from rvcbench.adapters.checks_table import DOC, render

    assert DOC.read_text(encoding="utf-8") == render(), "run `rvcbench model-checks --write` and commit the result"


def test_the_table_reports_a_record_and_a_failed_one(models_dir):
    from rvcbench.adapters.checks_table import render

    (models_dir / "plain").mkdir()
    (models_dir / "plain" / "adapter.py").write_text("")
    run = CliRunner().invoke(main, ["check-adapter", "tinynet", "--random-weights", "--python", sys.executable])
    assert run.exit_code == 0, run.output
    table = render(models_dir)
    tinynet = next(line for line in table.splitlines() if line.startswith("| tinynet "))
    assert "random weights through the worker |" in tinynet and "numpy " in tinynet
    assert "checks passed, 0 failed" in tinynet
    assert "| plain | import only |" in table
    record = json.loads((models_dir / "tinynet" / RECORD_FILE).read_text())
    record["passed"] = False
    record["results"][0]["passed"] = False
    (models_dir / "tinynet" / RECORD_FILE).write_text(json.dumps(record))
    assert "random weights through the worker: **1 failed**" in render(models_dir)


MODELS = Path(__file__).resolve().parents[1] / "models"
CHECKS = sorted(MODELS.glob("*/random_weight_check.py"))


@pytest.mark.parametrize("check_file", CHECKS, ids=[c.parent.name for c in CHECKS])
def test_each_model_check_imports_without_its_upstream_and_keeps_the_real_clone(check_file):
    from rvcbench.adapters.random_weights import RandomWeightSpec, adapter_module, load_spec
    from rvcbench.registry import import_target

    spec = load_spec(check_file)
    assert isinstance(spec, RandomWeightSpec) and spec.distributions and spec.built
    check_adapter = import_target(f"{check_file}:Adapter")
    real = adapter_module(check_file).Adapter
    assert check_adapter.__mro__[1].__name__ == "Adapter" and check_adapter.__mro__[1].__module__ == real.__module__
    assert "clone" not in vars(check_adapter), "the check must run the real adapter's clone"


def test_a_record_for_an_older_adapter_version_is_marked_stale(models_dir):
    from rvcbench.adapters.checks_table import render

    run = CliRunner().invoke(main, ["check-adapter", "tinynet", "--random-weights", "--python", sys.executable])
    assert run.exit_code == 0, run.output
    adapter = models_dir / "tinynet" / "adapter.py"
    adapter.write_text(adapter.read_text().replace('version: ClassVar[str] = "1"', 'version: ClassVar[str] = "2"'))
    assert "adapter version 1, now 2: **stale, run it again**" in render(models_dir)


def test_merged_config_puts_the_small_entries_in_and_keeps_the_rest():
    from rvcbench.adapters.random_weights import merged_config

    base = {"encoder": {"layers": 12, "width": 768, "act": "gelu"}, "rate": 24000}
    small = {"encoder": {"layers": 1, "width": 32}, "extra": [1]}
    assert merged_config(base, small) == {"encoder": {"layers": 1, "width": 32, "act": "gelu"}, "rate": 24000,
                                          "extra": [1]}
    assert base["encoder"]["layers"] == 12  # the upstream config is not changed in place
