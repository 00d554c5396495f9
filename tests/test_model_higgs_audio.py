"""higgs_audio adapter: imports without its stack, fails with the fixing command, builds upstream's clone chat."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

from rvcbench.adapters.registry import create_adapter
from rvcbench.errors import MissingDependencyError

KEY = "higgs_audio"
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


def cached(hub: Path, repo_id: str, files: tuple[str, ...]) -> None:
    """Put `files` in the Hugging Face cache layout, as `huggingface-cli download` would."""
    folder, commit = hub / f"models--{repo_id.replace('/', '--')}", "0" * 40
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    for name in files:
        (folder / "snapshots" / commit / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "snapshots" / commit / name).write_bytes(b"x")


def folder_with(tmp_path: Path, files: tuple[str, ...]) -> Path:
    folder = tmp_path / "weights"
    folder.mkdir()
    for name in files:
        (folder / name).write_bytes(b"x")
    return folder


def test_adapter_module_imports_only_numpy_and_rvcbench_at_top_level(adapter):
    tree = ast.parse(ADAPTER_FILE.read_text())
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    top |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert top <= {"__future__", "typing", "numpy", "rvcbench"}
    assert "boson_multimodal" not in sys.modules


def test_declares_what_upstream_documents(adapter):
    assert adapter.name == KEY and adapter.sample_rate == 24000 and adapter.batch_size == 1
    assert adapter.needs_prompt_text and adapter.weights_id == "bosonai/higgs-audio-v2-generation-3B-base"
    assert adapter.supports_language("en") and adapter.supports_language("zh") and not adapter.supports_language("fr")
    assert all(len(code) == 2 for code in adapter.languages) and adapter.license and adapter.requirements
    assert "boson_multimodal" in adapter.stack_modules


def test_missing_weights_name_the_download_command(adapter, hub):
    with pytest.raises(MissingDependencyError, match="huggingface-cli download bosonai/higgs-audio-v2-generation-3B"):
        adapter.load("cpu")


def test_incomplete_weights_folder_names_the_missing_files(adapter, hub, tmp_path):
    adapter.weights = str(folder_with(tmp_path, ("config.json",)))
    with pytest.raises(MissingDependencyError, match="lacks tokenizer_config.json"):
        adapter.load("cpu")


def test_missing_audio_tokenizer_names_its_download_command(adapter, module, hub, tmp_path):
    adapter.weights = str(folder_with(tmp_path, module.MODEL_FILES))
    with pytest.raises(MissingDependencyError, match="huggingface-cli download bosonai/higgs-audio-v2-tokenizer"):
        adapter.load("cpu")


def test_complete_weights_without_the_stack_point_to_env_create(adapter, module, hub, tmp_path):
    adapter.weights = str(folder_with(tmp_path, module.MODEL_FILES))
    cached(hub, module.AUDIO_TOKENIZER_ID, module.AUDIO_TOKENIZER_FILES)
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY}"):
        adapter.load("cpu")


def test_clone_before_load_is_an_error(adapter):
    with pytest.raises(RuntimeError, match="before load"):
        adapter.clone([])


def test_conversation_puts_the_prompt_audio_after_its_transcript(module):
    turns = module.conversation("  the prompt\nsaid  this ", "say   that")
    assert [role for role, _ in turns] == ["system", "user", "assistant", "user"]
    assert turns[0][1].startswith("Generate audio following instruction.") and "<|scene_desc_end|>" in turns[0][1]
    assert turns[1][1] == "the prompt said this" and turns[2][1] is None and turns[3][1] == "say that"


def test_prompt_is_resampled_to_the_tokenizer_rate(module):
    prompt = module.prompt_for_model(np.zeros(16000, dtype=np.float32), 16000)
    assert prompt.dtype == np.float32 and prompt.shape == (24000,)
