"""styletts2 adapter: no stack needed to import, missing pieces named with their fix, config and checkpoint handling."""

from pathlib import Path

import numpy as np
import pytest

from rvcbench.adapters.contract import CloneRequest
from rvcbench.adapters.registry import create_adapter
from rvcbench.errors import MissingDependencyError

KEY = "styletts2"


@pytest.fixture
def full_weights(fake_tree, module):
    return fake_tree((module.CONFIG, module.CHECKPOINT))


def test_declares_what_upstream_documents(adapter):
    assert adapter.sample_rate == 24000 and adapter.batch_size == 1 and not adapter.needs_prompt_text
    assert adapter.weights_id == "yl4579/StyleTTS2-LibriTTS" and {"phonemizer", "munch"} <= set(adapter.stack_modules)
    assert adapter.languages == frozenset({"en"}) and not adapter.supports_language("zh")


def test_incomplete_weights_folder_names_the_missing_files(tmp_path, module):
    (tmp_path / "Models" / "LibriTTS").mkdir(parents=True)
    (tmp_path / module.CONFIG).write_text("model_params: {}\n")
    with pytest.raises(MissingDependencyError, match="lacks Models/LibriTTS/epochs_2nd_00020.pth"):
        create_adapter(KEY, weights=str(tmp_path)).load("cpu")


def test_missing_stack_names_env_create(full_weights, stub_stack):
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=False)
    with pytest.raises(MissingDependencyError, match="rvcbench env create styletts2"):
        adapter.load("cpu")


def test_missing_checkout_names_the_clone_and_commit(full_weights, stub_stack, monkeypatch, tmp_path, module):
    adapter = create_adapter(KEY, weights=str(full_weights))
    stub_stack(adapter, importable=True)
    monkeypatch.delenv("STYLETTS2_ROOT", raising=False)
    monkeypatch.setenv("RVCBENCH_ENVS_DIR", str(tmp_path / "envs"))  # no recorded clone either
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY} --with-upstream.*"
                                                      f"git clone --recursive {module.UPSTREAM}.*{module.COMMIT}"):
        adapter.load("cpu")


def test_config_paths_point_into_the_checkout(module):
    config = {"ASR_path": "Utils/ASR/epoch_00080.pth", "ASR_config": "Utils/ASR/config.yml",
              "F0_path": "Utils/JDC/bst.t7", "PLBERT_dir": "Utils/PLBERT/", "model_params": {"style_dim": 128}}
    resolved = module.resolve_config_paths(config, Path("/opt/StyleTTS2"))
    assert resolved["ASR_path"] == "/opt/StyleTTS2/Utils/ASR/epoch_00080.pth"
    assert resolved["PLBERT_dir"] == "/opt/StyleTTS2/Utils/PLBERT"
    assert resolved["model_params"] == {"style_dim": 128} and config["F0_path"] == "Utils/JDC/bst.t7"


def test_dataparallel_prefixes_are_stripped_once(module):
    state = {"module.conv.weight": 1, "module.module.x": 2, "bias": 3}
    assert module.strip_module_prefix(state) == {"conv.weight": 1, "module.x": 2, "bias": 3}


def test_prompt_at_24k_and_notebook_settings(module):
    prompt = module.prompt_for_model(np.zeros(16000, dtype=np.float32), 16000)
    assert prompt.dtype == np.float32 and len(prompt) == 24000
    assert module.SETTINGS == {"alpha": 0.3, "beta": 0.7, "diffusion_steps": 5, "embedding_scale": 1.0}


def stubbed(tokens: list[int]):
    """An adapter past load() whose text, style and synthesis steps are stand-ins recording their calls."""
    adapter, calls = create_adapter(KEY), []
    adapter._net = object()
    adapter._tokens = lambda text: calls.append(("tokens", text)) or tokens
    adapter._style = lambda request: "style"
    adapter._synthesize = lambda ids, style: calls.append(("synthesize", ids, style)) or np.arange(
        200, dtype=np.float32)
    return adapter, calls


def request(text: str, language: str = "en") -> CloneRequest:
    return CloneRequest("p", np.zeros(2400, dtype=np.float32), 24000, "", "en", text, language, 0)


def test_clone_trims_the_end_pulse_and_rejects_empty_text(module):
    adapter, calls = stubbed([0, 5, 6])
    out, empty = adapter.clone([request("  Hello. "), request("  ")])
    assert out.shape == (200 - module.TAIL_TRIM,) and out[-1] == 200 - module.TAIL_TRIM - 1
    assert "empty target" in empty.reason
    assert calls == [("tokens", "Hello."), ("synthesize", [0, 5, 6], "style")]


def test_a_target_past_plbert_positions_fails_before_the_model_runs(module):
    assert module.too_long(512, 512) is None and module.PLBERT_POSITIONS == 512
    adapter, calls = stubbed([0] * 513)
    good = stubbed([0, 1])[0]
    (failure,) = adapter.clone([request("a long text")])
    assert failure.reason == ("target text too long for StyleTTS 2: 513 phoneme tokens, PL-BERT takes at most 512")
    assert calls == [("tokens", "a long text")] and good.clone([request("short")])[0].size == 150


def test_an_undeclared_language_is_a_failure_beside_a_good_item():
    adapter, calls = stubbed([0, 1])
    failure, made = adapter.clone([request("Hallo.", language="de"), request("Hello.")])
    assert failure.reason == "unsupported language: de" and made.size == 150 and len(calls) == 2
