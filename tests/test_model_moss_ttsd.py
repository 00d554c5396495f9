"""moss_ttsd adapter: imports without its stack, fails with the fixing command, builds upstream's batch items."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rvcbench.errors import MissingDependencyError

KEY = "moss_ttsd"
MODEL_FILES = ("config.json", "tokenizer_config.json")


def test_declares_what_upstream_documents(adapter):
    assert adapter.sample_rate == 32000 and adapter.batch_size > 1 and adapter.needs_prompt_text
    assert adapter.weights_id == "fnlp/MOSS-TTSD-v0.7" and "generation_utils" in adapter.stack_modules
    assert adapter.languages == {"en", "zh"} and not adapter.supports_language("fr")


def test_incomplete_weights_folder_names_the_missing_files(adapter, offline_hub, fake_tree):
    adapter.weights = str(fake_tree(("config.json",)))
    with pytest.raises(MissingDependencyError, match="lacks tokenizer_config.json"):
        adapter.load("cpu")


def test_missing_checkout_names_the_clone_command_and_tag(adapter, offline_hub, fake_tree, monkeypatch):
    monkeypatch.delenv("MOSS_TTSD_ROOT", raising=False)
    adapter.weights = str(fake_tree(MODEL_FILES))
    with pytest.raises(MissingDependencyError, match=r"OpenMOSS/MOSS-TTSD.git DIR && git -C DIR checkout v0.7"):
        adapter.load("cpu")


def test_missing_codec_names_its_download_command(adapter, offline_hub, fake_tree, monkeypatch):
    adapter.weights = str(fake_tree(MODEL_FILES))
    monkeypatch.setenv("MOSS_TTSD_ROOT", str(fake_tree(("modeling_asteroid.py",), "clone")))
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(MissingDependencyError, match="huggingface-cli download fnlp/MOSS_TTSD_tokenizer"):
        adapter.load("cpu")


def test_complete_weights_and_checkout_without_the_stack_point_to_env_create(adapter, offline_hub, fake_tree,
                                                                            monkeypatch):
    adapter.weights = str(fake_tree(MODEL_FILES))
    clone = fake_tree(("modeling_asteroid.py", "XY_Tokenizer/weights/MOSS_TTSD_tokenizer"), "clone")
    monkeypatch.setenv("MOSS_TTSD_ROOT", str(clone))
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY}"):
        adapter.load("cpu")


def test_batch_item_is_upstream_format_2_with_the_prompt_as_speaker_1(module):
    audio = np.ones(8000, dtype=np.float64)
    item = module.batch_item(audio, 8000, "  prompt words\nhere ", "target  text")
    assert item["text"] == "[S1]target text" and item["prompt_text"] == "[S1]prompt words here"
    wav, rate = item["prompt_audio"]
    assert wav.shape == (1, 8000) and wav.dtype == np.float32 and rate == 8000  # (channels, samples), as torchaudio


def test_prompt_plus_target_reads_as_one_speaker_1_script(module):
    item = module.batch_item(np.zeros(10, dtype=np.float32), 16000, "第一句。", "第二句。")
    assert (item["prompt_text"] + item["text"]).count("[S1]") == 2 and "[S2]" not in item["prompt_text"]
