"""`rvcbench check-adapter`: conforming adapters pass every check, and each broken behaviour is caught."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from rvcbench.adapters.conformance import run_checks, speech_seconds
from rvcbench.adapters.contract import VoiceCloner
from rvcbench.adapters.registry import create_adapter
from rvcbench.cli import main

ALL_CHECKS = {"declarations", "load", "deterministic", "no state leaking", "valid output", "sample rate",
              "batch order", "languages", "failure reasons"}


def verdicts(adapter: VoiceCloner) -> dict[str, bool | None]:
    results = run_checks(adapter, "cpu")
    return {r.check: r.passed for r in results}


def test_the_oracle_passes_every_check():
    assert verdicts(create_adapter("oracle")) == dict.fromkeys(ALL_CHECKS, True)


@pytest.mark.parametrize("name", ["baseline-tts", "baseline"])
def test_the_built_in_baselines_pass_every_check(name):
    assert verdicts(create_adapter(name)) == dict.fromkeys(ALL_CHECKS, True)


def test_a_broken_adapter_fails_exactly_the_checks_it_breaks(fixture_models):
    found = verdicts(create_adapter("broken"))
    assert {check for check, passed in found.items() if passed is False} == {
        "sample rate", "batch order", "no state leaking", "failure reasons"}
    assert found["deterministic"] and found["valid output"] and found["languages"]


class Unseeded(VoiceCloner):
    name = "unseeded"
    sample_rate = 16000

    def clone(self, requests):
        rng = np.random.default_rng()  # ignores the request's seed
        return [(0.1 * rng.standard_normal(int(len(r.target_text) / 14 * 16000))).astype(np.float32)
                for r in requests]


def test_randomness_that_ignores_the_seed_fails_determinism():
    results = {r.check: r for r in run_checks(Unseeded(), "cpu")}
    assert results["deterministic"].passed is False and "max difference" in results["deterministic"].detail
    assert results["no state leaking"].passed is None  # cannot be judged without determinism


class LoadFails(Unseeded):
    def load(self, device):
        raise RuntimeError("no weights here")


def test_a_load_failure_stops_the_checks_with_its_reason():
    results = run_checks(LoadFails(), "cpu")
    assert [r.check for r in results] == ["declarations", "load"]
    assert results[-1].passed is False and "no weights here" in results[-1].detail


def test_speech_seconds_ignores_leading_and_trailing_silence():
    sr = 16000
    tone = 0.5 * np.sin(2 * np.pi * 200 * np.arange(2 * sr) / sr)
    padded = np.concatenate([np.zeros(sr), tone, np.zeros(3 * sr)]).astype(np.float32)
    assert abs(speech_seconds(padded, sr) - 2.0) < 0.05


def test_check_adapter_command_prints_a_table_and_exits_1_on_failure(fixture_models):
    passing = CliRunner().invoke(main, ["check-adapter", "oracle", "--device", "cpu"])
    assert passing.exit_code == 0 and "oracle: 9 of 9 checks passed" in passing.output
    failing = CliRunner().invoke(main, ["check-adapter", "broken", "--device", "cpu"])
    assert failing.exit_code == 1
    assert "FAIL" in failing.output and "failed: no state leaking, sample rate, batch order, failure reasons" \
        in failing.output
