"""The worker path: a model in another environment gives the same clips, and its crashes stay contained."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from linked_venv import make_linked_venv

from rvcbench.adapters.contract import CloneFailure, CloneRequest
from rvcbench.adapters.executors import choose_executor, close_adapter, open_adapter
from rvcbench.adapters.protocol import (
    StreamClosed,
    decode_outputs,
    decode_requests,
    encode_outputs,
    encode_requests,
    read_message,
    write_message,
)
from rvcbench.adapters.worker_client import DEFAULT_MAX_RESTARTS, WorkerCrashed
from rvcbench.audio import load_audio
from rvcbench.data import load_dataset
from rvcbench.errors import MissingDependencyError
from rvcbench.model_envs import record_env
from rvcbench.runner import RunConfig, run_benchmark


@pytest.fixture
def envs_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("RVCBENCH_ENVS_DIR", str(tmp_path / "envs"))
    return tmp_path / "envs"


def clip_hashes(run_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((run_dir / "clips").glob("*.wav"))}


def request(pair_id: str, text: str = "hello there", audio: np.ndarray | None = None) -> CloneRequest:
    audio = np.linspace(-0.5, 0.5, 1600, dtype=np.float32) if audio is None else audio
    return CloneRequest(pair_id=pair_id, prompt_audio=audio, prompt_sample_rate=16000, prompt_text="p",
                        prompt_language="en", target_text=text, target_language="en", seed=7)


def test_protocol_frames_carry_requests_and_outputs_bit_exact():
    rng = np.random.default_rng(0)
    requests = [request("a", audio=rng.standard_normal(999).astype(np.float32)),
                CloneRequest(pair_id="b", prompt_audio=rng.standard_normal(10), prompt_sample_rate=8000,
                             prompt_text="", prompt_language="fr", target_text="bonjour", target_language="fr",
                             seed=3, target_audio=rng.standard_normal(5).astype(np.float32), target_sample_rate=8000)]
    outputs = [rng.standard_normal((2, 7)).astype(np.float64), CloneFailure("no voice"), ["not", "an", "array"]]
    stream = io.BytesIO()
    write_message(stream, {"op": "clone", "requests": encode_requests(requests)[0]}, encode_requests(requests)[1])
    write_message(stream, {"op": "cloned", "outputs": encode_outputs(outputs)[0]}, encode_outputs(outputs)[1])
    stream.seek(0)
    header, arrays = read_message(stream)
    back = decode_requests(header["requests"], arrays)
    assert [r.pair_id for r in back] == ["a", "b"] and back[1].target_language == "fr"
    for sent, got in zip(requests, back, strict=True):
        assert got.prompt_audio.dtype == sent.prompt_audio.dtype
        assert np.array_equal(got.prompt_audio, sent.prompt_audio)
    assert back[0].target_audio is None and np.array_equal(back[1].target_audio, requests[1].target_audio)
    header, arrays = read_message(stream)
    got = decode_outputs(header["outputs"], arrays)
    assert got[0].dtype == np.float64 and np.array_equal(got[0], outputs[0])
    assert got[1] == CloneFailure("no voice")
    assert isinstance(got[2], CloneFailure) and "list" in got[2].reason
    with pytest.raises(StreamClosed):
        read_message(stream)


def test_a_torn_frame_is_reported_as_a_closed_stream():
    stream = io.BytesIO()
    write_message(stream, {"op": "cloned"}, [np.ones(100, dtype=np.float32)])
    with pytest.raises(StreamClosed, match="stream closed after"):
        read_message(io.BytesIO(stream.getvalue()[:-10]))


def test_baseline_in_a_second_environment_makes_the_same_clips_as_in_process(tmp_path, envs_dir):
    python = make_linked_venv(tmp_path / "second-env")
    record_env("baseline", tmp_path / "second-env")
    worker = run_benchmark(RunConfig(model="baseline", profile="none", device="cpu", limit=2, executor="worker"),
                           tmp_path / "worker", progress=False)
    inprocess = run_benchmark(RunConfig(model="baseline", profile="none", device="cpu", limit=2,
                                        executor="inprocess"), tmp_path / "inprocess", progress=False)
    assert worker.summary["ok"] == inprocess.summary["ok"] == 2
    hashes = clip_hashes(tmp_path / "worker")
    assert len(hashes) == 2 and hashes == clip_hashes(tmp_path / "inprocess")
    adapter = json.loads((tmp_path / "worker" / "config.json").read_text())["adapter"]
    assert adapter["executor"]["environment"] == str((tmp_path / "second-env").absolute())
    assert adapter["executor"]["environment"] != sys.prefix and python.parent.parent != Path(sys.prefix)


def test_adapter_errors_in_a_worker_are_recorded_as_in_process(fixture_models, tmp_path, envs_dir):
    runs = {}
    for executor in ("inprocess", "worker"):
        run_benchmark(RunConfig(model="flaky", profile="none", device="cpu", limit=20, executor=executor),
                      tmp_path / executor, progress=False)
        table = pd.read_parquet(tmp_path / executor / "utterances.parquet").sort_values("pair_id")
        runs[executor] = table[["pair_id", "status", "error_type", "error_message"]].reset_index(drop=True)
    assert (runs["inprocess"].status == "failed").sum() >= 2
    assert "RuntimeError" in set(runs["worker"].error_type)
    pd.testing.assert_frame_equal(runs["inprocess"], runs["worker"])
    assert clip_hashes(tmp_path / "inprocess") == clip_hashes(tmp_path / "worker")


def test_a_worker_crash_fails_only_the_item_that_killed_it(fixture_models, tmp_path, envs_dir, monkeypatch):
    pairs = load_dataset("demo").manifest.pair_id.tolist()[:6]
    monkeypatch.setenv("CRASHY_ON", pairs[2])
    outcome = run_benchmark(RunConfig(model="crashy", profile="none", device="cpu", limit=6, executor="worker"),
                            tmp_path / "run", progress=False)
    table = pd.read_parquet(tmp_path / "run" / "utterances.parquet").set_index("pair_id")
    assert outcome.summary["ok"] == 5 and table.loc[pairs[2], "status"] == "failed"
    assert table.loc[pairs[2], "error_type"] == "WorkerCrashed"
    message = table.loc[pairs[2], "error_message"]
    assert "worker crashed: exit code 3" in message and f"crashy: dying on {pairs[2]}" in message
    assert (table.drop(index=pairs[2]).status == "ok").all()  # its batch-mate and every later item


def test_a_crashed_worker_is_restarted_with_the_model_loaded_again(fixture_models, envs_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("CRASHY_ON", "doomed")
    monkeypatch.setenv("CRASHY_LOG", str(tmp_path / "loads.txt"))
    adapter = open_adapter("crashy", executor="worker")
    try:
        adapter.load("cpu")
        first_pid = adapter.pid
        good = adapter.clone([request("fine")])
        with pytest.raises(WorkerCrashed, match="exit code 3.*dying on doomed"):
            adapter.clone([request("fine"), request("doomed")])
        again = adapter.clone([request("fine")])
        assert adapter.restarts == 1 and adapter.pid not in (None, first_pid)
        assert np.array_equal(good[0], again[0])
        assert len((tmp_path / "loads.txt").read_text().split()) == 2
    finally:
        close_adapter(adapter)
    assert adapter.pid is None


def test_a_worker_that_keeps_crashing_is_given_up_after_bounded_restarts(fixture_models, envs_dir, monkeypatch,
                                                                         tmp_path):
    monkeypatch.setenv("CRASHY_ALWAYS", "1")
    monkeypatch.setenv("CRASHY_LOG", str(tmp_path / "loads.txt"))
    outcome = run_benchmark(RunConfig(model="crashy", profile="none", device="cpu", limit=8, executor="worker"),
                            tmp_path / "run", progress=False)
    table = pd.read_parquet(tmp_path / "run" / "utterances.parquet")
    assert outcome.summary["failed"] == 8
    assert set(table.error_type) == {"WorkerCrashed", "WorkerGaveUp"}
    assert table[table.error_type == "WorkerGaveUp"].error_message.str.contains("not restarted again").all()
    assert len((tmp_path / "loads.txt").read_text().split()) == DEFAULT_MAX_RESTARTS + 1


def test_auto_runs_in_process_when_the_stack_imports_else_in_the_recorded_environment(tmp_path, envs_dir):
    assert choose_executor("m", ("numpy", "scipy.signal")) == ("inprocess", None)
    with pytest.raises(MissingDependencyError, match=r"no_such_stack_xyz.*rvcbench env create m"):
        choose_executor("m", ("numpy", "no_such_stack_xyz"))
    python = make_linked_venv(tmp_path / "env")
    record_env("m", tmp_path / "env")
    assert choose_executor("m", ("no_such_stack_xyz",)) == ("worker", str(python.absolute()))
    assert choose_executor("m", ("no_such_stack_xyz",), "inprocess") == ("inprocess", None)


ENV_ONLY_ADAPTER = '''
import numpy as np
from rvcbench.adapters.contract import VoiceCloner
from rvcbench.adapters.support import require

class Adapter(VoiceCloner):
    name = "envonly"
    sample_rate = 16000
    stack_modules = ("rvcbench_envonly_stack",)

    def load(self, device):
        self._stack = require("rvcbench_envonly_stack", self.name)

    def clone(self, requests):
        n = [int(len(r.target_text) / 14 * self.sample_rate) for r in requests]
        return [(self._stack.LEVEL * np.sin(np.arange(k) / 10)).astype(np.float32) for k in n]
'''


def test_auto_runs_a_model_whose_stack_only_its_environment_has_in_a_worker(tmp_path, envs_dir, monkeypatch):
    (tmp_path / "models" / "envonly").mkdir(parents=True)
    (tmp_path / "models" / "envonly" / "adapter.py").write_text(ENV_ONLY_ADAPTER)
    monkeypatch.setenv("RVCBENCH_MODELS_PATH", str(tmp_path / "models"))
    config = RunConfig(model="envonly", profile="none", device="cpu", limit=2)
    with pytest.raises(MissingDependencyError, match="rvcbench env create envonly"):
        run_benchmark(config, tmp_path / "here", progress=False)
    make_linked_venv(tmp_path / "env")
    site_packages = next((tmp_path / "env").glob("**/site-packages"))
    (site_packages / "rvcbench_envonly_stack.py").write_text("LEVEL = 0.25\n")
    record_env("envonly", tmp_path / "env")
    outcome = run_benchmark(config, tmp_path / "there", progress=False)
    assert outcome.summary["ok"] == 2
    clip = next((tmp_path / "there" / "clips").glob("*.wav"))
    assert abs(float(np.max(np.abs(load_audio(clip)[0]))) - 0.25) < 1e-3
