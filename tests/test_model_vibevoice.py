"""vibevoice adapter: imports without its stack, fails with the fixing command, builds upstream's scripts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rvcbench.errors import MissingDependencyError

KEY = "vibevoice"


def weights_folder(fake_tree, tokenizer: str | None) -> Path:
    folder = fake_tree(("config.json",))
    config = {"language_model_pretrained_name": tokenizer} if tokenizer else {}
    (folder / "preprocessor_config.json").write_text(json.dumps(config))
    return folder


def test_declares_what_upstream_documents(adapter):
    assert adapter.sample_rate == 24000 and adapter.batch_size > 1 and not adapter.needs_prompt_text
    assert adapter.weights_id == "microsoft/VibeVoice-1.5B" and "vibevoice" in adapter.stack_modules
    assert adapter.languages == {"en", "zh"} and not adapter.supports_language("de") and adapter.license == "MIT"


def test_incomplete_weights_folder_names_the_missing_files(adapter, offline_hub, fake_tree):
    folder = weights_folder(fake_tree, None)
    (folder / "preprocessor_config.json").unlink()
    adapter.weights = str(folder)
    with pytest.raises(MissingDependencyError, match="lacks preprocessor_config.json"):
        adapter.load("cpu")


def test_missing_text_tokenizer_names_its_download_command(adapter, offline_hub, fake_tree):
    adapter.weights = str(weights_folder(fake_tree, None))
    with pytest.raises(MissingDependencyError, match="huggingface-cli download Qwen/Qwen2.5-1.5B"):
        adapter.load("cpu")


def test_complete_weights_without_the_stack_point_to_env_create(adapter, offline_hub, fake_tree):
    tokenizer = fake_tree(("tokenizer_config.json", "tokenizer.json"), "qwen")
    adapter.weights = str(weights_folder(fake_tree, str(tokenizer)))
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY}"):
        adapter.load("cpu")


def test_script_is_one_speaker_1_line_with_straight_apostrophes(module):
    assert module.script("It\u2019s  a\nlong   day.") == "Speaker 1: It's a long day."


def test_voice_sample_is_resampled_to_24k(module):
    sample = module.prompt_for_model(np.zeros(22050, dtype=np.float32), 22050)
    assert sample.shape == (24000,) and sample.dtype == np.float32


def test_text_tokenizer_comes_from_the_checkpoint_config(module):
    assert module.text_tokenizer_id({"language_model_pretrained_name": "org/tok"}) == "org/tok"
    assert module.text_tokenizer_id({}) == "Qwen/Qwen2.5-1.5B"


def test_attention_is_flash_only_on_cuda_with_flash_attn(module):
    from rvcbench.adapters.support import attention_for

    assert attention_for("cuda:0", True) == "flash_attention_2"
    assert attention_for("cuda", False) == "sdpa" and attention_for("cpu", True) == "sdpa"


def test_an_item_that_never_reached_eos_ran_away_even_unflagged(module):
    # upstream leaves the longest item of a batch (and a single item) unflagged when it runs out of steps
    assert module.ran_away(False, [7, 7, 7], eos_id=2)
    assert module.ran_away(True, [7, 2, 2], eos_id=2)
    assert not module.ran_away(False, [7, 7, 8, 2], eos_id=2)
