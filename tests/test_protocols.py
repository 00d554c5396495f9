"""Protocols: the loader's errors, the evaluation → data mapping, whole-protocol runs, resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from run_store import record_count
from upstream_layout import build_rvcbench_layout

from rvcbench.cli import main
from rvcbench.errors import RvcbenchError, UnknownNameError
from rvcbench.protocol_run import PROTOCOL_FILE, format_protocol, plan_groups, run_protocol
from rvcbench.protocols import ProtocolError, load_protocol
from rvcbench.published import load_published_tables, table_rows
from rvcbench.runner import RunConfig

PROTOCOLS = Path(__file__).resolve().parents[1] / "protocols"


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    return build_rvcbench_layout(tmp_path_factory.mktemp("rvcbench_layout"))


def write_protocol(folder: Path, name: str, evaluations: list[dict], **top) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "published").mkdir(exist_ok=True)
    spec = {"name": name, "version": 1, "evaluations": evaluations, **top}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


CLEAN_EVAL = {"name": "e1", "family": "input", "data": "rvcbench:VCTK", "metrics": ["sim"]}


def test_rvcbench_v2_has_18_evaluations_over_the_10_configs():
    protocol = load_protocol("rvcbench-v2")
    assert len(protocol.evaluations) == 18
    assert {e.family for e in protocol.evaluations} == {"input", "generation", "output", "perturbation"}
    configs = {e.data.split(":")[1] for e in protocol.evaluations}
    assert len(configs) == 10
    assert protocol.evaluation("background-noise").data == "rvcbench:Background_noise:noisy"
    assert protocol.reference_profile == "rvcbench-paper"


@pytest.mark.parametrize("change, key, message", [
    ({"colour": "red"}, "evaluations[0] (e1)", "unknown key(s) ['colour']"),
    ({"data": "rvcbench:LibriSpeech"}, "data", "unknown RVCBench config 'LibriSpeech'"),
    ({"data": "/some/folder"}, "data", "a protocol names its data as"),
    ({"task": "noisier-reference"}, "task", "unknown task 'noisier-reference'"),
    ({"metrics": ["sim", "utmos9"]}, "metrics", "unknown ['utmos9']"),
    ({"task": "noisy-reference", "conditions": ["add_noise noise=white snr_db=3"]}, "conditions",
     "has no condition(s)"),
    ({"family": "output-ish"}, "family", "not in"),
    ({"pairs": "per_speaker=0"}, "pairs", "KEY=N"),
    ({"published": {"table": "leaderboard"}}, "published", "names no `published` file"),
])
def test_a_bad_evaluation_is_an_error_naming_the_file_and_key(tmp_path, change, key, message):
    path = write_protocol(tmp_path, "bad", [{**CLEAN_EVAL, **change}])
    with pytest.raises(ProtocolError) as err:
        load_protocol(str(path))
    assert str(path) in str(err.value) and key in str(err.value) and message in str(err.value)


def test_unknown_top_level_key_and_wrong_name_are_refused(tmp_path):
    with pytest.raises(ProtocolError, match="unknown key"):
        load_protocol(str(write_protocol(tmp_path, "p1", [CLEAN_EVAL], datasets=["x"])))
    path = write_protocol(tmp_path, "p2", [CLEAN_EVAL])
    path.rename(tmp_path / "p3.yaml")
    with pytest.raises(ProtocolError, match="must equal the file name"):
        load_protocol(str(tmp_path / "p3.yaml"))


def test_unknown_protocol_and_evaluation_names_list_the_known_ones():
    with pytest.raises(UnknownNameError, match="known: .*demo-quick.*rvcbench-v2"):
        load_protocol("rvcbench-v3")
    with pytest.raises(UnknownNameError, match="no evaluation 'noise'; known: accent"):
        load_protocol("rvcbench-v2").select("accent,noise")
    result = CliRunner().invoke(main, ["run", "-m", "oracle", "--protocol", "rvcbench-v9"])
    assert result.exit_code == 2 and "known:" in result.output and "Traceback" not in result.output


def test_protocol_with_task_or_data_options_is_refused():
    result = CliRunner().invoke(main, ["run", "-m", "oracle", "--protocol", "demo-quick", "--task", "all"])
    assert result.exit_code == 2 and "--task" in result.output


def test_evaluations_on_the_same_data_share_one_run_with_the_union_of_conditions():
    groups = {g.folder: g for g in plan_groups(load_protocol("rvcbench-v2").evaluations)}
    vctk = groups["rvcbench-vctk"]
    assert [e.name for e in vctk.evaluations] == ["accent", "compression", "telephone"]
    assert vctk.tasks == ["accent-diversity", "post-processing"]
    assert len(vctk.conditions["post-processing"]) == 11  # 8 codec + 3 telephone/resampling conditions
    assert "rvcbench-background_noise-noisy" in groups and len(groups) == 11


def test_published_numbers_are_stored_with_their_source():
    published = load_published_tables("rvcbench-v2", PROTOCOLS / "published")
    assert "b47908df80201cb0d2224566b51698582c091f99" in published["source"]["upstream"]
    assert "2602.00443v2" in published["source"]["paper"]
    leaderboard = table_rows(published["tables"]["leaderboard"])
    assert len(leaderboard) == 18 and leaderboard[0]["model"] == "Qwen3-TTS" and leaderboard[0]["SIM"] == 0.614
    assert next(r for r in leaderboard if r["key"] == "moss_ttsd")["RTF"] is None  # "—" in the paper
    assert len(table_rows(published["tables"]["cross_dataset"])) == 18
    out = CliRunner().invoke(main, ["paper", "--evaluation", "protection"]).output
    assert "GR-Noise" in out and "StyleTTS 2" in out and "0.03" in out and "b47908d" in out


def test_whole_rvcbench_v2_protocol_runs_with_the_oracle_on_the_upstream_layout(layout, tmp_path):
    config = RunConfig(model="oracle", profile="none", device="cpu", data_root=str(layout))
    outcome = run_protocol(load_protocol("rvcbench-v2"), config, tmp_path / "proto", progress=False)
    report = outcome.report
    assert len(report["evaluations"]) == 18
    assert json.loads((tmp_path / "proto" / PROTOCOL_FILE).read_text())["evaluations"].keys() == \
        report["evaluations"].keys()
    noisy = report["evaluations"]["background-noise"]
    clean_twin = report["evaluations"]["background-clean"]
    assert noisy["dataset_fingerprint"] != clean_twin["dataset_fingerprint"]
    compression = report["evaluations"]["compression"]["conditions"]
    assert list(compression)[0] == "clean" and len(compression) == 9
    assert report["published"]["comparable"] is False  # profile none is not the paper's scorers
    assert set(report["headline"]) == {"input", "output", "perturbation"}  # generation has no perturbed condition
    text = format_protocol(report)
    assert text.count("\n== ") == 18 and "robustness headline per family" in text
    again = run_protocol(load_protocol("rvcbench-v2"), config, tmp_path / "proto", progress=False)
    assert again.synthesized == 0  # NaN-safe comparison: the same numbers, as written to protocol.json
    assert json.dumps(again.report["evaluations"], sort_keys=True) == json.dumps(report["evaluations"], sort_keys=True)


def test_baseline_runs_part_of_the_protocol_with_the_offline_profile(layout, tmp_path):
    config = RunConfig(model="baseline", profile="offline", device="cpu", data_root=str(layout))
    outcome = run_protocol(load_protocol("rvcbench-v2"), config, tmp_path / "proto",
                           evaluations="architecture,background-noise,mandarin", progress=False)
    report = outcome.report
    arch = report["evaluations"]["architecture"]["conditions"]["clean"]
    assert arch["ok"] == 2 and 0 < arch["metrics"]["sim"]["mean"] <= 1 and arch["metrics"]["sim"]["n"] == 2
    mandarin = report["evaluations"]["mandarin"]["conditions"]["clean"]
    assert mandarin["failed"] == 2  # the baseline speaks English only: recorded, not dropped
    assert report["published"]["evaluations"]["architecture"]["model_row"] is None  # baseline is not in the paper


def test_a_missing_config_stops_the_protocol_before_anything_runs(layout, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    os.symlink(layout / "VCTK", partial / "VCTK")
    config = RunConfig(model="oracle", profile="none", device="cpu", data_root=str(partial))
    with pytest.raises(RvcbenchError) as err:
        run_protocol(load_protocol("rvcbench-v2"), config, tmp_path / "proto", progress=False)
    message = str(err.value)
    assert "10 of 11 dataset(s) cannot be used; nothing was run" in message and "hf download" in message
    assert not (tmp_path / "proto").exists()


def test_killed_protocol_run_resumes_where_it_stopped(layout, tmp_path, fixture_models):
    protocols = tmp_path / "protocols"
    write_protocol(protocols, "three", [
        {"name": "a", "family": "generation", "data": "rvcbench:Libritts", "metrics": ["rtf"]},
        {"name": "b", "family": "input", "data": "rvcbench:VCTK", "task": "noisy-reference",
         "conditions": ["add_noise noise=white snr_db=5", "add_noise noise=pink snr_db=5"], "metrics": ["rtf"]},
        {"name": "c", "family": "input", "data": "rvcbench:robotcall", "metrics": ["rtf"]},
    ])
    env = {**os.environ, "SLOW_ADAPTER_SECONDS": "0.4", "RVCBENCH_MODELS_PATH": str(fixture_models),
           "RVCBENCH_PROTOCOLS_PATH": str(protocols)}
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "rvcbench", "run", "-m", "slow", "--protocol", "three", "--profile", "none",
           "--device", "cpu", "--quiet", "--data-root", str(layout), "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    vctk = out / "rvcbench-vctk"
    while proc.poll() is None and time.time() < deadline and record_count(vctk) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (out / "rvcbench-libritts" / "summary.json").exists()  # the first evaluation had finished
    done = record_count(vctk)
    assert 2 <= done < 6 and not (out / PROTOCOL_FILE).exists()
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"synthesized {6 - done + 2}," in resumed.stdout  # only the missing VCTK items and robotcall's two
    report = json.loads((out / PROTOCOL_FILE).read_text())
    assert report["evaluations"]["b"]["conditions"]["add_noise noise=pink snr_db=5"]["ok"] == 2


def test_the_docs_describe_every_evaluation_of_rvcbench_v2():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "protocols.md").read_text(encoding="utf-8")
    for evaluation in load_protocol("rvcbench-v2").evaluations:
        assert f"| {evaluation.name} |" in docs, evaluation.name


def test_cli_lists_protocols_with_their_evaluations():
    out = CliRunner().invoke(main, ["protocols"]).output
    assert "rvcbench-v2" in out and "demo-quick" in out
    assert "background-noise" in out and "rvcbench:Background_noise:noisy" in out
