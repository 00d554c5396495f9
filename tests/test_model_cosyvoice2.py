"""cosyvoice2 adapter: imports without its stack, names every missing piece with its fix, prepares inputs."""

import sys
import types

import numpy as np
import pytest

from rvcbench.adapters.contract import CloneFailure, CloneRequest
from rvcbench.adapters.registry import create_adapter
from rvcbench.audio import load_audio
from rvcbench.errors import MissingDependencyError

KEY = "cosyvoice2"


def request(prompt_seconds=2.0, prompt_rate=16000, prompt_text="hello there", text="good morning", seed=0):
    audio = 0.1 * np.sin(np.arange(int(prompt_seconds * prompt_rate)) / prompt_rate * 2 * np.pi * 220)
    return CloneRequest("p1", audio.astype(np.float32), prompt_rate, prompt_text, "en", text, "en", seed)


def test_declares_what_upstream_documents(adapter):
    assert adapter.sample_rate == 24000 and adapter.batch_size == 1 and adapter.needs_prompt_text
    assert adapter.weights_id == "FunAudioLLM/CosyVoice2-0.5B" and "hyperpyyaml" in adapter.stack_modules
    assert adapter.supports_language("yue") and adapter.supports_language("zh") and not adapter.supports_language("fr")


def test_incomplete_weights_folder_names_the_missing_files(tmp_path):
    (tmp_path / "llm.pt").write_bytes(b"x")
    with pytest.raises(MissingDependencyError, match="lacks cosyvoice2.yaml, flow.pt") as err:
        create_adapter(KEY, weights=str(tmp_path)).load("cpu")
    assert "speech_tokenizer_v2.onnx" in str(err.value) and "llm.pt," not in str(err.value)


def test_missing_stack_names_env_create(full_weights, stub_stack):
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=False)
    with pytest.raises(MissingDependencyError, match="rvcbench env create cosyvoice2"):
        adapter.load("cpu")


def test_missing_checkout_names_the_clone_and_commit(full_weights, stub_stack, monkeypatch, tmp_path, module):
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=True)  # the stack "imports", so the checkout is what is missing
    monkeypatch.delenv("COSYVOICE_ROOT", raising=False)
    monkeypatch.setenv("RVCBENCH_ENVS_DIR", str(tmp_path / "envs"))  # no recorded clone either
    with pytest.raises(MissingDependencyError, match=f"git clone --recursive {module.UPSTREAM}.*{module.COMMIT}"):
        adapter.load("cpu")


def test_prompt_is_resampled_to_24k(module):
    prompt = module.prompt_for_model(np.ones(44100, dtype=np.float32) * 0.5, 44100)
    assert prompt.dtype == np.float32 and len(prompt) == 24000
    assert np.allclose(prompt[2000:-2000], 0.5, atol=1e-3)


def test_prompts_over_30_seconds_are_a_reason(module):
    assert module.prompt_problem(request()) is None
    assert "30" in module.prompt_problem(request(prompt_seconds=31))


class FakeCosyVoice2:
    """Stands in for upstream's CosyVoice2: records the constructor and each inference_zero_shot call."""

    made = []

    def __init__(self, model_dir, **kwargs):
        import sys

        self.sample_rate = 24000
        self.calls = []
        wetext = sys.modules["wetext.wetext"]
        wetext.snapshot_download("pengzhendong/wetext")  # what wetext's Normalizer() does in upstream's frontend
        self.frontend = type("Frontend", (), {"text_frontend": ""})()
        FakeCosyVoice2.made.append((model_dir, kwargs))

    def inference_zero_shot(self, text, prompt_text, prompt_wav, **kwargs):
        audio, rate = load_audio(prompt_wav)
        self.calls.append((text, prompt_text, rate, len(audio), kwargs))
        yield {"tts_speech": np.ones((1, 10))}
        yield {"tts_speech": np.zeros((1, 5))}


def test_clone_calls_zero_shot_with_a_24k_prompt_file_and_joins_segments():
    adapter = create_adapter(KEY)
    adapter._model = model = FakeCosyVoice2.__new__(FakeCosyVoice2)
    model.calls = []
    good, too_long = adapter.clone([request(prompt_seconds=1.0), request(prompt_seconds=40)])
    assert model.calls == [("good morning", "hello there", 24000, 24000, {"stream": False, "speed": 1.0,
                                                                            "text_frontend": True})]
    assert good.shape == (15,) and good[:10].sum() == 10 and good[10:].sum() == 0
    assert isinstance(too_long, CloneFailure) and "30" in too_long.reason


def test_each_refused_item_fails_alone_and_its_batch_mates_are_made():
    adapter = create_adapter(KEY)
    adapter._model = model = FakeCosyVoice2.__new__(FakeCosyVoice2)
    model.calls = []
    fr = request()
    fr = CloneRequest("p2", fr.prompt_audio, 16000, "hello there", "en", "bonjour", "fr", 0)
    made, language, transcript, text = adapter.clone([request(), fr, request(prompt_text=" "), request(text="")])
    assert made.shape == (15,) and len(model.calls) == 1
    assert language.reason == "unsupported language: fr"
    assert "empty prompt transcript" in transcript.reason and text.reason == "empty target text"


def test_wetext_reads_only_the_modelscope_cache_while_upstream_builds(module):
    calls = []
    wetext = types.SimpleNamespace(snapshot_download=lambda model_id, **kwargs: calls.append((model_id, kwargs)))
    original = wetext.snapshot_download
    with module.wetext_from_cache(wetext):
        wetext.snapshot_download("pengzhendong/wetext")
    assert calls == [("pengzhendong/wetext", {"local_files_only": True})]
    assert wetext.snapshot_download is original
    with module.wetext_from_cache(None):  # wetext not installed: nothing to change
        pass


def test_load_builds_upstream_without_jit_trt_or_downloads(full_weights, stub_stack, monkeypatch, fake_tree):
    """The real load on stand-ins: upstream's constructor arguments, wetext kept to its cache, the frontend recorded."""
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=True)
    checkout = fake_tree(["cosyvoice/cli/cosyvoice.py"], folder="checkout")
    monkeypatch.setenv("COSYVOICE_ROOT", str(checkout))
    downloads = []
    wetext = types.ModuleType("wetext.wetext")
    wetext.snapshot_download = lambda model_id, **kwargs: downloads.append((model_id, kwargs))
    monkeypatch.setitem(sys.modules, "wetext.wetext", wetext)
    upstream = types.ModuleType("cosyvoice.cli.cosyvoice")
    upstream.CosyVoice2 = FakeCosyVoice2
    monkeypatch.setitem(sys.modules, "cosyvoice.cli.cosyvoice", upstream)
    monkeypatch.setattr(FakeCosyVoice2, "made", [])
    adapter.load("cpu")
    assert FakeCosyVoice2.made == [(str(full_weights), {"load_jit": False, "load_trt": False, "fp16": False})]
    assert downloads == [("pengzhendong/wetext", {"local_files_only": True})]
    assert adapter.describe()["text_frontend"] == "none"  # upstream's fallback, recorded with every run
