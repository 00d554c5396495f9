"""fishspeech adapter: imports without its stack, names missing pieces with their fix, reference bytes, results."""

import io
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
    assert adapter.weights_id == "fishaudio/openaudio-s1-mini" and "fish_speech" in adapter.stack_modules
    assert {"en", "zh", "ja", "ar"} <= adapter.languages and not adapter.supports_language("yue")


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
    adapter._engine, adapter._schema = FakeEngine(), fake_schema()
    audio = np.zeros(1600, dtype=np.float32)
    ok, failed, no_transcript = adapter.clone([
        CloneRequest("a", audio, 16000, "ref words", "en", "say this", "en", 7),
        CloneRequest("b", audio, 16000, "ref words", "en", "fail", "en", 7),
        CloneRequest("c", audio, 16000, "", "en", "say this", "en", 7)])
    assert ok.shape == (441,)
    assert isinstance(failed, CloneFailure) and "No audio generated" in failed.reason
    assert isinstance(no_transcript, CloneFailure) and len(seen) == 2
    first = seen[0]
    assert first.seed == 7 and first.references[0].text == "ref words" and first.use_memory_cache == "off"
    assert first.top_p == 0.8 and first.temperature == 0.8 and first.repetition_penalty == 1.1
