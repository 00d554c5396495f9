"""vibevoice adapter: imports without its stack, fails with the fixing command, builds upstream's scripts."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from rvcbench.adapters.registry import create_adapter
from rvcbench.errors import MissingDependencyError

KEY = "vibevoice"
ADAPTER_FILE = Path(__file__).resolve().parents[1] / "models" / KEY / "adapter.py"


@pytest.fixture
def adapter():
    return create_adapter(KEY)


@pytest.fixture
def module(adapter):
    return sys.modules[type(adapter).__module__]


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    """An empty, offline Hugging Face cache (the constants too: huggingface_hub reads the env once, on import)."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return tmp_path / "hub"


def weights_folder(tmp_path: Path, tokenizer: str | None) -> Path:
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    config = {"language_model_pretrained_name": tokenizer} if tokenizer else {}
    (folder / "preprocessor_config.json").write_text(json.dumps(config))
    return folder


def test_adapter_module_imports_only_numpy_and_rvcbench_at_top_level(adapter):
    tree = ast.parse(ADAPTER_FILE.read_text())
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    top |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert top <= {"__future__", "typing", "pathlib", "json", "importlib", "numpy", "rvcbench"}
    assert "vibevoice" not in sys.modules


def test_declares_what_upstream_documents(adapter):
    assert adapter.name == KEY and adapter.sample_rate == 24000 and adapter.batch_size > 1
    assert not adapter.needs_prompt_text and adapter.weights_id == "microsoft/VibeVoice-1.5B"
    assert adapter.languages == {"en", "zh"} and not adapter.supports_language("de")
    assert adapter.license == "MIT" and adapter.requirements and "vibevoice" in adapter.stack_modules


def test_missing_weights_name_the_download_command(adapter, hub):
    with pytest.raises(MissingDependencyError, match="huggingface-cli download microsoft/VibeVoice-1.5B"):
        adapter.load("cpu")


def test_incomplete_weights_folder_names_the_missing_files(adapter, hub, tmp_path):
    folder = weights_folder(tmp_path, None)
    (folder / "preprocessor_config.json").unlink()
    adapter.weights = str(folder)
    with pytest.raises(MissingDependencyError, match="lacks preprocessor_config.json"):
        adapter.load("cpu")


def test_missing_text_tokenizer_names_its_download_command(adapter, hub, tmp_path):
    adapter.weights = str(weights_folder(tmp_path, None))
    with pytest.raises(MissingDependencyError, match="huggingface-cli download Qwen/Qwen2.5-1.5B"):
        adapter.load("cpu")


def test_complete_weights_without_the_stack_point_to_env_create(adapter, hub, tmp_path):
    tokenizer = tmp_path / "qwen"
    tokenizer.mkdir()
    for name in ("tokenizer_config.json", "tokenizer.json"):
        (tokenizer / name).write_text("{}")
    adapter.weights = str(weights_folder(tmp_path, str(tokenizer)))
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY}"):
        adapter.load("cpu")


def test_clone_before_load_is_an_error(adapter):
    with pytest.raises(RuntimeError, match="before load"):
        adapter.clone([])


def test_script_is_one_speaker_1_line_with_straight_apostrophes(module):
    assert module.script("It\u2019s  a\nlong   day.") == "Speaker 1: It's a long day."


def test_voice_sample_is_resampled_to_24k(module):
    sample = module.prompt_for_model(np.zeros(22050, dtype=np.float32), 22050)
    assert sample.shape == (24000,) and sample.dtype == np.float32


def test_text_tokenizer_comes_from_the_checkpoint_config(module):
    assert module.text_tokenizer_id({"language_model_pretrained_name": "org/tok"}) == "org/tok"
    assert module.text_tokenizer_id({}) == "Qwen/Qwen2.5-1.5B"


def test_attention_is_flash_only_on_cuda_with_flash_attn(module):
    assert module.attention_for("cuda:0", True) == "flash_attention_2"
    assert module.attention_for("cuda", False) == "sdpa" and module.attention_for("cpu", True) == "sdpa"


def test_an_item_that_never_reached_eos_ran_away_even_unflagged(module):
    # upstream leaves the longest item of a batch (and a single item) unflagged when it runs out of steps
    assert module.ran_away(False, [7, 7, 7], eos_id=2)
    assert module.ran_away(True, [7, 2, 2], eos_id=2)
    assert not module.ran_away(False, [7, 7, 8, 2], eos_id=2)
