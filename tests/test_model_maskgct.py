"""maskgct adapter: no stack needed to import, missing pieces named with their fix, upstream's glue and call."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from rvcbench.adapters.contract import CloneFailure, CloneRequest
from rvcbench.audio import load_audio
from rvcbench.errors import MissingDependencyError

KEY = "maskgct"


def request(**changes) -> CloneRequest:
    fields = dict(pair_id="p", prompt_audio=np.zeros(44100, dtype=np.float32), prompt_sample_rate=44100,
                  prompt_text="We do not break.", prompt_language="en", target_text="Hello there.",
                  target_language="en", seed=3)
    return CloneRequest(**{**fields, **changes})


@pytest.fixture
def semantic_folder(fake_tree, module, monkeypatch) -> Path:
    """A complete local w2v-BERT folder standing for the Hub id (resolve_weights takes a path as a folder)."""
    folder = fake_tree(module.SEMANTIC_MODEL_FILES, "w2v")
    monkeypatch.setattr(module, "SEMANTIC_MODEL_ID", str(folder))
    return folder


def test_declares_what_upstream_documents(adapter, module):
    assert adapter.sample_rate == 24000 and adapter.batch_size == 1 and adapter.needs_prompt_text
    assert adapter.weights_id == "amphion/MaskGCT" and adapter.extra_weights == ("facebook/w2v-bert-2.0",)
    assert adapter.languages == {"zh", "en", "ja", "ko", "fr", "de"} and not adapter.supports_language("es")
    assert adapter.checkout.commit == module.COMMIT and adapter.checkout.marker == "models/tts/maskgct/maskgct_utils.py"
    assert adapter.checkout.import_paths == ("",) and adapter.license == "CC-BY-NC-4.0"
    assert set(module.WEIGHT_FILES) == {"semantic_codec/model.safetensors", "acoustic_codec/model.safetensors",
                                        "acoustic_codec/model_1.safetensors", "t2s_model/model.safetensors",
                                        "s2a_model/s2a_model_1layer/model.safetensors",
                                        "s2a_model/s2a_model_full/model.safetensors"}


def test_missing_weights_name_the_download_command(adapter, offline_hub):
    with pytest.raises(MissingDependencyError, match="huggingface-cli download amphion/MaskGCT"):
        adapter.load("cpu")


def test_incomplete_weights_folder_names_the_missing_files(adapter, fake_tree):
    adapter.weights = str(fake_tree(("semantic_codec/model.safetensors", "acoustic_codec/model.safetensors")))
    with pytest.raises(MissingDependencyError, match="lacks acoustic_codec/model_1.safetensors, t2s_model/model"):
        adapter.load("cpu")


def test_missing_w2v_bert_names_its_download_command(adapter, full_weights, offline_hub):
    adapter.weights = str(full_weights)
    with pytest.raises(MissingDependencyError, match="huggingface-cli download facebook/w2v-bert-2.0"):
        adapter.load("cpu")


def test_missing_stack_names_env_create(adapter, full_weights, semantic_folder, stub_stack):
    adapter.weights = str(full_weights)
    stub_stack(adapter, importable=False)
    with pytest.raises(MissingDependencyError, match="rvcbench env create maskgct"):
        adapter.load("cpu")


def test_missing_checkout_names_the_clone_and_commit(adapter, module, full_weights, semantic_folder, stub_stack,
                                                     monkeypatch):
    adapter.weights = str(full_weights)
    stub_stack(adapter, importable=True)
    monkeypatch.delenv("MASKGCT_ROOT", raising=False)
    monkeypatch.setattr("rvcbench.model_envs.recorded_env", lambda model: None)
    with pytest.raises(MissingDependencyError, match=f"git clone --recursive {module.UPSTREAM}.*{module.COMMIT}"):
        adapter.load("cpu")


def test_request_problems_are_per_item_reasons(adapter, module):
    from rvcbench.adapters.support import refusal

    languages = adapter.languages
    assert refusal(adapter, request()) is None and module.prompt_language_problem(request(), languages) is None
    assert refusal(adapter, request(target_language="es")).reason == "unsupported language: es"
    assert "unsupported prompt language: pt" == module.prompt_language_problem(request(prompt_language="pt"), languages)
    assert refusal(adapter, request(target_text="  ")).reason == "empty target text"
    assert "empty prompt transcript" in refusal(adapter, request(prompt_text="")).reason


def test_settings_are_upstream_defaults_with_its_duration_rule(module):
    settings = module.inference_settings()
    assert settings == {"target_len": None, "n_timesteps": 25, "cfg": 2.5, "rescale_cfg": 0.75,
                        "n_timesteps_s2a": [25, 10] + [1] * 10, "cfg_s2a": 2.5, "rescale_cfg_s2a": 0.75}
    settings["n_timesteps_s2a"].append(9)  # a fresh list each call: upstream's list default is never shared
    assert len(module.inference_settings()["n_timesteps_s2a"]) == 12


class FakeModel:
    def __init__(self, name: str) -> None:
        self.name = name


def fake_upstream(calls: list) -> types.ModuleType:
    """Stands in for models.tts.maskgct.maskgct_utils: records what load() builds, loads and passes on."""
    utils = types.ModuleType("models.tts.maskgct.maskgct_utils")

    class Loadable:
        def __init__(self, name):
            self.name = name

        def from_pretrained(self, path, *args, **kwargs):
            calls.append(("from_pretrained", self.name, path))
            return FakeModel(self.name)

    utils.Wav2Vec2BertModel = Loadable("w2v")
    utils.SeamlessM4TFeatureExtractor = Loadable("features")

    class Config(types.SimpleNamespace):
        pass

    def load_config(path):
        calls.append(("load_config", path, os.getcwd()))
        s2a = Config(s2a_1layer="s2a_1layer cfg", s2a_full="s2a_full cfg")
        return Config(model=Config(semantic_codec="semantic cfg", acoustic_codec="acoustic cfg",
                                   t2s_model="t2s cfg", s2a_model=s2a))

    def build_semantic_model(device):
        model = utils.Wav2Vec2BertModel.from_pretrained("facebook/w2v-bert-2.0")
        return model, "mean", "std"

    utils.load_config = load_config
    utils.build_semantic_model = build_semantic_model
    utils.build_semantic_codec = lambda cfg, device: FakeModel(f"codec({cfg})")
    utils.build_acoustic_codec = lambda cfg, device: (FakeModel(f"encoder({cfg})"), FakeModel(f"decoder({cfg})"))
    utils.build_t2s_model = lambda cfg, device: FakeModel(f"t2s({cfg})")
    utils.build_s2a_model = lambda cfg, device: FakeModel(f"s2a({cfg})")

    class Pipeline:
        def __init__(self, *parts):
            self.parts = parts
            self.processor = utils.SeamlessM4TFeatureExtractor.from_pretrained("facebook/w2v-bert-2.0")

    utils.MaskGCT_Inference_Pipeline = Pipeline
    return utils


def test_load_runs_upstreams_builders_from_the_clone_with_local_w2v_bert(adapter, module, full_weights, fake_tree,
                                                                          stub_stack, monkeypatch):
    calls: list = []
    semantic = fake_tree(module.SEMANTIC_MODEL_FILES, "w2v")
    weights_store = types.SimpleNamespace(stored=lambda repo_id: types.SimpleNamespace(path=semantic)
                                          if repo_id == "facebook/w2v-bert-2.0" else None)
    monkeypatch.setattr("rvcbench.adapters.support.weights_store", weights_store)
    clone = fake_tree(("models/tts/maskgct/maskgct_utils.py",), "amphion")
    monkeypatch.setenv("MASKGCT_ROOT", str(clone))
    adapter.weights = str(full_weights)
    stub_stack(adapter, importable=True)
    monkeypatch.setattr(sys.modules["torch"], "device", lambda name: f"device({name})", raising=False)
    safetensors_torch = types.ModuleType("safetensors.torch")
    safetensors_torch.load_file = lambda path, device: {"file": path, "device": device}
    monkeypatch.setattr(FakeModel, "load_state_dict",
                        lambda self, state, strict: calls.append(("load_model", self.name, state["file"], strict)),
                        raising=False)
    monkeypatch.setitem(sys.modules, "safetensors.torch", safetensors_torch)
    utils = fake_upstream(calls)
    monkeypatch.setitem(sys.modules, "models.tts.maskgct.maskgct_utils", utils)
    before = os.getcwd()
    adapter.load("cpu")
    assert os.getcwd() == before and str(clone) in sys.path
    assert calls[0] == ("load_config", "models/tts/maskgct/config/maskgct.json", str(clone.resolve()))
    assert ("from_pretrained", "w2v", str(semantic)) in calls
    assert ("from_pretrained", "features", str(semantic)) in calls
    loads = [(name, Path(path).relative_to(full_weights).as_posix()) for kind, name, path, strict in
             (c for c in calls if c[0] == "load_model") if strict]
    assert loads == [("codec(semantic cfg)", "semantic_codec/model.safetensors"),
                     ("encoder(acoustic cfg)", "acoustic_codec/model.safetensors"),
                     ("decoder(acoustic cfg)", "acoustic_codec/model_1.safetensors"),
                     ("t2s(t2s cfg)", "t2s_model/model.safetensors"),
                     ("s2a(s2a_1layer cfg)", "s2a_model/s2a_model_1layer/model.safetensors"),
                     ("s2a(s2a_full cfg)", "s2a_model/s2a_model_full/model.safetensors")]
    names = [getattr(p, "name", p) for p in adapter._pipeline.parts]
    assert names == ["w2v", "codec(semantic cfg)", "encoder(acoustic cfg)", "decoder(acoustic cfg)", "t2s(t2s cfg)",
                     "s2a(s2a_1layer cfg)", "s2a(s2a_full cfg)", "mean", "std", "device(cpu)"]
    assert "from_pretrained" not in vars(utils.Wav2Vec2BertModel) or utils.Wav2Vec2BertModel.from_pretrained  # back


def test_clone_hands_upstream_the_prompt_file_texts_and_languages(adapter, module, fake_tree):
    calls = []

    class FakePipeline:
        def maskgct_inference(self, path, prompt_text, target_text, language, target_language, **settings):
            audio, rate = load_audio(path)
            calls.append((rate, len(audio), prompt_text, target_text, language, target_language, settings,
                          os.getcwd()))
            return np.full(960, 0.1, dtype=np.float32)

    root = fake_tree((), "root")
    adapter._pipeline, adapter._root = FakePipeline(), root
    out = adapter.clone([request(), request(prompt_text=" "), request(target_language="es"),
                         request(prompt_language="zh", target_language="ja", target_text="こんにちは")])
    assert out[0].shape == (960,) and out[0].dtype == np.float32
    assert isinstance(out[1], CloneFailure) and "prompt transcript" in out[1].reason
    assert isinstance(out[2], CloneFailure) and "unsupported language: " in out[2].reason
    assert [c[:6] for c in calls] == [(44100, 44100, "We do not break.", "Hello there.", "en", "en"),
                                      (44100, 44100, "We do not break.", "こんにちは", "zh", "ja")]
    assert calls[0][6] == module.inference_settings() and calls[0][7] == str(root.resolve())
