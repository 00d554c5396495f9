"""higgs_audio adapter: imports without its stack, fails with the fixing command, builds upstream's clone chat."""

from __future__ import annotations

import json
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from rvcbench.adapters.contract import CloneFailure, CloneRequest
from rvcbench.audio import load_audio
from rvcbench.errors import MissingDependencyError, RvcbenchError

KEY = "higgs_audio"


def cached(fake_tree, hub: Path, repo_id: str, files: tuple[str, ...], config: dict | None = None) -> Path:
    """Put `files` in the Hugging Face cache layout, as `huggingface-cli download` would; config.json as given."""
    folder, commit = hub / f"models--{repo_id.replace('/', '--')}", "0" * 40
    snapshot = fake_tree(files, folder / "snapshots" / commit)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)
    if "config.json" in files:
        (snapshot / "config.json").write_text(json.dumps(config or {}))
    return snapshot


def model_folder(fake_tree, module, config: dict | None = None) -> Path:
    folder = fake_tree(module.MODEL_FILES)
    (folder / "config.json").write_text(json.dumps({"encode_whisper_embed": False} if config is None else config))
    return folder


def test_declares_what_upstream_documents(adapter):
    assert adapter.sample_rate == 24000 and adapter.batch_size == 1 and adapter.needs_prompt_text
    assert adapter.weights_id == "bosonai/higgs-audio-v2-generation-3B-base"
    assert adapter.extra_weights == ("bosonai/higgs-audio-v2-tokenizer", "bosonai/hubert_base")
    assert adapter.checkout.commit == "f04f5df76a6a7b14674e0d6d715b436c422883c6"
    assert adapter.checkout.marker == "boson_multimodal/serve/serve_engine.py"
    assert "boson_multimodal" not in adapter.stack_modules  # it comes from the checkout, not an install
    assert {"torch", "torchaudio", "transformers", "librosa", "dac", "vector_quantize_pytorch"} <= set(
        adapter.stack_modules)
    assert adapter.supports_language("en") and adapter.supports_language("zh") and not adapter.supports_language("fr")
    assert all(len(code) == 2 for code in adapter.languages)


def test_incomplete_weights_folder_names_the_missing_files(adapter, offline_hub, fake_tree):
    adapter.weights = str(fake_tree(("config.json",)))
    with pytest.raises(MissingDependencyError, match="lacks tokenizer_config.json"):
        adapter.load("cpu")


def test_missing_audio_tokenizer_names_its_download_command(adapter, module, offline_hub, fake_tree):
    adapter.weights = str(model_folder(fake_tree, module))
    with pytest.raises(MissingDependencyError, match="huggingface-cli download bosonai/higgs-audio-v2-tokenizer"):
        adapter.load("cpu")


def test_missing_semantic_teacher_names_its_download_command(adapter, module, offline_hub, fake_tree):
    # HiggsAudioTokenizer loads AutoModel.from_pretrained("bosonai/hubert_base") itself: checked before it runs
    adapter.weights = str(model_folder(fake_tree, module))
    cached(fake_tree, offline_hub, module.AUDIO_TOKENIZER_ID, module.AUDIO_TOKENIZER_FILES)
    with pytest.raises(MissingDependencyError, match="huggingface-cli download bosonai/hubert_base"):
        adapter.load("cpu")


def test_whisper_processor_is_needed_only_when_the_config_encodes_whisper(adapter, module, offline_hub, fake_tree):
    adapter.weights = str(model_folder(fake_tree, module, config={}))  # HiggsAudioConfig's default: True
    cached(fake_tree, offline_hub, module.AUDIO_TOKENIZER_ID, module.AUDIO_TOKENIZER_FILES)
    cached(fake_tree, offline_hub, module.SEMANTIC_MODEL_ID, module.SEMANTIC_MODEL_FILES)
    with pytest.raises(MissingDependencyError, match="huggingface-cli download openai/whisper-large-v3-turbo"):
        adapter.load("cpu")
    assert not module.needs_whisper({"encode_whisper_embed": False})


def complete_weights(adapter, module, offline_hub, fake_tree) -> None:
    adapter.weights = str(model_folder(fake_tree, module))
    cached(fake_tree, offline_hub, module.AUDIO_TOKENIZER_ID, module.AUDIO_TOKENIZER_FILES)
    cached(fake_tree, offline_hub, module.SEMANTIC_MODEL_ID, module.SEMANTIC_MODEL_FILES)


def test_complete_weights_without_the_stack_point_to_env_create(adapter, module, offline_hub, fake_tree, stub_stack):
    complete_weights(adapter, module, offline_hub, fake_tree)
    stub_stack(adapter, importable=False)
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY}"):
        adapter.load("cpu")


def test_missing_checkout_names_the_clone_and_commit(adapter, module, offline_hub, fake_tree, stub_stack,
                                                     monkeypatch, tmp_path):
    complete_weights(adapter, module, offline_hub, fake_tree)
    stub_stack(adapter, importable=True)
    monkeypatch.delenv(module.ROOT_ENV, raising=False)
    monkeypatch.setenv("RVCBENCH_ENVS_DIR", str(tmp_path / "envs"))  # no recorded clone either
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY} --with-upstream.*"
                                                      f"git clone --recursive {module.UPSTREAM}.*{module.COMMIT}"):
        adapter.load("cpu")


def test_a_folder_without_upstreams_serve_engine_is_not_taken_for_the_checkout(adapter, module, offline_hub,
                                                                                fake_tree, stub_stack, monkeypatch):
    complete_weights(adapter, module, offline_hub, fake_tree)
    stub_stack(adapter, importable=True)
    monkeypatch.setenv(module.ROOT_ENV, str(fake_tree(("boson_multimodal/__init__.py",))))
    with pytest.raises(MissingDependencyError, match="has no boson_multimodal/serve/serve_engine.py"):
        adapter.load("cpu")


def test_semantic_teacher_follows_the_tokenizer_config(module):
    assert module.semantic_model_id({}) == "bosonai/hubert_base"
    assert module.semantic_model_id({"semantic_techer": "hubert_base"}) == "facebook/hubert-base-ls960"
    with pytest.raises(RvcbenchError, match="w2v_bert2"):
        module.semantic_model_id({"semantic_techer": "w2v_bert2"})


def test_target_text_is_normalised_as_generation_py_does(module):
    text = module.target_text_for_model
    assert text("\u4f60\u597d\uff0c\u4e16\u754c\u3002") == "\u4f60\u597d, \u4e16\u754c."  # full-width -> ASCII
    assert text("\u201cWait\u2026\u201d she said\uff08softly\uff09") == '"Wait..." she said softly.'
    assert text("It is 20\u00b0C (68\u00b0F) today") == "It is 20 degrees Celsius 68 degrees Fahrenheit today."
    assert text("  one  line \n\n  two ") == "one line\ntwo."
    assert text("Done!") == "Done!" and text("So;") == "So;" and text("a list:") == "a list:."


def test_conversation_puts_the_prompt_audio_after_its_transcript(module):
    turns = module.conversation("  the prompt\nsaid  this ", "say   that")
    assert [role for role, _ in turns] == ["system", "user", "assistant", "user"]
    assert turns[0][1].startswith("Generate audio following instruction.") and "<|scene_desc_end|>" in turns[0][1]
    assert turns[1][1] == "the prompt said this" and turns[2][1] is None and turns[3][1] == "say that."


def test_prompt_is_resampled_to_the_tokenizer_rate(module):
    prompt = module.prompt_for_model(np.zeros(16000, dtype=np.float32), 16000)
    assert prompt.dtype == np.float32 and prompt.shape == (24000,)


@dataclass
class AudioContent:
    audio_url: str


@dataclass
class Message:
    role: str
    content: object


@dataclass
class ChatMLSample:
    messages: list = field(default_factory=list)


ENDED = "<|audio_out_bos|><|AUDIO_OUT|><|audio_eos|><|eot_id|>"  # an answer that stopped itself, as decoded


class FakeServeEngine:
    """Records each `generate` call as upstream's HiggsAudioServeEngine would receive it."""

    def __init__(self, audio: np.ndarray | None, generated_text: str = ENDED) -> None:
        self.calls, self.audio, self.generated_text = [], audio, generated_text

    def generate(self, **kwargs):
        audio_url = kwargs["chat_ml_sample"].messages[2].content.audio_url
        self.calls.append({**kwargs, "prompt": load_audio(audio_url)})
        return types.SimpleNamespace(audio=self.audio, sampling_rate=24000, generated_text=self.generated_text)


def loaded_with(adapter, engine: FakeServeEngine):
    adapter._engine = engine
    adapter._types = types.SimpleNamespace(Message=Message, AudioContent=AudioContent, ChatMLSample=ChatMLSample)
    return adapter


def request(prompt_text="the prompt words", target_text="say this", language="en", seed=7) -> CloneRequest:
    return CloneRequest("p", np.zeros(16000, dtype=np.float32), 16000, prompt_text, "en", target_text, language, seed)


def test_clone_calls_generate_with_the_chat_seed_and_settings(adapter, module):
    engine = FakeServeEngine(np.full(480, 0.1, dtype=np.float32))
    (out,) = loaded_with(adapter, engine).clone([request()])
    (call,) = engine.calls
    sample, (prompt, rate) = call.pop("chat_ml_sample"), call.pop("prompt")
    assert call == {"seed": 7, "max_new_tokens": 2048, "temperature": 0.3, "top_k": 50, "top_p": 0.95,
                    "ras_win_len": 7, "ras_win_max_num_repeat": 2, "stop_strings": ["<|end_of_text|>", "<|eot_id|>"]}
    assert [(m.role, m.content if isinstance(m.content, str) else "audio") for m in sample.messages] == [
        ("system", module.SYSTEM_PROMPT), ("user", "the prompt words"), ("assistant", "audio"), ("user", "say this.")]
    assert rate == 24000 and prompt.shape == (24000,)
    assert out.dtype == np.float32 and out.shape == (480,)


def test_items_upstream_cannot_make_are_failures_beside_a_good_one(adapter):
    engine = FakeServeEngine(np.full(480, 0.1, dtype=np.float32))
    outputs = loaded_with(adapter, engine).clone([request(prompt_text="  "), request(target_text=" "),
                                                  request(language="fr"), request()])
    assert [type(o) for o in outputs[:3]] == [CloneFailure] * 3 and isinstance(outputs[3], np.ndarray)
    assert "empty prompt transcript" in outputs[0].reason and "empty target" in outputs[1].reason
    assert "unsupported language: fr" in outputs[2].reason and len(engine.calls) == 1


def test_an_answer_without_audio_is_a_failure(adapter):
    (out,) = loaded_with(adapter, FakeServeEngine(None)).clone([request()])
    assert isinstance(out, CloneFailure) and "no audio" in out.reason


def test_an_answer_that_runs_to_max_new_tokens_is_a_failure(adapter, module):
    engine = FakeServeEngine(np.full(480, 0.1, dtype=np.float32), generated_text="<|audio_out_bos|><|AUDIO_OUT|>")
    (out,) = loaded_with(adapter, engine).clone([request()])
    assert isinstance(out, CloneFailure) and "max_new_tokens=2048" in out.reason
    assert module.ran_away("<|audio_out_bos|><|AUDIO_OUT|>") and not module.ran_away(ENDED)
    assert not module.ran_away("<|AUDIO_OUT|><|audio_eos|><|end_of_text|>")


def test_max_new_tokens_is_the_adapters_attribute(adapter):
    engine = FakeServeEngine(np.full(480, 0.1, dtype=np.float32))
    adapter.max_new_tokens = 48
    loaded_with(adapter, engine).clone([request()])
    assert engine.calls[0]["max_new_tokens"] == 48
