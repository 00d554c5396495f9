"""fishspeech adapter: imports without its stack, names missing pieces with their fix, reference bytes, results."""

import io
import sys
import types
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from rvcbench.adapters.contract import CloneFailure, CloneRequest
from rvcbench.adapters.registry import create_adapter
from rvcbench.errors import MissingDependencyError

KEY = "fishspeech"


def test_declares_what_upstream_documents(adapter):
    assert adapter.sample_rate == 44100 and adapter.batch_size == 1 and adapter.needs_prompt_text
    assert adapter.weights_id == "fishaudio/openaudio-s1-mini"
    assert {"en", "zh", "ja", "ar"} <= adapter.languages and not adapter.supports_language("yue")


def test_runs_from_a_checkout_of_the_last_s1_commit(adapter):
    assert adapter.checkout.repo == "https://github.com/fishaudio/fish-speech.git"
    assert adapter.checkout.commit == "d3df50503b36314a964f66cac1af1e19e95bcfa3"
    assert adapter.checkout.marker == ".project-root"  # pyrootutils.setup_root in fish_speech/models/dac/inference.py
    assert "fish_speech" not in adapter.stack_modules  # it comes from the checkout, not an install
    assert {"torch", "torchaudio", "hydra", "tiktoken", "pyrootutils", "dac", "audiotools"} <= set(
        adapter.stack_modules)


def test_missing_weights_also_name_the_gate(adapter, offline_hub):
    with pytest.raises(MissingDependencyError, match="gated"):
        adapter.load("cpu")


def test_incomplete_weights_folder_names_the_missing_files(tmp_path):
    (tmp_path / "model.pth").write_bytes(b"x")
    with pytest.raises(MissingDependencyError, match="lacks config.json, tokenizer.tiktoken") as err:
        create_adapter(KEY, weights=str(tmp_path)).load("cpu")
    assert "codec.pth" in str(err.value)


def test_missing_stack_names_env_create(full_weights, stub_stack):
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=False)
    with pytest.raises(MissingDependencyError, match="rvcbench env create fishspeech"):
        adapter.load("cpu")


def test_missing_checkout_names_the_clone_and_commit(full_weights, stub_stack, monkeypatch, tmp_path, module):
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=True)
    monkeypatch.delenv(module.ROOT_ENV, raising=False)
    monkeypatch.setenv("RVCBENCH_ENVS_DIR", str(tmp_path / "envs"))  # no recorded clone either
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY} --with-upstream.*"
                                                      f"git clone --recursive {module.UPSTREAM}.*{module.COMMIT}"):
        adapter.load("cpu")


def test_a_folder_without_the_project_root_marker_is_not_taken_for_the_checkout(full_weights, stub_stack,
                                                                                 monkeypatch, fake_tree, module):
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=True)
    monkeypatch.setenv(module.ROOT_ENV, str(fake_tree(("fish_speech/__init__.py",), "clone")))
    with pytest.raises(MissingDependencyError, match="has no .project-root"):
        adapter.load("cpu")


def test_a_torchaudio_without_list_audio_backends_names_the_pinned_version(full_weights, stub_stack, monkeypatch,
                                                                            fake_tree, module):
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=True)  # torchaudio as an empty module: no list_audio_backends, as in 2.9+
    monkeypatch.setenv(module.ROOT_ENV, str(fake_tree((".project-root",), "clone")))
    for name in ("fish_speech", "fish_speech.inference_engine", "fish_speech.models.text2semantic.inference",
                 "fish_speech.models.dac.inference", "fish_speech.utils.schema"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    with pytest.raises(MissingDependencyError, match="torchaudio 2.9 removed.*2.8.0"):
        adapter.load("cpu")


def test_reference_bytes_are_a_wav_at_the_prompts_own_rate(module):
    audio = np.linspace(-0.5, 0.5, 22050, dtype=np.float32)
    back, rate = sf.read(io.BytesIO(module.reference_wav_bytes(audio, 22050)), dtype="float32")
    assert rate == 22050 and back.shape == (22050,) and np.allclose(back, audio, atol=1e-4)
    loud, _ = sf.read(io.BytesIO(module.reference_wav_bytes(np.full(10, 3.0), 16000)), dtype="float32")
    assert np.all(loud <= 1.0)


def fake_schema():
    class Reference:
        def __init__(self, audio, text):
            self.audio, self.text = audio, text

    class Request:
        def __init__(self, **fields):
            self.__dict__.update(fields)

    return SimpleNamespace(ServeReferenceAudio=Reference, ServeTTSRequest=Request)


def test_clone_sends_reference_text_and_seed_and_maps_engine_errors(module):
    seen = []

    class FakeEngine:
        def inference(self, req):
            seen.append(req)
            if req.text == "fail":
                yield SimpleNamespace(code="error", audio=None, error=RuntimeError("No audio generated"))
                return
            yield SimpleNamespace(code="final", audio=(44100, np.full(441, 0.2, dtype=np.float32)), error=None)

    adapter = create_adapter(KEY)
    adapter._engine, adapter._schema, adapter._token_samples = FakeEngine(), fake_schema(), 2048
    audio = np.zeros(1600, dtype=np.float32)
    ok, failed, no_transcript, finnish, empty = adapter.clone([
        CloneRequest("a", audio, 16000, "ref words", "en", "say this", "en", 7),
        CloneRequest("b", audio, 16000, "ref words", "en", "fail", "en", 7),
        CloneRequest("c", audio, 16000, " ", "en", "say this", "en", 7),
        CloneRequest("d", audio, 16000, "ref words", "en", "sano tämä", "fi", 7),
        CloneRequest("e", audio, 16000, "ref words", "en", "  ", "en", 7)])
    assert ok.shape == (441,) and ok.dtype == np.float32
    assert isinstance(failed, CloneFailure) and "No audio generated" in failed.reason
    assert isinstance(no_transcript, CloneFailure) and "empty prompt transcript" in no_transcript.reason
    assert isinstance(finnish, CloneFailure) and finnish.reason == "unsupported language: fi"
    assert isinstance(empty, CloneFailure) and empty.reason == "empty target text"
    assert [req.text for req in seen] == ["say this", "fail"]  # the refused items never reach the engine
    first = seen[0]
    assert first.seed == 7 and first.references[0].text == "ref words" and first.use_memory_cache == "off"
    assert first.top_p == 0.8 and first.temperature == 0.8 and first.repetition_penalty == 1.1
    assert first.chunk_length == 200 and first.max_new_tokens == 1024 and first.streaming is False
    back, rate = sf.read(io.BytesIO(first.references[0].audio), dtype="float32")
    assert rate == 16000 and back.shape == (1600,)


def test_a_clip_of_max_new_tokens_minus_one_frames_is_a_runaway(module):
    assert module.ran_away(1023 * 2048, 2048, 1024) and module.ran_away(1024 * 2048, 2048, 1024)
    assert not module.ran_away(1022 * 2048, 2048, 1024)


def test_clone_fails_a_generation_that_never_emitted_im_end(module):
    class FakeEngine:
        def inference(self, req):
            frames = req.max_new_tokens - 1 if req.text == "endless" else 3
            yield SimpleNamespace(code="final", audio=(44100, np.zeros(frames * 2048, dtype=np.float32)), error=None)

    adapter = create_adapter(KEY)
    adapter._engine, adapter._schema, adapter._token_samples = FakeEngine(), fake_schema(), 2048
    audio = np.zeros(1600, dtype=np.float32)
    endless, short = adapter.clone([CloneRequest("a", audio, 16000, "ref", "en", "endless", "en", 1),
                                    CloneRequest("b", audio, 16000, "ref", "en", "short", "en", 1)])
    assert isinstance(endless, CloneFailure) and "max_new_tokens=1024" in endless.reason
    assert short.shape == (3 * 2048,)
