"""ozspeech adapter: no stack needed to import, Drive checkpoint and FaCodec named with their fix, NLTK data and the
lexicon checked before use, the upstream calls' arguments, inputs at 16 kHz, refusals per item."""

import contextlib
import sys
import types

import numpy as np
import omegaconf
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


def fake_nltk(missing=()):
    """An `nltk` whose data.find misses the resources in `missing`."""
    def find(resource):
        if resource in missing:
            raise LookupError(resource)
        return resource
    return types.SimpleNamespace(data=types.SimpleNamespace(find=find))


@pytest.fixture
def stack_with_nltk_data(stub_stack, monkeypatch):
    """The stack modules import as stand-ins, nltk with all its data."""
    def stub(adapter):
        stub_stack(adapter, importable=True)
        monkeypatch.setitem(sys.modules, "nltk", fake_nltk())
    return stub


@pytest.fixture
def checkout(fake_tree, module, monkeypatch):
    """A checkout with the marker, upstream's codec.yaml keys and the lexicon, in OZSPEECH_ROOT."""
    root = fake_tree(("zact/models/zact.py", module.LEXICON), folder="OZSpeech")
    (root / "configs").mkdir()
    (root / "configs" / "codec.yaml").write_text("ckpt_repo: amphion/naturalspeech3_facodec\n"
                                                 "encoder: {ngf: 32, up_ratios: [2, 4, 5, 5], out_channels: 256}\n"
                                                 "decoder: {in_channels: 256, vq_num_q_c: 2}\n")
    monkeypatch.setenv("OZSPEECH_ROOT", str(root))
    monkeypatch.setattr(sys, "path", list(sys.path))  # upstream_checkout puts the checkout first
    return root


def test_declares_what_upstream_documents(adapter, module):
    assert adapter.sample_rate == 16000 and adapter.batch_size == 1 and not adapter.needs_prompt_text
    assert adapter.languages == frozenset({"en"}) and "g2p_en" in adapter.stack_modules
    assert adapter.weights_id == module.DEFAULT_WEIGHTS == "~/.cache/rvcbench/ozspeech"  # a local folder: Drive
    assert adapter.extra_weights == ("amphion/naturalspeech3_facodec",)  # FaCodec, which load() reads
    assert {"nltk", "pyworld", "tgt", "torchaudio"} <= set(adapter.stack_modules)  # zact imports them


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


def test_missing_checkout_names_the_clone_and_commit(oz_folder, cached_facodec, stack_with_nltk_data, monkeypatch,
                                                     module):
    adapter = create_adapter(KEY, weights=str(oz_folder))
    stack_with_nltk_data(adapter)
    monkeypatch.delenv("OZSPEECH_ROOT", raising=False)
    monkeypatch.setattr("rvcbench.model_envs.recorded_env", lambda model: None)
    with pytest.raises(MissingDependencyError, match=f"git clone --recursive {module.UPSTREAM}.*{module.COMMIT}"):
        adapter.load("cpu")


def test_missing_nltk_data_names_the_download_before_g2p_en_is_imported(oz_folder, cached_facodec, stub_stack,
                                                                        monkeypatch, module):
    adapter = create_adapter(KEY, weights=str(oz_folder))
    stub_stack(adapter, importable=True)
    monkeypatch.setitem(sys.modules, "g2p_en", None)  # its import would fetch the data: not reached
    monkeypatch.setitem(sys.modules, "nltk", fake_nltk(missing={"taggers/averaged_perceptron_tagger_eng/"}))
    with pytest.raises(MissingDependencyError, match="NLTK data averaged_perceptron_tagger_eng .*`python -m "
                                                     "nltk.downloader averaged_perceptron_tagger_eng`"):
        adapter.load("cpu")


def test_checkout_without_the_lexicon_names_it(oz_folder, cached_facodec, stack_with_nltk_data, checkout, module):
    (checkout / module.LEXICON).unlink()
    adapter = create_adapter(KEY, weights=str(oz_folder))
    stack_with_nltk_data(adapter)
    with pytest.raises(MissingDependencyError, match=f"lacks {module.LEXICON}.*git -C .* checkout {module.COMMIT} "
                                                     f"-- {module.LEXICON}"):
        adapter.load("cpu")


def test_load_builds_facodec_and_zact_as_upstream(oz_folder, facodec_folder, cached_facodec, stack_with_nltk_data,
                                                  checkout, monkeypatch, module):
    calls = []

    class Part:
        def eval(self):
            return self

        def to(self, device):
            calls.append(("to", device))
            return self

    def part(kind):
        return classmethod(lambda cls, cfg, path: calls.append((kind, dict(cfg), path)) or Part())

    def from_pretrained(cls, **kwargs):
        calls.append(("zact", kwargs))
        return Part()

    adapter = create_adapter(KEY, weights=str(oz_folder))
    stack_with_nltk_data(adapter)
    monkeypatch.setitem(sys.modules, "omegaconf", omegaconf)
    codec = types.SimpleNamespace(FACodecEncoder=type("E", (), {"from_pretrained": part("encoder")}),
                                  FACodecDecoder=type("D", (), {"from_pretrained": part("decoder")}))
    monkeypatch.setitem(sys.modules, "zact.models.facodec", codec)
    monkeypatch.setitem(sys.modules, "zact", types.SimpleNamespace(
        ZACT=type("Z", (), {"from_pretrained": classmethod(from_pretrained)})))
    adapter.load("cpu")
    encoder, decoder = calls[0], calls[1]
    assert encoder == ("encoder", {"ngf": 32, "up_ratios": [2, 4, 5, 5], "out_channels": 256, "device": "cpu"},
                       facodec_folder / "ns3_facodec_encoder.bin")
    assert decoder[0] == "decoder" and decoder[1]["device"] == "cpu" and decoder[2] == facodec_folder / \
        "ns3_facodec_decoder.bin"
    kind, kwargs = next(call for call in calls if call[0] == "zact")
    assert kwargs["ckpt_path"] == str(oz_folder / "ozspeech.pt") and kwargs["device"] == "cpu"
    assert kwargs["training_mode"] is False and isinstance(kwargs["cfg"], omegaconf.DictConfig)


def test_prompt_at_16k_and_text_without_letters_fails(module):
    prompt = module.prompt_for_model(np.zeros(48000, dtype=np.float32), 48000)
    assert prompt.dtype == np.float32 and len(prompt) == 16000
    assert module.text_problem("It's “quoted” text.") is None
    assert "letters" in module.text_problem("123 !?")


def test_clone_gives_synthesize_the_16k_array_and_upstream_temperature_and_refuses_per_item(module):
    calls = []

    class FakeZact:
        def synthesize(self, text, acoustic_prompt, sr, codec_encoder, codec_decoder, temperature):
            calls.append((text, acoustic_prompt.shape, acoustic_prompt.dtype, sr, codec_encoder, temperature))
            return {"synth_wav": np.full(160, 0.1, dtype=np.float32), "prior_wav": None, "time": 0.1}

    adapter = create_adapter(KEY)
    adapter._model, adapter._encoder, adapter._decoder = FakeZact(), "enc", "dec"
    adapter._torch = types.SimpleNamespace(no_grad=contextlib.nullcontext)
    audio = np.zeros(22050, dtype=np.float32)
    out, bad, other, empty = adapter.clone([CloneRequest("p", audio, 22050, "", "en", "Hello world.", "en", 3),
                                            CloneRequest("p", audio, 22050, "", "en", "42", "en", 3),
                                            CloneRequest("p", audio, 22050, "", "en", "Hei maailma.", "fi", 3),
                                            CloneRequest("p", audio, 22050, "", "en", "  ", "en", 3)])
    assert calls == [("Hello world.", (16000,), np.float32, 16000, "enc", 0.01)]
    assert out.shape == (160,) and "letters" in bad.reason
    assert other.reason == "unsupported language: fi" and empty.reason == "empty target text"
