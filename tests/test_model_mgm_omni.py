"""mgm_omni adapter: imports without its stack, fails with the fixing command, builds cli_tts.py's inputs."""

from __future__ import annotations

import contextlib
import sys
import types

import numpy as np
import pytest

from rvcbench.errors import MissingDependencyError

KEY = "mgm_omni"


def test_declares_what_upstream_documents(adapter):
    assert adapter.sample_rate == 24000 and adapter.batch_size == 1 and adapter.needs_prompt_text
    assert adapter.weights_id == "wcy1122/MGM-Omni-TTS-2B-0927" and "mgm" in adapter.stack_modules
    assert adapter.languages == {"en", "zh"} and not adapter.supports_language("ja")


def test_incomplete_weights_folder_names_the_missing_files(adapter, offline_hub, fake_tree):
    adapter.weights = str(fake_tree(("config.json", "cosyvoice2/flow.pt")))
    with pytest.raises(MissingDependencyError, match="lacks cosyvoice2/cosyvoice2.yaml, cosyvoice2/hift.pt"):
        adapter.load("cpu")


def test_missing_checkout_names_the_clone_command(adapter, module, fake_tree, monkeypatch, tmp_path):
    monkeypatch.delenv("MGM_OMNI_ROOT", raising=False)
    monkeypatch.setenv("RVCBENCH_ENVS_DIR", str(tmp_path / "envs"))  # no recorded clone either
    adapter.weights = str(fake_tree(module.REQUIRED_FILES))
    with pytest.raises(MissingDependencyError, match="git clone --recursive https://github.com/dvlab-research/MGM"):
        adapter.load("cpu")


def test_complete_weights_and_checkout_without_the_stack_point_to_env_create(adapter, module, fake_tree,
                                                                            monkeypatch):
    adapter.weights = str(fake_tree(module.REQUIRED_FILES))
    clone = fake_tree(("mgm/model/language_model/mgm_tts.py",), "clone")
    monkeypatch.setenv("MGM_OMNI_ROOT", str(clone))
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY}"):
        adapter.load("cpu")
    assert str(clone.resolve() / "third_party") in sys.path  # where upstream's vendored cosyvoice lives


def test_turns_follow_cli_tts_and_pick_the_instruction_by_prompt_language(module):
    user_en, assistant = module.conversation_turns("en", "Hello\n  world")
    user_zh, _ = module.conversation_turns("zh", "你好")
    assert user_en == "Respond with the tone of the reference audio clip.<|audio_start|><speech><|audio_end|>\n"
    assert user_zh.startswith("使用参考音频中听到的语气回答。") and user_zh.endswith("<|audio_end|>\n")
    assert assistant == "<|audio_start|>Hello world"


def test_prompt_is_16k_with_a_batch_axis(module):
    prompt = module.prompt_for_model(np.zeros(48000, dtype=np.float32), 48000)
    assert prompt.shape == (1, 16000) and prompt.dtype == np.float32


class FakeConversation:
    """mgm.conversation's qwen2vl template, as far as the adapter uses it."""

    roles = ("<|im_start|>user\n", "<|im_start|>assistant\n")

    def __init__(self):
        self.messages = []

    def copy(self):
        return FakeConversation()

    def append_message(self, role, message):
        self.messages.append((role, message))

    def get_prompt(self):
        return "".join(role + message + "<|im_end|>\n" for role, message in self.messages)


class FakeTokenizer:
    pad_token_id, eos_token_id = 151643, 151645

    def __call__(self, text):
        return {"input_ids": [ord(char) for char in text]}


class FakeTensor:
    """What the adapter does with torch tensors (numpy inside), so the test needs no torch import."""

    def __init__(self, values):
        self.values = np.asarray(values)
        self.shape = self.values.shape

    def unsqueeze(self, dim):
        return FakeTensor(np.expand_dims(self.values, dim))

    def to(self, device):
        return self

    def tolist(self):
        return self.values.tolist()


fake_torch = types.SimpleNamespace(from_numpy=FakeTensor, tensor=FakeTensor, inference_mode=contextlib.nullcontext,
                                   float16="fp16")


def loaded_with_fakes(module, runaway=False):
    """The adapter as `load` leaves it, with upstream's model, tokenizer and helpers (and torch) replaced by
    recorders."""
    calls = []

    class FakeModel:
        device = "cpu"

        def generate(self, inputs, **kwargs):
            calls.append((inputs, kwargs))
            return None, np.full(960, 0.1, dtype=np.float32), runaway

    class FakeMMUtils:
        @staticmethod
        def tokenizer_speech_token(prompt, tokenizer, return_tensors=None):
            calls.append(("prompt", prompt, return_tensors))
            return FakeTensor([1, 2, 3])

    adapter = module.Adapter()
    adapter._model, adapter._tokenizer, adapter._conv = FakeModel(), FakeTokenizer(), FakeConversation()
    adapter._mm_utils, adapter._torch = FakeMMUtils(), fake_torch
    return adapter, calls


def request(target_text="Hello  world", target_language="en", prompt_text=" ref words ", seed=7):
    from rvcbench.adapters.contract import CloneRequest

    return CloneRequest("p", np.zeros(24000, dtype=np.float32), 24000, prompt_text, "en", target_text,
                        target_language, seed)


def test_clone_calls_generate_as_cli_tts_does_with_check_tts_result(module):
    adapter, calls = loaded_with_fakes(module)
    out = adapter.clone([request()])
    assert out[0].dtype == np.float32 and out[0].shape == (960,)
    (_, prompt, tensors), (inputs, kwargs) = calls
    assert tensors == "pt" and prompt == (
        "<|im_start|>user\nRespond with the tone of the reference audio clip.<|audio_start|><speech><|audio_end|>\n"
        "<|im_end|>\n<|im_start|>assistant\n<|audio_start|>Hello world<|im_end|>\n")
    assert inputs.tolist() == [[1, 2, 3]]
    assert kwargs.pop("input_ids_refer").tolist() == [[ord(char) for char in "ref words"]]
    assert kwargs.pop("audio_refer").shape == (1, 16000)
    assert isinstance(kwargs.pop("tokenizer"), FakeTokenizer)
    assert kwargs == {"check_tts_result": True, "do_sample": True, "temperature": 0.3, "max_new_tokens": 8192,
                      "bos_token_id": 151643, "eos_token_id": [151645], "pad_token_id": 151643, "use_cache": True}


def test_runaway_flag_is_a_failure_for_that_item(module):
    adapter, _ = loaded_with_fakes(module, runaway=True)
    (out,) = adapter.clone([request()])
    assert "runaway" in out.reason and "tts_error" in out.reason


def test_refusals_per_item_without_calling_upstream(module):
    adapter, calls = loaded_with_fakes(module)
    out = adapter.clone([request(target_language="ja"), request(target_text=" "), request(prompt_text=" "),
                         request()])
    assert out[0].reason == "unsupported language: ja" and "empty target text" in out[1].reason
    assert "empty prompt transcript" in out[2].reason and out[3].shape == (960,)
    assert len([call for call in calls if call[0] != "prompt"]) == 1  # generate ran for the good item only


def test_clone_before_load_says_so(adapter):
    with pytest.raises(RuntimeError, match="before load"):
        adapter.clone([request()])


def test_missing_flash_attn_names_the_pin_before_the_model_is_built(adapter, module, fake_tree, monkeypatch):
    adapter.weights = str(fake_tree(module.REQUIRED_FILES))
    monkeypatch.setenv("MGM_OMNI_ROOT", str(fake_tree(("mgm/model/language_model/mgm_tts.py",), "clone")))
    monkeypatch.setattr(sys, "path", list(sys.path))
    built = []
    fakes = {"mgm.model.builder": types.SimpleNamespace(MGMTTSForCausalLM=types.SimpleNamespace(
                 from_pretrained=lambda *args, **kwargs: built.append((args, kwargs)))),
             "mgm.conversation": types.SimpleNamespace(conv_templates={"qwen2vl": FakeConversation()}),
             "torch": fake_torch, "transformers": types.SimpleNamespace(),
             "mgm.mm_utils": types.SimpleNamespace()}
    real_require = module.support.require
    monkeypatch.setattr(module.support, "require",
                        lambda name, model, hint="": fakes[name] if name in fakes else real_require(name, model, hint))
    monkeypatch.setitem(sys.modules, "flash_attn", None)  # does not import, whatever is installed here
    with pytest.raises(MissingDependencyError, match="flash_attention_2.*pip install flash-attn==2.7.4.post1"):
        adapter.load("cuda")
    assert built == []
