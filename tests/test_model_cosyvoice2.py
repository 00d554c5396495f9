"""cosyvoice2 adapter: imports without its stack, names every missing piece with its fix, prepares inputs."""

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


def test_missing_checkout_names_the_clone_and_commit(full_weights, stub_stack, monkeypatch, module):
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=True)  # the stack "imports", so the checkout is what is missing
    monkeypatch.delenv("COSYVOICE_ROOT", raising=False)
    with pytest.raises(MissingDependencyError, match=f"git clone --recursive {module.UPSTREAM}.*{module.COMMIT}"):
        adapter.load("cpu")


def test_prompt_is_resampled_to_24k(module):
    prompt = module.prompt_for_model(np.ones(44100, dtype=np.float32) * 0.5, 44100)
    assert prompt.dtype == np.float32 and len(prompt) == 24000
    assert np.allclose(prompt[2000:-2000], 0.5, atol=1e-3)


def test_input_problems_become_reasons(module):
    assert module.input_problem(request()) is None
    assert "transcript" in module.input_problem(request(prompt_text="  "))
    assert "30" in module.input_problem(request(prompt_seconds=31))
    assert "empty target" in module.input_problem(request(text=""))


def test_clone_calls_zero_shot_with_a_24k_prompt_file_and_joins_segments(module):
    calls = []

    class FakeCosyVoice2:
        def inference_zero_shot(self, text, prompt_text, prompt_wav, **kwargs):
            audio, rate = load_audio(prompt_wav)
            calls.append((text, prompt_text, rate, len(audio), kwargs))
            yield {"tts_speech": np.ones((1, 10))}
            yield {"tts_speech": np.zeros((1, 5))}

    adapter = create_adapter(KEY)
    adapter._model = FakeCosyVoice2()
    good, too_long = adapter.clone([request(prompt_seconds=1.0), request(prompt_seconds=40)])
    assert calls == [("good morning", "hello there", 24000, 24000, {"stream": False, "speed": 1.0,
                                                                      "text_frontend": True})]
    assert good.shape == (15,) and good[:10].sum() == 10 and good[10:].sum() == 0
    assert isinstance(too_long, CloneFailure)
