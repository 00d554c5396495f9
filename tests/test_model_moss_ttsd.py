"""moss_ttsd adapter: imports without its stack, fails with the fixing command, builds upstream's batch items."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from rvcbench.adapters.contract import CloneRequest
from rvcbench.errors import MissingDependencyError, RvcbenchError

KEY = "moss_ttsd"
MODEL_FILES = ("config.json", "tokenizer_config.json")
FAKE_TORCH = types.SimpleNamespace(bfloat16="bf16", float32="fp32", from_numpy=np.asarray)  # what the adapter uses


@pytest.fixture(autouse=True)
def no_recorded_checkout(tmp_path, monkeypatch):
    """No environment or checkout recorded on this machine (`rvcbench env create`) leaks into a test."""
    monkeypatch.setenv("RVCBENCH_ENVS_DIR", str(tmp_path / "envs"))


def test_declares_what_upstream_documents(adapter):
    assert adapter.sample_rate == 32000 and adapter.batch_size > 1 and adapter.needs_prompt_text
    assert adapter.weights_id == "fnlp/MOSS-TTSD-v0.7" and "generation_utils" in adapter.stack_modules
    assert adapter.languages == {"en", "zh"} and not adapter.supports_language("fr")


def test_incomplete_weights_folder_names_the_missing_files(adapter, offline_hub, fake_tree):
    adapter.weights = str(fake_tree(("config.json",)))
    with pytest.raises(MissingDependencyError, match="lacks tokenizer_config.json"):
        adapter.load("cpu")


def test_missing_checkout_names_the_clone_command_and_tag(adapter, offline_hub, fake_tree, monkeypatch):
    monkeypatch.delenv("MOSS_TTSD_ROOT", raising=False)
    adapter.weights = str(fake_tree(MODEL_FILES))
    with pytest.raises(MissingDependencyError, match=r"OpenMOSS/MOSS-TTSD.git DIR && git -C DIR checkout v0.7"):
        adapter.load("cpu")


def test_missing_codec_names_its_download_command(adapter, offline_hub, fake_tree, monkeypatch):
    adapter.weights = str(fake_tree(MODEL_FILES))
    monkeypatch.setenv("MOSS_TTSD_ROOT", str(fake_tree(("modeling_asteroid.py",), "clone")))
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(MissingDependencyError, match="huggingface-cli download fnlp/MOSS_TTSD_tokenizer"):
        adapter.load("cpu")


def test_complete_weights_and_checkout_without_the_stack_point_to_env_create(adapter, offline_hub, fake_tree,
                                                                            monkeypatch):
    adapter.weights = str(fake_tree(MODEL_FILES))
    clone = fake_tree(("modeling_asteroid.py", "XY_Tokenizer/weights/MOSS_TTSD_tokenizer"), "clone")
    monkeypatch.setenv("MOSS_TTSD_ROOT", str(clone))
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY}"):
        adapter.load("cpu")


def test_batch_item_is_upstream_format_2_with_the_prompt_as_speaker_1(module):
    audio = np.ones(8000, dtype=np.float64)
    item = module.batch_item(audio, 8000, "  prompt words\nhere ", "target  text")
    assert item["text"] == "[S1]target text" and item["prompt_text"] == "[S1]prompt words here"
    wav, rate = item["prompt_audio"]
    assert wav.shape == (1, 8000) and wav.dtype == np.float32 and rate == 8000  # (channels, samples), as torchaudio


def test_prompt_plus_target_reads_as_one_speaker_1_script(module):
    item = module.batch_item(np.zeros(10, dtype=np.float32), 16000, "第一句。", "第二句。")
    assert (item["prompt_text"] + item["text"]).count("[S1]") == 2 and "[S2]" not in item["prompt_text"]


def test_the_codec_is_a_declared_extra_download(adapter):
    assert adapter.extra_weights == ("fnlp/MOSS_TTSD_tokenizer",)


def test_bf16_on_cuda_and_fp32_elsewhere(module):
    assert module.model_dtype(FAKE_TORCH, "cuda:0") == "bf16"
    assert module.model_dtype(FAKE_TORCH, "cpu") == "fp32"


class FakeUpstream(types.ModuleType):
    """generation_utils as the adapter calls it: records load_model's and process_batch's arguments."""

    def __init__(self, rate=32000, results=None):
        super().__init__("generation_utils")
        self.rate, self.results, self.loads, self.batches = rate, results, [], []

    def load_model(self, *args, **kwargs):
        self.loads.append((args, kwargs))
        part = types.SimpleNamespace(to=lambda device: part, output_sample_rate=self.rate)
        return "tokenizer", part, part

    def process_batch(self, **kwargs):
        self.batches.append(kwargs)
        results = self.results or [{"audio_data": np.ones((1, 4), np.float32)} for _ in kwargs["batch_items"]]
        return [], results


@pytest.fixture
def loadable(adapter, offline_hub, fake_tree, monkeypatch):
    adapter.weights = str(fake_tree(MODEL_FILES))
    clone = fake_tree(("modeling_asteroid.py", "XY_Tokenizer/weights/MOSS_TTSD_tokenizer"), "clone")
    monkeypatch.setenv("MOSS_TTSD_ROOT", str(clone))
    monkeypatch.setattr(sys, "path", list(sys.path))
    return clone


def fake_stack(module, monkeypatch, upstream):
    stack = {"generation_utils": upstream, "torch": FAKE_TORCH}
    monkeypatch.setattr(module.support, "require", lambda name, model, hint="": stack[name])


def test_load_passes_the_local_model_codec_config_and_checkpoint(adapter, module, loadable, monkeypatch):
    upstream = FakeUpstream()
    fake_stack(module, monkeypatch, upstream)
    adapter.load("cpu")
    (args, kwargs), = upstream.loads
    assert args == (adapter.weights, str(loadable.resolve() / "XY_Tokenizer/config/MOSS_TTSD_tokenizer.yaml"),
                    str(loadable.resolve() / "XY_Tokenizer/weights/MOSS_TTSD_tokenizer"))
    assert kwargs == {"torch_dtype": "fp32", "attn_implementation": "sdpa"}


def test_load_refuses_a_codec_of_another_rate(adapter, module, loadable, monkeypatch):
    fake_stack(module, monkeypatch, FakeUpstream(rate=24000))
    with pytest.raises(RvcbenchError, match="24000 Hz"):
        adapter.load("cpu")


def request(pair_id, language="en", target="Some words.", prompt_text="A prompt.", seed=7):
    return CloneRequest(pair_id=pair_id, prompt_audio=np.zeros(1600, np.float32), prompt_sample_rate=16000,
                        prompt_text=prompt_text, prompt_language="en", target_text=target,
                        target_language=language, seed=seed)


def test_one_process_batch_call_for_the_valid_items_and_per_item_failures(adapter, module):
    upstream = FakeUpstream(results=[{"audio_data": np.ones((1, 5))}, None])
    adapter._utils, adapter._parts = upstream, ("tokenizer", "model", "codec", FAKE_TORCH)
    out = adapter.clone([request("a"), request("b", language="fr"), request("c", target=" "),
                         request("d", prompt_text=""), request("e")])
    (call,) = upstream.batches
    assert [item["text"] for item in call["batch_items"]] == ["[S1]Some words.", "[S1]Some words."]
    first = call["batch_items"][0]
    assert first["prompt_text"] == "[S1]A prompt." and first["prompt_audio"][1] == 16000
    assert {k: v for k, v in call.items() if k != "batch_items"} == {
        "tokenizer": "tokenizer", "model": "model", "spt": "codec", "device": "cpu",
        "system_prompt": module.SYSTEM_PROMPT, "start_idx": 0, "use_normalize": True,
        "silence_duration": 0.0}
    assert out[0].dtype == np.float32 and out[0].shape == (5,)
    assert [type(o).__name__ for o in out[1:]] == ["CloneFailure"] * 4
    assert "unsupported language: fr" in out[1].reason and out[2].reason == "empty target text"
    assert "empty prompt transcript" in out[3].reason and "no speech tokens" in out[4].reason


def test_a_batch_of_refused_items_never_calls_upstream(adapter):
    upstream = FakeUpstream()
    adapter._utils, adapter._parts = upstream, ("tokenizer", "model", "codec", FAKE_TORCH)
    out = adapter.clone([request("a", language="de"), request("b", target="")])
    assert not upstream.batches and all(o.reason for o in out)
