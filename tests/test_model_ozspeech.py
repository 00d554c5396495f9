"""ozspeech adapter: no stack needed to import, Drive checkpoint and FaCodec named with their fix, inputs at 16 kHz."""

import contextlib
import sys
import types

import numpy as np
import pytest

from rvcbench.adapters.contract import CloneRequest
from rvcbench.adapters.registry import create_adapter
from rvcbench.errors import MissingDependencyError

KEY = "ozspeech"


@pytest.fixture
def oz_folder(fake_tree):
    return fake_tree(("ozspeech.pt", "ozspeech.yaml"), folder="oz")


@pytest.fixture
def facodec_folder(fake_tree, module):
    return fake_tree(module.FACODEC_FILES, folder="facodec")


@pytest.fixture
def cached_facodec(facodec_folder, monkeypatch):
    """FaCodec found in the Hugging Face cache, so load() goes on to the stack and the checkout."""
    support = sys.modules["rvcbench.adapters.support"]
    monkeypatch.setattr(support, "_cached_snapshot", lambda repo_id, model: facodec_folder)


def test_declares_what_upstream_documents(adapter, module):
    assert adapter.sample_rate == 16000 and adapter.batch_size == 1 and not adapter.needs_prompt_text
    assert adapter.languages == frozenset({"en"}) and "g2p_en" in adapter.stack_modules
    assert adapter.weights_id == module.DEFAULT_WEIGHTS == "~/.cache/rvcbench/ozspeech"  # a local folder: Drive


def test_missing_checkpoint_folder_names_the_drive_download(tmp_path, module):
    with pytest.raises(MissingDependencyError, match=f"gdown --folder {module.DRIVE_FOLDER} -O {tmp_path / 'none'}"):
        create_adapter(KEY, weights=str(tmp_path / "none")).load("cpu")


def test_checkpoint_folder_needs_exactly_one_checkpoint_and_config(tmp_path, oz_folder, module):
    assert module.find_checkpoint(oz_folder) == (oz_folder / "ozspeech.pt", oz_folder / "ozspeech.yaml")
    (oz_folder / "other.pt").write_bytes(b"x")
    with pytest.raises(MissingDependencyError, match="found other.pt, ozspeech.pt, ozspeech.yaml"):
        module.find_checkpoint(oz_folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingDependencyError, match="found nothing"):
        module.find_checkpoint(tmp_path / "empty")


def test_missing_facodec_names_the_hub_download(oz_folder, offline_hub):
    with pytest.raises(MissingDependencyError, match="huggingface-cli download amphion/naturalspeech3_facodec"):
        create_adapter(KEY, weights=str(oz_folder)).load("cpu")


def test_missing_stack_names_env_create(oz_folder, cached_facodec, stub_stack):
    adapter = create_adapter(KEY, weights=str(oz_folder))
    stub_stack(adapter, importable=False)
    with pytest.raises(MissingDependencyError, match="rvcbench env create ozspeech"):
        adapter.load("cpu")


def test_missing_checkout_names_the_clone_and_commit(oz_folder, cached_facodec, stub_stack, monkeypatch, module):
    adapter = create_adapter(KEY, weights=str(oz_folder))
    stub_stack(adapter, importable=True)
    monkeypatch.delenv("OZSPEECH_ROOT", raising=False)
    with pytest.raises(MissingDependencyError, match=f"git clone --recursive {module.UPSTREAM}.*{module.COMMIT}"):
        adapter.load("cpu")


def test_prompt_at_16k_and_text_without_letters_fails(module):
    prompt = module.prompt_for_model(np.zeros(48000, dtype=np.float32), 48000)
    assert prompt.dtype == np.float32 and len(prompt) == 16000
    assert module.text_problem("It's “quoted” text.") is None
    assert "letters" in module.text_problem("123 !?")


def test_clone_gives_synthesize_the_16k_array_and_upstream_temperature(module):
    calls = []

    class FakeZact:
        def synthesize(self, text, acoustic_prompt, sr, codec_encoder, codec_decoder, temperature):
            calls.append((text, acoustic_prompt.shape, acoustic_prompt.dtype, sr, codec_encoder, temperature))
            return {"synth_wav": np.full(160, 0.1, dtype=np.float32), "prior_wav": None, "time": 0.1}

    adapter = create_adapter(KEY)
    adapter._model, adapter._encoder, adapter._decoder = FakeZact(), "enc", "dec"
    adapter._torch = types.SimpleNamespace(no_grad=contextlib.nullcontext)
    audio = np.zeros(22050, dtype=np.float32)
    out, bad = adapter.clone([CloneRequest("p", audio, 22050, "", "en", "Hello world.", "en", 3),
                              CloneRequest("p", audio, 22050, "", "en", "42", "en", 3)])
    assert calls == [("Hello world.", (16000,), np.float32, 16000, "enc", 0.01)]
    assert out.shape == (160,) and "letters" in bad.reason
