"""f5_tts adapter: imports without its stack, fails with the fixing command, calls upstream as F5TTS does."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest
from rvcbench.audio import load_audio
from rvcbench.errors import MissingDependencyError

KEY = "f5_tts"


def request(prompt_text="Some call me nature.", target_text="I am mighty and enduring.", language="en", seed=7,
            rate=16000) -> CloneRequest:
    audio = (0.1 * np.sin(np.arange(rate) / 7.0)).astype(np.float32)
    return CloneRequest("p", audio, rate, prompt_text, "en", target_text, language, seed)


def test_declares_what_upstream_documents(adapter):
    assert adapter.sample_rate == 24000 and adapter.batch_size == 1 and adapter.needs_prompt_text
    assert adapter.weights_id == "SWivid/F5-TTS" and adapter.extra_weights == ("charactr/vocos-mel-24khz",)
    assert adapter.languages == {"en", "zh"} and not adapter.supports_language("de")
    assert adapter.license == "CC-BY-NC-4.0" and "f5_tts" in adapter.stack_modules


def test_incomplete_weights_folder_names_the_missing_checkpoint(adapter, fake_tree):
    adapter.weights = str(fake_tree(("F5TTS_v1_Base/vocab.txt",)))
    with pytest.raises(MissingDependencyError, match="lacks F5TTS_v1_Base/model_1250000.safetensors"):
        adapter.load("cpu")


def test_missing_vocoder_names_its_download_command(adapter, offline_hub, full_weights):
    adapter.weights = str(full_weights)
    with pytest.raises(MissingDependencyError, match="huggingface-cli download charactr/vocos-mel-24khz"):
        adapter.load("cpu")


def test_incomplete_vocoder_folder_names_the_missing_file(adapter, full_weights, fake_tree):
    adapter.weights, adapter.vocoder_weights = str(full_weights), str(fake_tree(("config.yaml",), "vocos"))
    with pytest.raises(MissingDependencyError, match="lacks pytorch_model.bin"):
        adapter.load("cpu")


def test_complete_weights_without_the_stack_point_to_env_create(adapter, full_weights, fake_tree, stub_stack):
    adapter.weights = str(full_weights)
    adapter.vocoder_weights = str(fake_tree(("config.yaml", "pytorch_model.bin"), "vocos"))
    stub_stack(adapter, importable=False)
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY}"):
        adapter.load("cpu")


def test_load_reads_the_local_vocoder_and_the_v1_checkpoint(adapter, module, full_weights, fake_tree, monkeypatch):
    calls = {}
    vocoder_dir = fake_tree(("config.yaml", "pytorch_model.bin"), "vocos")
    backbone = type("DiT", (), {})
    utils = types.SimpleNamespace(
        target_sample_rate=24000,
        load_vocoder=lambda *args: calls.setdefault("vocoder", args) and "vocoder",
        load_model=lambda *args: calls.setdefault("model", args) and "model")
    fakes = {"hydra.utils": types.SimpleNamespace(get_class=lambda name: calls.setdefault("class", name) and backbone),
             "f5_tts.infer.utils_infer": utils,
             "f5_tts.model.utils": types.SimpleNamespace(seed_everything=lambda seed: None)}
    monkeypatch.setattr(support, "require", lambda name, model, hint="": fakes.get(name, types.ModuleType(name)))
    arch = {"dim": 1024, "depth": 22}
    config = types.SimpleNamespace(model=types.SimpleNamespace(
        backbone="DiT", arch=arch, mel_spec=types.SimpleNamespace(target_sample_rate=24000, mel_spec_type="vocos")))
    monkeypatch.setattr(adapter, "model_config", lambda: config)
    adapter.weights, adapter.vocoder_weights = str(full_weights), str(vocoder_dir)
    adapter.load("cuda:0")
    assert calls["class"] == "f5_tts.model.DiT"
    assert calls["vocoder"] == ("vocos", True, str(vocoder_dir), "cuda:0")  # is_local: never the Hub download
    assert calls["model"] == (backbone, arch, str(full_weights / "F5TTS_v1_Base/model_1250000.safetensors"), "vocos",
                              str(full_weights / "F5TTS_v1_Base/vocab.txt"), "euler", True, "cuda:0")


class FakeUpstream:
    """utils_infer's preprocess_ref_audio_text and infer_process, recording what the adapter passes."""

    def __init__(self, made: bool = True):
        self.calls, self.wave = [], np.full(480, 0.1, dtype=np.float32) if made else None

    def preprocess_ref_audio_text(self, ref_audio_orig, ref_text, show_info=print):
        audio, rate = load_audio(ref_audio_orig)
        self.calls.append(("preprocess", rate, len(audio), ref_text))
        return "/tmp/clipped.wav", f"<{ref_text}>"

    def infer_process(self, ref_audio, ref_text, gen_text, model_obj, vocoder, **kwargs):
        self.calls.append(("infer", ref_audio, ref_text, gen_text, model_obj, vocoder, kwargs))
        return self.wave, 24000, None


def loaded(adapter, upstream: FakeUpstream, seeds: list) -> None:
    adapter._model, adapter._vocoder, adapter._utils, adapter._device = "model", "vocoder", upstream, "cuda:0"
    adapter._seed = seeds.append


def test_clone_calls_upstream_as_f5tts_infer_does(adapter):
    upstream, seeds = FakeUpstream(), []
    loaded(adapter, upstream, seeds)
    out = adapter.clone([request(prompt_text=" Some call me\nnature.  ", target_text="I am  mighty.")])
    assert out[0].dtype == np.float32 and out[0].shape == (480,) and seeds == [7]
    assert upstream.calls[0] == ("preprocess", 16000, 16000, "Some call me nature.")  # the prompt at its own rate
    kind, ref_audio, ref_text, gen_text, model, vocoder, kwargs = upstream.calls[1]
    assert (ref_audio, ref_text, gen_text, model, vocoder) == ("/tmp/clipped.wav", "<Some call me nature.>",
                                                               "I am mighty.", "model", "vocoder")
    assert kwargs.pop("show_info") is not print
    assert kwargs == {"mel_spec_type": "vocos", "progress": None, "device": "cuda:0", "target_rms": 0.1,
                      "cross_fade_duration": 0.15, "nfe_step": 32, "cfg_strength": 2.0, "sway_sampling_coef": -1.0,
                      "speed": 1.0, "fix_duration": None}


def test_impossible_items_fail_alone_and_the_rest_is_made(adapter):
    upstream, seeds = FakeUpstream(), []
    loaded(adapter, upstream, seeds)
    out = adapter.clone([request(prompt_text=" \n"), request(), request(target_text=""),
                         request(language="de", seed=3)])
    assert "empty prompt transcript" in out[0].reason and "empty target text" in out[2].reason
    assert "unsupported language: de" in out[3].reason and isinstance(out[1], np.ndarray)
    assert [call[0] for call in upstream.calls] == ["preprocess", "infer"] and seeds == [7]


def test_no_text_chunks_is_a_failure(adapter):
    upstream = FakeUpstream(made=False)
    loaded(adapter, upstream, [])
    (out,) = adapter.clone([request()])
    assert isinstance(out, CloneFailure) and "no text chunks" in out.reason


def test_text_is_one_line(module):
    assert module.text_for_model("  Hello\n there,\tfriend. ") == "Hello there, friend."
    assert module.text_for_model(" \n ") == ""


def test_clone_before_load_raises(adapter):
    with pytest.raises(RuntimeError, match="before load"):
        adapter.clone([request()])


def test_check_module_is_importable_without_the_stack():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "models" / KEY / "random_weight_check.py"
    spec = importlib.util.spec_from_file_location("f5_tts_random_weight_check", path)
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    assert check.SPEC.distributions[0] == "f5-tts" and check.SPEC.seeded
    assert check.Adapter.clone is check.real.Adapter.clone
