"""higgs_audio adapter: imports without its stack, fails with the fixing command, builds upstream's clone chat."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rvcbench.errors import MissingDependencyError

KEY = "higgs_audio"


def cached(fake_tree, hub: Path, repo_id: str, files: tuple[str, ...]) -> None:
    """Put `files` in the Hugging Face cache layout, as `huggingface-cli download` would."""
    folder, commit = hub / f"models--{repo_id.replace('/', '--')}", "0" * 40
    fake_tree(files, folder / "snapshots" / commit)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)


def test_declares_what_upstream_documents(adapter):
    assert adapter.sample_rate == 24000 and adapter.batch_size == 1 and adapter.needs_prompt_text
    assert adapter.weights_id == "bosonai/higgs-audio-v2-generation-3B-base"
    assert "boson_multimodal" in adapter.stack_modules
    assert adapter.supports_language("en") and adapter.supports_language("zh") and not adapter.supports_language("fr")
    assert all(len(code) == 2 for code in adapter.languages)


def test_incomplete_weights_folder_names_the_missing_files(adapter, offline_hub, fake_tree):
    adapter.weights = str(fake_tree(("config.json",)))
    with pytest.raises(MissingDependencyError, match="lacks tokenizer_config.json"):
        adapter.load("cpu")


def test_missing_audio_tokenizer_names_its_download_command(adapter, module, offline_hub, fake_tree):
    adapter.weights = str(fake_tree(module.MODEL_FILES))
    with pytest.raises(MissingDependencyError, match="huggingface-cli download bosonai/higgs-audio-v2-tokenizer"):
        adapter.load("cpu")


def test_complete_weights_without_the_stack_point_to_env_create(adapter, module, offline_hub, fake_tree):
    adapter.weights = str(fake_tree(module.MODEL_FILES))
    cached(fake_tree, offline_hub, module.AUDIO_TOKENIZER_ID, module.AUDIO_TOKENIZER_FILES)
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY}"):
        adapter.load("cpu")


def test_conversation_puts_the_prompt_audio_after_its_transcript(module):
    turns = module.conversation("  the prompt\nsaid  this ", "say   that")
    assert [role for role, _ in turns] == ["system", "user", "assistant", "user"]
    assert turns[0][1].startswith("Generate audio following instruction.") and "<|scene_desc_end|>" in turns[0][1]
    assert turns[1][1] == "the prompt said this" and turns[2][1] is None and turns[3][1] == "say that"


def test_prompt_is_resampled_to_the_tokenizer_rate(module):
    prompt = module.prompt_for_model(np.zeros(16000, dtype=np.float32), 16000)
    assert prompt.dtype == np.float32 and prompt.shape == (24000,)
