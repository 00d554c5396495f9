"""mgm_omni adapter: imports without its stack, fails with the fixing command, builds cli_tts.py's inputs."""

from __future__ import annotations

import sys

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


def test_missing_checkout_names_the_clone_command(adapter, module, fake_tree, monkeypatch):
    monkeypatch.delenv("MGM_OMNI_ROOT", raising=False)
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
