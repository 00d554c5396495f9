"""mgm_omni adapter: imports without its stack, fails with the fixing command, builds cli_tts.py's inputs."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

from rvcbench.adapters.registry import create_adapter
from rvcbench.errors import MissingDependencyError

KEY = "mgm_omni"
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


def tree_with(root: Path, files: tuple[str, ...]) -> Path:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    return root


def test_adapter_module_imports_only_numpy_and_rvcbench_at_top_level(adapter):
    tree = ast.parse(ADAPTER_FILE.read_text())
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    top |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert top <= {"__future__", "typing", "numpy", "rvcbench"}
    assert "mgm" not in sys.modules


def test_declares_what_upstream_documents(adapter):
    assert adapter.name == KEY and adapter.sample_rate == 24000 and adapter.batch_size == 1
    assert adapter.needs_prompt_text and adapter.weights_id == "wcy1122/MGM-Omni-TTS-2B-0927"
    assert adapter.languages == {"en", "zh"} and not adapter.supports_language("ja")
    assert adapter.license and adapter.requirements and "mgm" in adapter.stack_modules


def test_missing_weights_name_the_download_command(adapter, hub):
    with pytest.raises(MissingDependencyError, match="huggingface-cli download wcy1122/MGM-Omni-TTS-2B-0927"):
        adapter.load("cpu")


def test_incomplete_weights_folder_names_the_missing_files(adapter, hub, tmp_path):
    adapter.weights = str(tree_with(tmp_path / "w", ("config.json", "cosyvoice2/flow.pt")))
    with pytest.raises(MissingDependencyError, match="lacks cosyvoice2/cosyvoice2.yaml, cosyvoice2/hift.pt"):
        adapter.load("cpu")


def test_missing_checkout_names_the_clone_command(adapter, module, tmp_path, monkeypatch):
    monkeypatch.delenv("MGM_OMNI_ROOT", raising=False)
    adapter.weights = str(tree_with(tmp_path / "w", module.REQUIRED_FILES))
    with pytest.raises(MissingDependencyError, match="git clone --recursive https://github.com/dvlab-research/MGM"):
        adapter.load("cpu")


def test_complete_weights_and_checkout_without_the_stack_point_to_env_create(adapter, module, tmp_path,
                                                                            monkeypatch):
    adapter.weights = str(tree_with(tmp_path / "w", module.REQUIRED_FILES))
    clone = tree_with(tmp_path / "clone", ("mgm/model/language_model/mgm_tts.py",))
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
