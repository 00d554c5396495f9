"""xtts_v2 adapter: no stack needed to import, missing pieces named with their fix, called as synthesize does."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rvcbench.adapters.contract import CloneFailure, CloneRequest
from rvcbench.adapters.registry import create_adapter
from rvcbench.audio import load_audio
from rvcbench.errors import MissingDependencyError

KEY = "xtts_v2"
UPSTREAM_LANGUAGES = ["en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh-cn", "hu", "ko",
                      "ja", "hi"]  # XttsConfig.languages in coqui-tts 0.28.0
SHIPPED = SimpleNamespace(temperature=0.75, length_penalty=1.0, repetition_penalty=5.0, top_k=50, top_p=0.85,
                          gpt_cond_len=30, gpt_cond_chunk_len=4, max_ref_len=30, sound_norm_refs=False)


def test_declares_what_upstream_documents(adapter):
    assert adapter.sample_rate == 24000 and adapter.batch_size == 1 and not adapter.needs_prompt_text
    assert adapter.weights_id == "coqui/XTTS-v2" and "CPML" in adapter.license and "non-commercial" in adapter.license
    assert {"TTS", "torch", "torchaudio", "spacy"} <= set(adapter.stack_modules)
    assert len(adapter.languages) == 17 and adapter.supports_language("zh") and not adapter.supports_language("fi")


def test_languages_map_onto_upstream_codes(module):
    assert sorted(module.LANGUAGES.values()) == sorted(UPSTREAM_LANGUAGES)
    assert module.upstream_language("zh") == "zh-cn" and module.upstream_language("ja") == "ja"
    assert module.upstream_language("zh-cn") is None and module.upstream_language("yue") is None


def test_weights_folder_needs_config_model_and_vocab(fake_tree):
    adapter = create_adapter(KEY, weights=str(fake_tree(("config.json", "speakers_xtts.pth"))))
    with pytest.raises(MissingDependencyError, match="lacks model.pth, vocab.json"):
        adapter.load("cpu")


def test_missing_stack_names_env_create(full_weights, stub_stack):
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=False)
    with pytest.raises(MissingDependencyError, match="rvcbench env create xtts_v2"):
        adapter.load("cpu")


def test_settings_are_read_from_the_config_as_synthesize_passes_them(module):
    assert module.voice_settings(SHIPPED) == {"gpt_cond_len": 30, "gpt_cond_chunk_len": 4, "max_ref_length": 30,
                                              "sound_norm_refs": False}
    assert module.inference_settings(SHIPPED) == {"temperature": 0.75, "length_penalty": 1.0,
                                                  "repetition_penalty": 5.0, "top_k": 50, "top_p": 0.85}


class FakeXtts:
    """Records the calls the adapter makes; reads the prompt file as upstream's load_audio would."""

    def __init__(self, wav_samples: int = 480):
        self.calls = []
        self.wav_samples = wav_samples

    def get_conditioning_latents(self, audio_path, **settings):
        (path,) = audio_path
        audio, rate = load_audio(path)
        self.calls.append(("latents", rate, len(audio), settings))
        return "latents", "speaker"

    def inference(self, text, language, gpt_cond_latent, speaker_embedding, **settings):
        self.calls.append(("inference", text, language, gpt_cond_latent, speaker_embedding, settings))
        return {"wav": np.full(self.wav_samples, 0.1, dtype=np.float32), "gpt_latents": None}


def loaded_with(model) -> object:
    adapter = create_adapter(KEY)
    adapter._model, adapter._config = model, SHIPPED
    return adapter


def test_clone_passes_the_prompt_file_and_upstream_settings(module):
    fake = FakeXtts()
    adapter = loaded_with(fake)
    prompt = np.zeros(44100, dtype=np.float32)
    out = adapter.clone([CloneRequest("p", prompt, 44100, "", "en", "Ni hao.", "zh", 7)])
    assert out[0].dtype == np.float32 and out[0].shape == (480,)
    latents, inference = fake.calls
    assert latents == ("latents", 44100, 44100, module.voice_settings(SHIPPED))  # upstream resamples to 22.05 kHz
    assert inference == ("inference", "Ni hao.", "zh-cn", "latents", "speaker",
                         {"enable_text_splitting": True, **module.inference_settings(SHIPPED)})


def test_clone_fails_items_it_cannot_make_and_keeps_the_rest():
    fake = FakeXtts()
    prompt = np.zeros(16000, dtype=np.float32)
    out = loaded_with(fake).clone([CloneRequest("a", prompt, 16000, "", "en", "Hello.", "fi", 1),
                                   CloneRequest("b", prompt, 16000, "", "en", "  \n", "en", 1),
                                   CloneRequest("c", prompt, 16000, "", "en", "Hello.", "en", 1)])
    assert isinstance(out[0], CloneFailure) and "unsupported language: fi" in out[0].reason
    assert isinstance(out[1], CloneFailure) and out[1].reason == "empty target text"
    assert isinstance(out[2], np.ndarray) and [call[0] for call in fake.calls] == ["latents", "inference"]


def test_no_audio_is_a_failure():
    out = loaded_with(FakeXtts(wav_samples=0)).clone(
        [CloneRequest("a", np.zeros(16000, dtype=np.float32), 16000, "", "en", "Hello.", "en", 1)])
    assert isinstance(out[0], CloneFailure) and "no audio" in out[0].reason


def test_seed_is_set_before_inference(monkeypatch, module):
    seeds = []
    monkeypatch.setattr(module.support, "seed_everything", seeds.append)
    loaded_with(FakeXtts()).clone([CloneRequest("a", np.zeros(16000, dtype=np.float32), 16000, "", "en", "Hi.",
                                                "en", 42)])
    assert seeds == [42]


def test_clone_before_load_raises():
    with pytest.raises(RuntimeError, match="before load"):
        create_adapter(KEY).clone([])
