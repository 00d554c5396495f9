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


class FakeTTSInput:
    """Records the keyword arguments the adapter builds upstream's TTSInput with."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs


def fake_engine(rate: int = 48000, pcm=None):
    """An object standing in for upstream's PlayDiffusion: records `tts` inputs and the voice file's audio."""
    from rvcbench.audio import load_audio

    class Engine:
        calls: list = []

        def tts(self, tts_input):
            audio, voice_rate = load_audio(tts_input.kwargs["voice"])
            self.calls.append((tts_input.kwargs, voice_rate, len(audio)))
            return rate, np.array([0, 16384, -32768] if pcm is None else pcm, dtype=np.int16)

    return Engine()


def loaded(adapter, engine):
    adapter._engine, adapter._tts_input = engine, FakeTTSInput
    return adapter


def test_clone_calls_tts_with_the_text_the_voice_file_and_upstream_defaults(adapter, module):
    from rvcbench.adapters.contract import CloneRequest

    engine = fake_engine()
    prompt = np.full(22050, 0.1, dtype=np.float32)
    out = loaded(adapter, engine).clone([CloneRequest("p", prompt, 22050, "", "en", "  Hello\n  there ", "en", 3)])
    (kwargs, voice_rate, voice_samples), = engine.calls
    voice = kwargs.pop("voice")
    assert kwargs == {"output_text": "Hello there", **module.GENERATION} and voice.endswith(".wav")
    assert (voice_rate, voice_samples) == (22050, 22050)  # the prompt as given: upstream resamples it itself
    assert module.GENERATION == {"num_steps": 30, "init_temp": 1.0, "init_diversity": 1.0, "guidance": 0.5,
                                 "rescale": 0.7, "topk": 25}  # pydantic_models/models.py BaseInput defaults
    assert out[0].dtype == np.float32 and out[0].tolist() == [0.0, 0.5, -1.0]


def test_the_seed_is_set_before_each_call(adapter, monkeypatch):
    from rvcbench.adapters import support
    from rvcbench.adapters.contract import CloneRequest

    seeds = []
    monkeypatch.setattr(support, "seed_everything", seeds.append)
    prompt = np.zeros(16000, dtype=np.float32)
    loaded(adapter, fake_engine()).clone([CloneRequest("a", prompt, 16000, "", "en", "one", "en", 7),
                                          CloneRequest("b", prompt, 16000, "", "en", "two", "en", 8)])
    assert seeds == [7, 8]


def test_an_undeclared_language_and_an_empty_text_fail_per_item_without_a_call(adapter):
    from rvcbench.adapters.contract import CloneFailure, CloneRequest

    engine = fake_engine()
    prompt = np.zeros(16000, dtype=np.float32)
    out = loaded(adapter, engine).clone([CloneRequest("a", prompt, 16000, "", "en", "Hallo", "de", 1),
                                         CloneRequest("b", prompt, 16000, "", "en", " \n ", "en", 1),
                                         CloneRequest("c", prompt, 16000, "", "en", "fine", "en", 1)])
    assert out[0] == CloneFailure("unsupported language: de") and out[1] == CloneFailure("empty target text")
    assert isinstance(out[2], np.ndarray) and [call[0]["output_text"] for call in engine.calls] == ["fine"]


def test_audio_at_another_rate_than_declared_is_refused(adapter):
    from rvcbench.adapters.contract import CloneRequest
    from rvcbench.errors import RvcbenchError

    prompt = np.zeros(16000, dtype=np.float32)
    with pytest.raises(RvcbenchError, match="24000 Hz"):
        loaded(adapter, fake_engine(rate=24000)).clone([CloneRequest("a", prompt, 16000, "", "en", "hi", "en", 1)])


def fake_playdiffusion(monkeypatch, rate: int):
    """A stand-in `playdiffusion` package whose PlayDiffusion builds from `load_preset()` as upstream's does."""
    import sys
    import types

    built = []

    class PlayDiffusion:
        def __init__(self, device="cuda"):
            self.preset = self.load_preset()
            built.append((device, self.preset))
            self.mm = types.SimpleNamespace(vocoder=types.SimpleNamespace(output_frequency=rate))

        def load_preset(self, *args, **kwargs):
            raise AssertionError("upstream's load_preset downloads from the Hub")

    package = types.ModuleType("playdiffusion")
    package.PlayDiffusion, package.TTSInput = PlayDiffusion, FakeTTSInput
    monkeypatch.setitem(sys.modules, "playdiffusion", package)
    return built


def test_load_builds_upstream_from_the_local_folder_not_the_hub(adapter, module, fake_tree, monkeypatch):
    built = fake_playdiffusion(monkeypatch, rate=48000)
    folder = fake_tree(UPSTREAM_FILES)
    adapter.weights = str(folder)
    adapter.load("cuda:1")
    ((device, preset),) = built
    assert device == "cuda:1" and preset == module.preset(folder) and adapter._tts_input is FakeTTSInput


def test_load_refuses_a_vocoder_rate_other_than_declared(adapter, fake_tree, monkeypatch):
    from rvcbench.errors import RvcbenchError

    fake_playdiffusion(monkeypatch, rate=24000)
    adapter.weights = str(fake_tree(UPSTREAM_FILES))
    with pytest.raises(RvcbenchError, match="set Adapter.sample_rate to 24000"):
        adapter.load("cuda")


def test_random_weight_check_imports_here_and_keeps_the_real_clone(module):
    from rvcbench.adapters.random_weights import RandomWeightSpec, check_file_of, load_spec

    check_file = check_file_of(KEY)
    spec = load_spec(check_file)
    assert isinstance(spec, RandomWeightSpec) and spec.seeded and spec.distributions[0] == "playdiffusion"
    import importlib.util

    found = importlib.util.spec_from_file_location("playdiffusion_check_under_test", check_file)
    check = importlib.util.module_from_spec(found)
    found.loader.exec_module(check)
    assert check.Adapter.clone is check.real.Adapter.clone and "load" in vars(check.Adapter)
    assert check.VOCODER["sampling_rate"] == module.OUTPUT_RATE
    assert check.SAMPLES_PER_UNIT == check.VOCODER["hop_size"] * 4 == 5 * 4 * 4 * 3 * 4  # upsampler x4, then ups
