"""zipvoice adapter: imports without its stack, fails with the fixing command, batches requests into one
ZipVoice.sample call with upstream's settings, per-item noise and frame counts, and per-item failures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rvcbench.adapters.contract import CloneFailure, CloneRequest
from rvcbench.errors import MissingDependencyError

KEY = "zipvoice"
MODEL_FILES = ("zipvoice/model.pt", "zipvoice/model.json", "zipvoice/tokens.txt")


def request(pair_id: str, prompt_seconds: float = 1.0, **changes) -> CloneRequest:
    fields = dict(pair_id=pair_id, prompt_audio=np.full(int(16000 * prompt_seconds), 0.1, dtype=np.float32),
                  prompt_sample_rate=16000, prompt_text="a prompt", prompt_language="en",
                  target_text="the target text", target_language="en", seed=3)
    return CloneRequest(**{**fields, **changes})


def test_declares_what_upstream_documents(adapter, module):
    assert adapter.sample_rate == 24000 and adapter.needs_prompt_text and adapter.batch_size > 1
    assert adapter.weights_id == "k2-fsa/ZipVoice" and adapter.extra_weights == ("charactr/vocos-mel-24khz",)
    assert adapter.checkout.commit == module.COMMIT and adapter.checkout.marker == "zipvoice/bin/infer_zipvoice.py"
    assert adapter.languages == {"en", "zh"} and not adapter.supports_language("de")
    assert module.SAMPLING == {"num_step": 16, "guidance_scale": 1.0, "speed": 1.0, "t_shift": 0.5}
    assert "piper_phonemize" in adapter.stack_modules and "torch" in adapter.stack_modules


def test_missing_weights_name_the_download_command(adapter, offline_hub):
    with pytest.raises(MissingDependencyError, match="huggingface-cli download k2-fsa/ZipVoice"):
        adapter.load("cpu")


def test_incomplete_weights_folder_names_the_missing_file(adapter, offline_hub, fake_tree):
    adapter.weights = str(fake_tree(MODEL_FILES[1:]))
    with pytest.raises(MissingDependencyError, match="lacks model.pt"):
        adapter.load("cpu")


def test_a_model_dir_laid_out_as_upstreams_is_taken_and_the_vocoder_is_looked_up(adapter, offline_hub, fake_tree):
    adapter.weights = str(fake_tree(("model.pt", "model.json", "tokens.txt")))
    with pytest.raises(MissingDependencyError, match="huggingface-cli download charactr/vocos-mel-24khz"):
        adapter.load("cpu")


def test_complete_weights_without_the_stack_point_to_env_create(adapter, offline_hub, fake_tree, stub_stack,
                                                                monkeypatch):
    adapter.weights = str(fake_tree(MODEL_FILES))
    vocoder = fake_tree(("config.yaml", "pytorch_model.bin"), "vocos")
    monkeypatch.setattr(adapter, "vocoder_folder", lambda: vocoder)
    stub_stack(adapter, importable=False)
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY}"):
        adapter.load("cpu")


def test_a_folder_that_is_not_a_checkout_is_caught(adapter, offline_hub, fake_tree, stub_stack, monkeypatch):
    adapter.weights = str(fake_tree(MODEL_FILES))
    vocoder = fake_tree(("config.yaml", "pytorch_model.bin"), "vocos")
    monkeypatch.setattr(adapter, "vocoder_folder", lambda: vocoder)
    stub_stack(adapter, importable=True)
    monkeypatch.setenv("ZIPVOICE_ROOT", str(fake_tree(("README.md",), "not-zipvoice")))
    with pytest.raises(MissingDependencyError, match="has no zipvoice/bin/infer_zipvoice.py"):
        adapter.load("cpu")


def test_chunks_fit_25_seconds_beside_the_prompt(module):
    assert module.max_chunk_tokens(3.0, 30) == 220  # 0.1 s a token: (25 - 3) / 0.1


def test_frames_follow_upstreams_ratio_rounded_to_whole_downsampling_groups(module):
    prompt, prompt_tokens, tokens = torch.tensor([351, 100]), torch.tensor([40, 10]), torch.tensor([23, 10])
    assert module.frames_to_generate(torch, prompt, prompt_tokens, tokens, 1).tolist() == [202, 100]
    assert module.frames_to_generate(torch, prompt, prompt_tokens, tokens, 4).tolist() == [205, 100]


def test_an_items_noise_does_not_depend_on_the_batch_length(module):
    short, long = module.item_noise(torch, 5, 70, 100), module.item_noise(torch, 5, 130, 100)
    assert short.shape == (70, 100) and torch.equal(short, long[:70])
    assert not torch.equal(short, module.item_noise(torch, 6, 70, 100))


def test_the_noise_mode_answers_only_the_batch_wide_draw(module):
    mode = module.per_item_noise(torch, [1, 2])
    with mode:
        other = torch.randn(3)
        x0 = torch.randn(2, 70, 100, device=torch.device("cpu"))
    assert mode.used and other.shape == (3,)
    assert torch.equal(x0[1], module.item_noise(torch, 2, 70, 100))


class FakeInfer:
    """zipvoice.utils.infer's helpers, recording how they are called."""

    def __init__(self):
        self.calls = []

    def remove_silence(self, wav, sampling_rate, only_edge, trail_sil):
        self.calls.append(("remove_silence", sampling_rate, only_edge, trail_sil))
        return wav

    def rms_norm(self, wav, target_rms):
        return wav, torch.tensor(0.05)

    @staticmethod
    def add_punctuation(text):
        text = text.strip()
        return text if text[-1] in ".,!?" else text + "."

    def chunk_tokens_punctuation(self, tokens, max_tokens):
        self.calls.append(("chunk", max_tokens))
        return [tokens]

    @staticmethod
    def cross_fade_concat(chunks, fade_duration, sample_rate):
        return torch.cat(chunks, dim=-1)


class FakeTokenizer:
    def texts_to_tokens(self, texts):
        return [[c for c in text if c != " "] for text in texts]

    def tokens_to_token_ids(self, tokens_list):
        return [[ord(c) % 50 + 1 for c in tokens] for tokens in tokens_list]


class FakeFbank:
    def extract(self, wav, sampling_rate):
        assert sampling_rate == 24000
        return torch.ones(wav.shape[-1] // 256, 100)


class FakeModel:
    def __init__(self):
        self.kwargs = None

    def sample(self, **kwargs):
        self.kwargs = kwargs
        lens = kwargs["features_lens"]
        x0 = torch.randn(len(kwargs["tokens"]), int((kwargs["prompt_features_lens"] + lens).max()), 100)
        self.x0 = x0
        return torch.ones(len(lens), int(lens.max()), 100), lens, None, None


class FakeVocoder:
    def decode(self, features):
        return torch.full((1, features.shape[-1] * 256), 0.5)


def loaded_with_fakes(adapter):
    adapter._model, adapter._vocoder, adapter._tokenizer = FakeModel(), FakeVocoder(), FakeTokenizer()
    adapter._fbank, adapter._infer, adapter._torch = FakeFbank(), FakeInfer(), torch
    adapter._device, adapter._multiple = torch.device("cpu"), 4
    return adapter


def test_clone_sends_the_batch_to_one_sample_call_with_upstreams_settings(adapter):
    loaded_with_fakes(adapter)
    requests = [request("a"), request("b", 2.0, target_text="longer target text here", seed=4),
                request("c", prompt_text="  "), request("d", target_language="de"), request("e", target_text="")]
    outputs = adapter.clone(requests)
    kwargs = adapter._model.kwargs
    assert kwargs["duration"] == "real" and kwargs["num_step"] == 16 and kwargs["guidance_scale"] == 1.0
    assert kwargs["t_shift"] == 0.5 and kwargs["speed"] == 1.0
    assert len(kwargs["tokens"]) == 2 and kwargs["prompt_tokens"][0] == FakeTokenizer().tokens_to_token_ids(
        [list("aprompt.")])[0]
    assert kwargs["prompt_features_lens"].tolist() == [93, 187]  # 1 s and 2 s at 24 kHz, 256-sample hop
    assert kwargs["prompt_features"].shape == (2, 187, 100)  # padded to the longest prompt
    assert ((kwargs["prompt_features_lens"] + kwargs["features_lens"]) % 4 == 0).all()
    assert ("remove_silence", 24000, False, 200) in adapter._infer.calls  # the prompt, as generate_sentence
    assert ("remove_silence", 24000, True, 0) in adapter._infer.calls  # the output's edges
    for index, made in enumerate(outputs[:2]):
        frames = int(kwargs["features_lens"][index])
        assert made.dtype == np.float32 and made.shape == (frames * 256,)
        assert np.allclose(made, 0.25)  # Vocos output scaled by prompt RMS 0.05 / target 0.1, as upstream
    assert isinstance(outputs[2], CloneFailure) and "empty prompt transcript" in outputs[2].reason
    assert isinstance(outputs[3], CloneFailure) and "unsupported language" in outputs[3].reason
    assert isinstance(outputs[4], CloneFailure) and outputs[4].reason == "empty target text"


def test_each_item_gets_the_noise_of_its_own_seed(adapter, module):
    loaded_with_fakes(adapter)
    adapter.clone([request("a", seed=3), request("b", 2.0, seed=4)])
    x0 = adapter._model.x0
    assert torch.equal(x0[1], module.item_noise(torch, module.noise_seed(4, 0), x0.shape[1], 100))


def test_a_batch_of_only_failures_calls_no_model(adapter):
    loaded_with_fakes(adapter)
    outputs = adapter.clone([request("a", prompt_text="")])
    assert adapter._model.kwargs is None and isinstance(outputs[0], CloneFailure)
