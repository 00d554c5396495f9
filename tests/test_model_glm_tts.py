"""glm_tts adapter: no stack needed to import, missing pieces named with their fix, upstream's working directory."""

import importlib.util
import os
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile

from rvcbench.adapters.contract import CloneFailure, CloneRequest
from rvcbench.adapters.registry import create_adapter
from rvcbench.errors import MissingDependencyError

KEY = "glm_tts"


def test_declares_what_upstream_documents(adapter):
    assert adapter.sample_rate == 24000 and adapter.batch_size == 1 and adapter.needs_prompt_text
    assert adapter.weights_id == "zai-org/GLM-TTS" and "hyperpyyaml" in adapter.stack_modules
    assert adapter.languages == frozenset({"zh", "en"}) and not adapter.supports_language("ja")
    assert adapter.version == "2"


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


def fake_checkout(root: Path) -> Path:
    for folder in (root / "frontend", root / "configs"):
        folder.mkdir(parents=True)
    (root / "glmtts_inference.py").write_text("")  # the marker; the module itself is the fake below
    (root / "configs" / "custom_replace.jsonl").write_text("{}\n")
    return root


def test_workdir_links_ckpt_to_the_weights_and_is_removed_without_touching_them(tmp_path, module):
    checkout, weights = fake_checkout(tmp_path / "GLM-TTS"), tmp_path / "weights"
    (weights / "llm").mkdir(parents=True)
    links = module.workdir_links(checkout, weights)
    assert links == {"ckpt": weights, "frontend": checkout / "frontend", "configs": checkout / "configs"}
    workdir = module.make_workdir(checkout, weights)
    root = Path(workdir.name)
    assert (root / "ckpt" / "llm").is_dir() and (root / "ckpt").is_symlink()
    assert (root / "configs" / "custom_replace.jsonl").read_text() == "{}\n"
    workdir.cleanup()
    assert not root.exists()
    assert (weights / "llm").is_dir() and (checkout / "configs" / "custom_replace.jsonl").exists()


def test_inside_restores_the_working_directory_after_errors(tmp_path, module):
    before = os.getcwd()
    with pytest.raises(ValueError), module.inside(tmp_path):
        assert os.getcwd() == str(tmp_path.resolve())
        raise ValueError("upstream failed")
    assert os.getcwd() == before


def test_prompt_is_resampled_to_24k(module):
    prompt = module.prompt_for_model(np.zeros(16000, dtype=np.float32), 16000)
    assert prompt.dtype == np.float32 and len(prompt) == 24000


class FakeUpstream:
    """Stands in for glmtts_inference: records where and how it was called."""

    DEVICE = "cpu"

    def __init__(self, torch):
        self.torch, self.calls, self.cwd = torch, [], {}
        self.frontend = types.SimpleNamespace(
            _extract_speech_token=self._speech_token, _extract_speech_feat=self._speech_feat,
            _extract_spk_embedding=lambda path: "embedding", _extract_text_token=lambda text: ("tokens", text))
        self.text_frontend = types.SimpleNamespace(text_normalize=lambda text: f"tn({text})")

    def _speech_token(self, paths):
        self.prompt_rate = soundfile.info(paths[0]).samplerate
        return self.torch.tensor([[5, 6, 7]])

    def _speech_feat(self, path, sample_rate):
        self.feat_rate = sample_rate
        return "feat"

    def load_models(self, **kwargs):
        self.cwd["load"], self.load_kwargs = os.getcwd(), kwargs
        return self.frontend, self.text_frontend, "speech_tokenizer", "llm", "flow"

    def generate_long(self, **kwargs):
        self.cwd["clone"] = os.getcwd()
        self.calls.append(kwargs)
        return self.torch.zeros(1, 480), None, [1, 2], {}


@pytest.fixture
def loaded(tmp_path, monkeypatch, module, full_weights):
    """The adapter loaded on fake weights, a fake checkout and a fake glmtts_inference (torch is the real one)."""
    import torch

    adapter = create_adapter(KEY, weights=str(full_weights))
    for name in adapter.stack_modules:  # the packages this environment lacks import as empty stand-ins
        if importlib.util.find_spec(name) is None:
            monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("GLMTTS_ROOT", str(fake_checkout(tmp_path / "GLM-TTS")))
    upstream = FakeUpstream(torch)
    monkeypatch.setitem(sys.modules, "glmtts_inference", upstream)
    adapter.load("cpu")
    return adapter, upstream


def request(pair_id="p", prompt_text="Hello there.", target_text="Good morning.", language="en", seed=7):
    return CloneRequest(pair_id, np.zeros(1600, dtype=np.float32), 16000, prompt_text, "en", target_text, language,
                        seed)


def test_load_runs_upstream_inside_the_links_and_clone_calls_generate_long_as_jsonl_generate(loaded, full_weights):
    adapter, upstream = loaded
    before = os.getcwd()
    workdir = Path(adapter._workdir.name)
    assert upstream.load_kwargs == {"use_phoneme": False, "sample_rate": 24000}
    assert upstream.cwd["load"] == str(workdir.resolve()) and (workdir / "ckpt").resolve() == full_weights.resolve()
    out = adapter.clone([request()])
    assert os.getcwd() == before and upstream.cwd["clone"] == str(workdir.resolve())
    assert out[0].dtype == np.float32 and out[0].shape == (480,)
    assert upstream.prompt_rate == 24000 and upstream.feat_rate == 24000
    call = upstream.calls[0]
    flow_prompt = call.pop("flow_prompt_token")
    assert flow_prompt.tolist() == [[5, 6, 7]] and str(flow_prompt.dtype) == "torch.int32"
    assert call == {
        "frontend": upstream.frontend, "text_frontend": upstream.text_frontend, "llm": "llm", "flow": "flow",
        "text_info": ["p", "tn(Good morning.)"], "embedding": "embedding", "seed": 7, "sample_method": "ras",
        "speech_feat": "feat", "device": "cpu", "use_phoneme": False,
        "cache": {"cache_text": ["tn(Hello there.)"], "cache_text_token": [("tokens", "tn(Hello there.) ")],
                  "cache_speech_token": [[5, 6, 7]], "use_cache": True}}


def test_the_working_directory_is_a_temporary_directory_the_adapter_holds(loaded, full_weights):
    adapter, _ = loaded
    assert isinstance(adapter._workdir, tempfile.TemporaryDirectory)  # removed when collected or at exit
    workdir = Path(adapter._workdir.name)
    adapter._workdir.cleanup()
    assert not workdir.exists() and (full_weights / "flow" / "flow.pt").exists()


def test_refusals_are_per_item_and_reach_upstream_only_for_the_good_one(loaded):
    adapter, upstream = loaded
    out = adapter.clone([request("bad-lang", language="fi"), request("good"),
                         request("no-prompt-text", prompt_text=" "), request("no-target", target_text=" ")])
    assert [type(item) for item in out] == [CloneFailure, np.ndarray, CloneFailure, CloneFailure]
    assert out[0].reason == "unsupported language: fi"
    assert "empty prompt transcript" in out[2].reason and out[3].reason == "empty target text"
    assert [call["text_info"][0] for call in upstream.calls] == ["good"]


def test_no_speech_tokens_is_a_failure(loaded, monkeypatch):
    adapter, upstream = loaded
    monkeypatch.setattr(upstream, "generate_long", lambda **kwargs: (upstream.torch.zeros(1, 0), None, [], {}))
    assert adapter.clone([request()])[0] == CloneFailure("GLM-TTS generated no speech tokens")
