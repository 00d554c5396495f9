"""moss_ttsd adapter: imports without its stack, fails with the fixing command, builds upstream's batch items."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

from rvcbench.adapters.registry import create_adapter
from rvcbench.errors import MissingDependencyError

KEY = "moss_ttsd"
ADAPTER_FILE = Path(__file__).resolve().parents[1] / "models" / KEY / "adapter.py"
MODEL_FILES = ("config.json", "tokenizer_config.json")


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


def tree_with(root: Path, files: tuple[str, ...]) -> Path:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    return root


def test_adapter_module_imports_only_numpy_and_rvcbench_at_top_level(adapter):
    tree = ast.parse(ADAPTER_FILE.read_text())
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    top |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert top <= {"__future__", "typing", "pathlib", "numpy", "rvcbench"}
    assert "generation_utils" not in sys.modules


def test_declares_what_upstream_documents(adapter):
    assert adapter.name == KEY and adapter.sample_rate == 32000 and adapter.batch_size > 1
    assert adapter.needs_prompt_text and adapter.weights_id == "fnlp/MOSS-TTSD-v0.7"
    assert adapter.languages == {"en", "zh"} and not adapter.supports_language("fr")
    assert adapter.license and adapter.requirements and "generation_utils" in adapter.stack_modules


def test_missing_weights_name_the_download_command(adapter, hub):
    with pytest.raises(MissingDependencyError, match="huggingface-cli download fnlp/MOSS-TTSD-v0.7"):
        adapter.load("cpu")


def test_incomplete_weights_folder_names_the_missing_files(adapter, hub, tmp_path):
    adapter.weights = str(tree_with(tmp_path / "w", ("config.json",)))
    with pytest.raises(MissingDependencyError, match="lacks tokenizer_config.json"):
        adapter.load("cpu")


def test_missing_checkout_names_the_clone_command_and_tag(adapter, hub, tmp_path, monkeypatch):
    monkeypatch.delenv("MOSS_TTSD_ROOT", raising=False)
    adapter.weights = str(tree_with(tmp_path / "w", MODEL_FILES))
    with pytest.raises(MissingDependencyError, match=r"OpenMOSS/MOSS-TTSD.git DIR && git -C DIR checkout v0.7"):
        adapter.load("cpu")


def test_missing_codec_names_its_download_command(adapter, hub, tmp_path, monkeypatch):
    adapter.weights = str(tree_with(tmp_path / "w", MODEL_FILES))
    monkeypatch.setenv("MOSS_TTSD_ROOT", str(tree_with(tmp_path / "clone", ("modeling_asteroid.py",))))
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(MissingDependencyError, match="huggingface-cli download fnlp/MOSS_TTSD_tokenizer"):
        adapter.load("cpu")


def test_complete_weights_and_checkout_without_the_stack_point_to_env_create(adapter, hub, tmp_path, monkeypatch):
    adapter.weights = str(tree_with(tmp_path / "w", MODEL_FILES))
    clone = tree_with(tmp_path / "clone", ("modeling_asteroid.py", "XY_Tokenizer/weights/MOSS_TTSD_tokenizer"))
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
