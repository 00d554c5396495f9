"""qwen3_tts adapter: fails with the fixing command, maps languages, and makes upstream's batched clone call."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from rvcbench.adapters.contract import CloneFailure, CloneRequest
from rvcbench.errors import MissingDependencyError

KEY = "qwen3_tts"
LANGUAGES = {"zh", "en", "ja", "ko", "de", "fr", "ru", "pt", "es", "it"}


def request(pair_id="a", text="Hello there.", prompt_text="A prompt.", language="en", rate=16000, seconds=1.0,
            seed=7) -> CloneRequest:
    audio = np.random.default_rng(0).standard_normal(int(rate * seconds)).astype(np.float32) * 0.1
    return CloneRequest(pair_id=pair_id, prompt_audio=audio, prompt_sample_rate=rate, prompt_text=prompt_text,
                        prompt_language="en", target_text=text, target_language=language, seed=seed)


class FakeQwen3TTSModel:
    """Stands in for qwen_tts.Qwen3TTSModel: records its calls, returns `frames[i]` codec frames of audio."""

    def __init__(self, model_type="base", rate=24000, frames=None):
        self.calls = []
        self.frames = frames
        self.model = types.SimpleNamespace(
            tts_model_type=model_type,
            speech_tokenizer=types.SimpleNamespace(get_output_sample_rate=lambda: rate))

    def get_supported_languages(self):
        return ["auto", "chinese", "english", "german", "italian", "portuguese", "spanish", "japanese", "korean",
                "french", "russian"]

    def create_voice_clone_prompt(self, **kwargs):
        self.calls.append(("prompt", kwargs))
        return [f"item for {kwargs['ref_text']}"]

    def generate_voice_clone(self, **kwargs):
        self.calls.append(("generate", kwargs))
        frames = self.frames or [3] * len(kwargs["text"])
        return [np.full(n * 1920, 0.1, dtype=np.float32) for n in frames], 24000

    def generate_calls(self):
        return [kwargs for kind, kwargs in self.calls if kind == "generate"]


@pytest.fixture
def fake_upstream(monkeypatch):
    """A qwen_tts module whose from_pretrained records its arguments and returns a FakeQwen3TTSModel."""
    made = {}

    def from_pretrained(path, **kwargs):
        made["path"], made["kwargs"] = path, kwargs
        made["model"] = made.get("model") or FakeQwen3TTSModel()
        return made["model"]

    module = types.ModuleType("qwen_tts")
    module.Qwen3TTSModel = types.SimpleNamespace(from_pretrained=from_pretrained)
    monkeypatch.setitem(sys.modules, "qwen_tts", module)
    torch = types.ModuleType("torch")  # the dtypes load picks, and what seed_everything calls; fast to "import"
    torch.float32, torch.bfloat16 = "float32", "bfloat16"
    torch.manual_seed = lambda seed: None
    torch.cuda = types.SimpleNamespace(is_available=lambda: False)
    monkeypatch.setitem(sys.modules, "torch", torch)
    return made


@pytest.fixture
def loaded(adapter, full_weights, fake_upstream):
    adapter.weights = str(full_weights)
    adapter.load("cpu")
    return adapter, fake_upstream["model"]


def test_declares_what_upstream_documents(adapter):
    assert adapter.weights_id == "Qwen/Qwen3-TTS-12Hz-1.7B-Base" and adapter.extra_weights == ()
    assert adapter.sample_rate == 24000 and adapter.needs_prompt_text and adapter.batch_size > 1
    assert adapter.languages == LANGUAGES and not adapter.supports_language("yue")
    assert adapter.license == "Apache-2.0" and "qwen_tts" in adapter.stack_modules and adapter.checkout is None


def test_incomplete_weights_folder_names_the_missing_file(adapter, fake_tree):
    adapter.weights = str(fake_tree(("config.json", "generation_config.json", "merges.txt")))
    with pytest.raises(MissingDependencyError, match="lacks speech_tokenizer/config.json"):
        adapter.load("cpu")


def test_missing_weights_name_the_download_command(adapter, offline_hub):
    with pytest.raises(MissingDependencyError, match="huggingface-cli download Qwen/Qwen3-TTS-12Hz-1.7B-Base"):
        adapter.load("cpu")


def test_complete_weights_without_the_stack_point_to_env_create(adapter, full_weights, stub_stack):
    stub_stack(adapter, importable=False)
    adapter.weights = str(full_weights)
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY}"):
        adapter.load("cpu")


def test_load_passes_the_local_folder_and_fp32_sdpa_on_cpu(adapter, full_weights, fake_upstream):
    adapter.weights = str(full_weights)
    adapter.load("cpu")
    assert fake_upstream["path"] == str(full_weights)  # a folder: upstream downloads nothing
    assert fake_upstream["kwargs"] == {"device_map": "cpu", "dtype": "float32", "attn_implementation": "sdpa"}


def test_load_refuses_a_checkpoint_that_is_not_a_base_model(adapter, full_weights, fake_upstream):
    fake_upstream["model"] = FakeQwen3TTSModel(model_type="custom_voice")
    adapter.weights = str(full_weights)
    with pytest.raises(ValueError, match="'custom_voice' model; voice cloning needs a Base checkpoint"):
        adapter.load("cpu")


def test_load_refuses_another_output_rate(adapter, full_weights, fake_upstream):
    fake_upstream["model"] = FakeQwen3TTSModel(rate=16000)
    adapter.weights = str(full_weights)
    with pytest.raises(ValueError, match="writes 16000 Hz, not 24000"):
        adapter.load("cpu")


def test_languages_map_to_upstream_names(module):
    assert module.language_name("en") == "English" and module.language_name("ZH") == "Chinese"
    assert module.language_name("pt") == "Portuguese" and module.language_name("yue") is None
    assert {module.language_name(code).lower() for code in LANGUAGES} <= set(
        FakeQwen3TTSModel().get_supported_languages())


def test_prompt_is_upstreams_waveform_and_rate_tuple_at_24k(module):
    wave, rate = module.prompt_for_model(np.zeros(16000, dtype=np.float32), 16000)
    assert rate == 24000 and wave.shape == (24000,) and wave.dtype == np.float32


def test_input_problems_name_the_reason(module):
    assert module.input_problem(request()) is None
    assert module.input_problem(request(language="fi")) == "unsupported language: fi"
    assert module.input_problem(request(language="en"), supported={"auto", "chinese"}) == "unsupported language: en"
    assert module.input_problem(request(text="  ")) == "empty target text"
    assert "needs the prompt transcript" in module.input_problem(request(prompt_text=""))


def test_prompts_one_by_one_in_icl_mode_then_one_batched_generate(loaded):
    adapter, model = loaded
    clips = adapter.clone([request("a", text="First.", rate=16000), request("b", text="Zweiter.", language="de",
                                                                             prompt_text="Ein Prompt.", rate=44100)])
    assert [kind for kind, _ in model.calls] == ["prompt", "prompt", "generate"]
    prompts = [kwargs for kind, kwargs in model.calls if kind == "prompt"]
    assert [p["ref_text"] for p in prompts] == ["A prompt.", "Ein Prompt."]
    assert [p["x_vector_only_mode"] for p in prompts] == [False, False]
    assert [(len(p["ref_audio"][0]), p["ref_audio"][1]) for p in prompts] == [(24000, 24000), (24000, 24000)]
    (call,) = model.generate_calls()
    assert call["text"] == ["First.", "Zweiter."] and call["language"] == ["English", "German"]
    assert call["voice_clone_prompt"] == ["item for A prompt.", "item for Ein Prompt."]
    assert call["max_new_tokens"] == 2048 and call["non_streaming_mode"] is False
    assert set(call) == {"text", "language", "voice_clone_prompt", "non_streaming_mode", "max_new_tokens"}
    assert all(isinstance(clip, np.ndarray) and clip.dtype == np.float32 and clip.size == 3 * 1920
               for clip in clips)


def test_failing_items_are_left_out_of_the_call_and_keep_their_place(loaded):
    adapter, model = loaded
    clips = adapter.clone([request("bad", language="fi"), request("good"), request("empty", prompt_text="")])
    assert [call["text"] for call in model.generate_calls()] == [["Hello there."]]
    assert isinstance(clips[0], CloneFailure) and clips[0].reason == "unsupported language: fi"
    assert isinstance(clips[1], np.ndarray) and isinstance(clips[2], CloneFailure)


def test_a_call_with_only_failures_makes_no_upstream_call(loaded):
    adapter, model = loaded
    assert isinstance(adapter.clone([request(text="")])[0], CloneFailure) and model.calls == []


def test_the_batch_is_seeded_with_its_first_good_request(loaded, monkeypatch, module):
    adapter, _ = loaded
    seeds = []
    monkeypatch.setattr(module.support, "seed_everything", seeds.append)
    adapter.clone([request("bad", text="", seed=1), request("a", seed=5), request("b", seed=9)])
    assert seeds == [5]


def test_an_item_that_ran_to_max_new_tokens_is_a_failure_beside_a_good_one(loaded):
    adapter, model = loaded
    model.frames = [2047, 4]
    clips = adapter.clone([request("long"), request("short")])
    assert isinstance(clips[0], CloneFailure) and "max_new_tokens=2048" in clips[0].reason
    assert isinstance(clips[1], np.ndarray) and clips[1].size == 4 * 1920


def test_runaway_rule_counts_the_frames_max_new_tokens_gives(module):
    assert module.ran_away(2047 * 1920) and not module.ran_away(2046 * 1920)
    assert module.ran_away(47 * 1920, max_new_tokens=48) and not module.ran_away(46 * 1920, max_new_tokens=48)
