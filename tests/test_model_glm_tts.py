"""glm_tts adapter: no stack needed to import, missing pieces named with their fix, upstream's working directory."""

import os

import numpy as np
import pytest

from rvcbench.adapters.contract import CloneRequest
from rvcbench.adapters.registry import create_adapter
from rvcbench.errors import MissingDependencyError

KEY = "glm_tts"


def test_declares_what_upstream_documents(adapter):
    assert adapter.sample_rate == 24000 and adapter.batch_size == 1 and adapter.needs_prompt_text
    assert adapter.weights_id == "zai-org/GLM-TTS" and "hyperpyyaml" in adapter.stack_modules
    assert adapter.languages == frozenset({"zh", "en"}) and not adapter.supports_language("ja")


def test_incomplete_weights_folder_names_the_missing_files(tmp_path):
    (tmp_path / "flow").mkdir()
    (tmp_path / "flow" / "flow.pt").write_bytes(b"x")
    with pytest.raises(MissingDependencyError, match="lacks speech_tokenizer/config.json") as err:
        create_adapter(KEY, weights=str(tmp_path)).load("cpu")
    assert "hift/hift.pt" in str(err.value) and "flow/flow.pt" not in str(err.value)


def test_missing_stack_names_env_create(full_weights, stub_stack):
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=False)
    with pytest.raises(MissingDependencyError, match="rvcbench env create glm_tts"):
        adapter.load("cpu")


def test_missing_checkout_names_the_clone_and_commit(full_weights, stub_stack, monkeypatch, module):
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=True)
    monkeypatch.setenv("GLMTTS_ROOT", str(full_weights))  # a folder that is not the checkout
    with pytest.raises(MissingDependencyError, match=f"no glmtts_inference.py.*{module.COMMIT}"):
        adapter.load("cpu")


def test_workdir_points_ckpt_at_the_weights_and_the_rest_at_the_checkout(tmp_path, module):
    checkout, weights = tmp_path / "GLM-TTS", tmp_path / "weights"
    for folder in (checkout / "frontend", checkout / "configs", weights / "llm"):
        folder.mkdir(parents=True)
    (checkout / "configs" / "custom_replace.jsonl").write_text("{}\n")
    links = module.workdir_links(checkout, weights)
    assert links == {"ckpt": weights, "frontend": checkout / "frontend", "configs": checkout / "configs"}
    workdir = module.make_workdir(checkout, weights)
    try:
        assert (workdir / "ckpt" / "llm").is_dir()
        assert (workdir / "configs" / "custom_replace.jsonl").read_text() == "{}\n"
    finally:
        for name in links:
            (workdir / name).unlink()
        workdir.rmdir()


def test_inside_restores_the_working_directory_after_errors(tmp_path, module):
    before = os.getcwd()
    with pytest.raises(ValueError), module.inside(tmp_path):
        assert os.getcwd() == str(tmp_path.resolve())
        raise ValueError("upstream failed")
    assert os.getcwd() == before


def test_prompt_is_resampled_to_24k_and_empty_transcripts_fail(module):
    prompt = module.prompt_for_model(np.zeros(16000, dtype=np.float32), 16000)
    assert prompt.dtype == np.float32 and len(prompt) == 24000
    adapter = create_adapter(KEY)
    adapter._parts = ("frontend", "text", "llm", "flow")  # reached only after the input checks
    adapter._workdir = os.getcwd()
    audio = np.zeros(1600, dtype=np.float32)
    no_text = CloneRequest("p", audio, 16000, "", "zh", "你好", "zh", 0)
    no_target = CloneRequest("p", audio, 16000, "你好", "zh", " ", "zh", 0)
    assert "transcript" in adapter.clone([no_text])[0].reason
    assert "empty target" in adapter.clone([no_target])[0].reason
