"""playdiffusion adapter: imports without its stack, fails with the fixing command, reads weights locally."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rvcbench.errors import MissingDependencyError

KEY = "playdiffusion"
UPSTREAM_FILES = ("v090_g_01105000", "tokenizer-multi_bpe16384_merged_extended_58M.json", "xlsr2_1b_v2_custom.pt",
                  "kmeans_10k.npy", "voice_encoder_1992000.pt", "last_250k_fixed.pkl")  # inference.py load_preset


def test_declares_what_upstream_documents(adapter):
    assert adapter.batch_size == 1 and not adapter.needs_prompt_text and adapter.sample_rate > 16000
    assert adapter.weights_id == "PlayHT/inpainter" and "playdiffusion" in adapter.stack_modules
    assert adapter.languages == {"en"} and not adapter.supports_language("zh")


def test_incomplete_weights_folder_names_the_missing_files(adapter, offline_hub, fake_tree):
    adapter.weights = str(fake_tree(UPSTREAM_FILES[:4]))
    with pytest.raises(MissingDependencyError, match="lacks voice_encoder_1992000.pt, last_250k_fixed.pkl"):
        adapter.load("cpu")


def test_complete_weights_without_the_stack_point_to_env_create(adapter, offline_hub, fake_tree):
    adapter.weights = str(fake_tree(UPSTREAM_FILES))
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY}"):
        adapter.load("cpu")


def test_preset_points_every_model_part_at_the_local_folder(module, tmp_path):
    preset = module.preset(tmp_path)
    assert set(preset) == {"vocoder", "tokenizer", "speech_tokenizer", "voice_encoder", "inpainter"}
    paths = [value for part in preset.values() for key, value in part.items() if key != "sample_rate"]
    assert {Path(p).name for p in paths} == set(UPSTREAM_FILES) and all(Path(p).parent == tmp_path for p in paths)
    assert preset["speech_tokenizer"]["sample_rate"] == 16000  # the XLS-R tokenizer's input rate
    assert preset["vocoder"]["kmeans_layer_checkpoint"] == preset["speech_tokenizer"]["kmeans_layer_checkpoint"]


def test_preset_is_fresh_each_time(module, tmp_path):
    first = module.preset(tmp_path)
    first["speech_tokenizer"].pop("sample_rate")  # upstream's model manager pops it
    assert module.preset(tmp_path)["speech_tokenizer"]["sample_rate"] == 16000


def test_pcm16_comes_back_as_float_in_range(module):
    pcm = np.array([-32768, 0, 16384, 32767], dtype=np.int16)
    wave = module.pcm16_to_float(pcm)
    assert wave.dtype == np.float32 and wave[0] == -1.0 and wave[1] == 0.0 and wave[2] == 0.5 and wave[3] < 1.0
