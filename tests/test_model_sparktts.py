"""sparktts adapter: no stack needed to import, missing pieces named with their fix, inputs as upstream reads them."""

import numpy as np
import pytest

from rvcbench.adapters.contract import CloneRequest
from rvcbench.adapters.registry import create_adapter
from rvcbench.audio import load_audio
from rvcbench.errors import MissingDependencyError

KEY = "sparktts"


def test_declares_what_upstream_documents(adapter):
    assert adapter.sample_rate == 16000 and adapter.batch_size == 1 and not adapter.needs_prompt_text
    assert adapter.weights_id == "SparkAudio/Spark-TTS-0.5B" and "einx" in adapter.stack_modules
    assert adapter.languages == frozenset({"en", "zh"}) and not adapter.supports_language("de")


def test_incomplete_weights_folder_names_the_missing_files(tmp_path):
    (tmp_path / "config.yaml").write_text("sample_rate: 16000\n")
    with pytest.raises(MissingDependencyError, match="lacks LLM/config.json, BiCodec/config.yaml"):
        create_adapter(KEY, weights=str(tmp_path)).load("cpu")


def test_missing_stack_names_env_create(full_weights, stub_stack):
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=False)
    with pytest.raises(MissingDependencyError, match="rvcbench env create sparktts"):
        adapter.load("cpu")


def test_missing_checkout_names_the_clone_and_commit(full_weights, stub_stack, monkeypatch, tmp_path, module):
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=True)
    monkeypatch.delenv("SPARKTTS_ROOT", raising=False)
    monkeypatch.setenv("RVCBENCH_ENVS_DIR", str(tmp_path / "envs"))  # no recorded clone either
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY} --with-upstream.*"
                                                      f"git clone --recursive {module.UPSTREAM}.*{module.COMMIT}"):
        adapter.load("cpu")


def test_torchaudio_is_part_of_the_stack(adapter):
    # sparktts/utils/audio.py imports torchaudio at module level; BiCodec uses torchaudio.transforms
    assert {"torch", "torchaudio", "transformers", "soxr"} <= set(adapter.stack_modules)


def test_prompt_at_16k_and_transcript_only_when_present(module):
    prompt = module.prompt_for_model(np.zeros(24000, dtype=np.float32), 24000)
    assert prompt.dtype == np.float32 and len(prompt) == 16000
    assert module.prompt_text_for_model("  hello  ") == "hello"
    assert module.prompt_text_for_model(" \n") is None


def test_clone_passes_a_16k_file_and_upstream_sampling(module):
    calls = []

    class FakeSpark:
        def inference(self, text, prompt_speech_path, prompt_text=None, **sampling):
            audio, rate = load_audio(prompt_speech_path)
            calls.append((text, rate, len(audio), prompt_text, sampling))
            return np.full(320, 0.1, dtype=np.float32)

    adapter = create_adapter(KEY)
    adapter._model = FakeSpark()
    audio = np.zeros(48000, dtype=np.float32)
    out = adapter.clone([CloneRequest("p", audio, 48000, "", "en", "hi there", "en", 1),
                         CloneRequest("p", audio, 48000, "ref words", "en", "", "en", 1),
                         CloneRequest("p", audio, 48000, "ref words", "en", "Hallo", "de", 1)])
    assert calls == [("hi there", 16000, 16000, None, module.SAMPLING)]
    assert out[0].shape == (320,) and "empty target" in out[1].reason
    assert out[2].reason == "unsupported language: de"
    assert module.SAMPLING == {"temperature": 0.8, "top_k": 50, "top_p": 0.95}
