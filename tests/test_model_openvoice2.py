"""openvoice2 adapter: declarations, every download it needs named, upstream's two-stage call with its arguments."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rvcbench.adapters.contract import CloneFailure, CloneRequest
from rvcbench.errors import MissingDependencyError

KEY = "openvoice2"


def cached(hub: Path, repo_id: str, files: dict[str, str]) -> Path:
    """A repository in the (fake, offline) Hugging Face cache, as `huggingface-cli download` leaves it."""
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / ("0" * 40)
    for name, text in files.items():
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / name).write_text(text)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text("0" * 40)
    return snapshot


def melo_config(speaker: str) -> str:
    return json.dumps({"data": {"spk2id": {speaker: 0}}})


SPEAKERS = {"en": "EN-Newest", "es": "ES", "fr": "FR-FR", "zh": "ZH", "ja": "JP", "ko": "KR"}


@pytest.fixture
def converter(fake_tree, module) -> Path:
    ses = [f"{module.SES_FOLDER}/{s.lower().replace('_', '-')}.pth" for s in SPEAKERS.values()]
    return fake_tree((*module.CONVERTER_FILES, *ses), "converter")


def cache_all(hub: Path, module, skip: str = "") -> None:
    for language, (_, repo) in module.MELO.items():
        if repo != skip:
            cached(hub, repo, {"config.json": melo_config(SPEAKERS[language]), "checkpoint.pth": "x"})
    for repo in (*module.BERTS.values(), module.WATERMARK_ID):
        if repo != skip:
            cached(hub, repo, {"config.json": "{}", "vocab.txt": "x", module.WATERMARK_FILE: "x"})


def request(**changes) -> CloneRequest:
    fields = dict(pair_id="p", prompt_audio=np.zeros(16000, dtype=np.float32), prompt_sample_rate=16000,
                  prompt_text="", prompt_language="en", target_text="Hello there.", target_language="en", seed=3)
    return CloneRequest(**(fields | changes))


def test_declares_what_upstream_documents(adapter, module):
    assert adapter.sample_rate == 22050 and adapter.batch_size == 1 and not adapter.needs_prompt_text
    assert adapter.languages == {"en", "es", "fr", "zh", "ja", "ko"} and not adapter.supports_language("de")
    assert adapter.weights_id == "myshell-ai/OpenVoiceV2" and adapter.license == "MIT"
    assert {"myshell-ai/MeloTTS-English-v3", "myshell-ai/MeloTTS-Korean", "google-bert/bert-base-uncased",
            "tohoku-nlp/bert-base-japanese-v3", "M4869/WavMark"} <= set(adapter.extra_weights)
    assert len(adapter.extra_weights) == 6 + 6 + 1
    assert adapter.checkout.commit == module.COMMIT and adapter.checkout.marker == "openvoice/se_extractor.py"
    assert module.VAD is True and module.SPEED == 1.0 and module.WATERMARK_MESSAGE == "@MyShell"


def test_incomplete_converter_folder_names_the_missing_file(adapter, offline_hub, fake_tree, module):
    adapter.weights = str(fake_tree(module.CONVERTER_FILES[:1]))
    with pytest.raises(MissingDependencyError, match="lacks converter/checkpoint.pth"):
        adapter.load("cpu")


def test_missing_melotts_checkpoint_names_its_download_command(adapter, offline_hub, converter):
    adapter.weights = str(converter)
    with pytest.raises(MissingDependencyError, match="huggingface-cli download myshell-ai/MeloTTS-English-v3"):
        adapter.load("cpu")


def test_missing_base_speaker_embedding_is_named(adapter, offline_hub, converter, module):
    cache_all(offline_hub, module)
    (converter / module.SES_FOLDER / "en-newest.pth").unlink()
    adapter.weights = str(converter)
    with pytest.raises(MissingDependencyError, match="lacks base_speakers/ses/en-newest.pth"):
        adapter.load("cpu")


@pytest.mark.parametrize("repo", ["kykim/bert-kor-base", "M4869/WavMark"])
def test_missing_tokenizer_or_watermarker_names_its_download_command(adapter, offline_hub, converter, module, repo):
    cache_all(offline_hub, module, skip=repo)
    adapter.weights = str(converter)
    with pytest.raises(MissingDependencyError, match=f"huggingface-cli download {repo}"):
        adapter.load("cpu")


def test_complete_weights_without_the_stack_point_to_env_create(adapter, offline_hub, converter, module, stub_stack):
    cache_all(offline_hub, module)
    adapter.weights = str(converter)
    stub_stack(adapter, importable=False)
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY}"):
        adapter.load("cpu")


@pytest.fixture
def side_data(tmp_path, monkeypatch, module):
    """Silero's hub folder, ffmpeg and NLTK data all present, so each test removes one."""
    silero = tmp_path / "silero"
    silero.mkdir()
    (silero / "hubconf.py").write_text("")
    monkeypatch.setattr(module, "SILERO_DIR", str(silero))
    monkeypatch.setattr(module.shutil, "which", lambda name: f"/usr/bin/{name}")
    found = set(module.NLTK_DATA.values())

    def find(resource):
        if resource not in found:
            raise LookupError(resource)

    monkeypatch.setitem(sys.modules, "nltk", types.SimpleNamespace(data=types.SimpleNamespace(find=find)))
    monkeypatch.setitem(sys.modules, "unidic", None)
    return types.SimpleNamespace(silero=silero, nltk=found)


def test_side_data_present_passes(module, side_data):
    module.check_side_data()


def test_missing_silero_folder_names_the_pinned_clone(module, side_data):
    (side_data.silero / "hubconf.py").unlink()
    with pytest.raises(MissingDependencyError, match="git clone --depth 1 --branch v4.0 .*silero-vad"):
        module.check_side_data()


def test_missing_ffmpeg_is_named(module, side_data, monkeypatch):
    monkeypatch.setattr(module.shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError, match="ffmpeg"):
        module.check_side_data()


def test_missing_nltk_data_names_the_downloader(module, side_data):
    side_data.nltk.discard("corpora/cmudict.zip")
    with pytest.raises(MissingDependencyError, match="python -m nltk.downloader cmudict"):
        module.check_side_data()


def test_unidic_without_its_dictionary_names_unidic_download(module, side_data, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "unidic", types.SimpleNamespace(DICDIR=str(tmp_path / "dicdir")))
    with pytest.raises(MissingDependencyError, match="python -m unidic download"):
        module.check_side_data()


def test_base_speaker_is_the_single_speaker_with_upstreams_file_name(module):
    assert module.base_speaker(json.loads(melo_config("EN-Newest"))) == ("EN-Newest", 0, "en-newest.pth")
    assert module.base_speaker({"data": {"spk2id": {"EN_INDIA": 2}}})[2] == "en-india.pth"
    with pytest.raises(ValueError, match="single-speaker"):
        module.base_speaker({"data": {"spk2id": {"EN-US": 0, "EN-BR": 1}}})


def test_prompt_is_resampled_to_the_converters_rate(module):
    prompt = module.prompt_for_model(np.zeros(16000, dtype=np.float32), 16000)
    assert prompt.shape == (22050,) and prompt.dtype == np.float32


def fake_transformers(calls: list):
    class Auto:
        @classmethod
        def from_pretrained(cls, name, *args, **kwargs):
            calls.append((cls.__name__, name, kwargs))
            return name

    return types.SimpleNamespace(AutoTokenizer=type("AutoTokenizer", (Auto,), {}),
                                 AutoModelForMaskedLM=type("AutoModelForMaskedLM", (Auto,), {}))


def test_converters_watermarker_loads_the_local_checkpoint(module, tmp_path):
    seen = []
    wavmark = types.SimpleNamespace(load_model=lambda path="default": seen.append(path) or "model")
    original = wavmark.load_model
    with module.local_watermarker(wavmark, tmp_path / "wm.pkl"):
        assert wavmark.load_model() == "model"  # as ToneColorConverter.__init__ calls it
    assert seen == [str(tmp_path / "wm.pkl")] and wavmark.load_model is original


class FakeUpstream:
    """get_se, MeloTTS's tts_to_file and the converter's convert, recording what the adapter passes."""

    def __init__(self, too_short: bool = False):
        self.calls = []
        self.too_short = too_short

    def get_se(self, audio_path, vc_model, target_dir="processed", vad=True):
        audio, rate = sf.read(audio_path)
        self.calls.append(("get_se", rate, audio.shape, vc_model is self, Path(target_dir).name, vad))
        if self.too_short:
            raise AssertionError("input audio is too short")
        return "target se", "name"

    def tts_to_file(self, text, speaker_id, output_path=None, **kwargs):
        self.calls.append(("tts", text, speaker_id, kwargs))
        sf.write(output_path, np.zeros(441, dtype=np.float32), 44100)

    def extract_se(self, ref_wav_list):
        self.calls.append(("extract_se", [sf.read(path)[1] for path in ref_wav_list]))
        return "whole prompt se"

    def convert(self, **kwargs):
        self.calls.append(("convert", Path(kwargs.pop("audio_src_path")).exists(), kwargs))
        return np.full(256, 0.5, dtype=np.float32)


def loaded(adapter, upstream: FakeUpstream):
    adapter._transformers = fake_transformers([])
    adapter._converter = upstream
    adapter._se_extractor = upstream
    adapter._bases = {"en": (upstream, 7, "source se")}
    return adapter


def test_clone_runs_get_se_then_melotts_then_convert_with_upstreams_arguments(adapter):
    upstream = FakeUpstream()
    (wav,) = loaded(adapter, upstream).clone([request(target_text="  Hello there.  ")])
    assert wav.dtype == np.float32 and wav.shape == (256,)
    assert upstream.calls == [
        ("get_se", 22050, (22050,), True, "processed", True),
        ("tts", "Hello there.", 7, {"speed": 1.0, "quiet": True}),
        ("convert", True, {"src_se": "source se", "tgt_se": "target se", "message": "@MyShell"}),
    ]


def test_unsupported_language_and_empty_text_fail_per_item(adapter):
    results = loaded(adapter, FakeUpstream()).clone([request(target_language="de"), request(target_text=" "),
                                                     request()])
    assert isinstance(results[0], CloneFailure) and "unsupported language: de" in results[0].reason
    assert isinstance(results[1], CloneFailure) and results[1].reason == "empty target text"
    assert isinstance(results[2], np.ndarray)


def test_a_prompt_get_se_refuses_as_too_short_goes_to_extract_se_whole(adapter):
    upstream = FakeUpstream(too_short=True)
    (wav,) = loaded(adapter, upstream).clone([request()])
    assert isinstance(wav, np.ndarray)
    assert [call[0] for call in upstream.calls] == ["get_se", "extract_se", "tts", "convert"]
    assert upstream.calls[1] == ("extract_se", [22050]) and upstream.calls[3][2]["tgt_se"] == "whole prompt se"


def test_another_assertion_in_get_se_is_not_hidden(adapter, monkeypatch):
    upstream = FakeUpstream()

    def broken(*args, **kwargs):
        raise AssertionError("something else")

    monkeypatch.setattr(upstream, "get_se", broken)
    with pytest.raises(AssertionError, match="something else"):
        loaded(adapter, upstream).clone([request()])


def test_melotts_gets_local_config_and_checkpoint_and_the_speakers_embedding(adapter, module, monkeypatch, tmp_path):
    made, loads = [], []

    class TTS:
        def __init__(self, **kwargs):
            made.append(kwargs)
            self.hps = types.SimpleNamespace(data=types.SimpleNamespace(spk2id={"FR-FR": 4}))

    monkeypatch.setitem(sys.modules, "melo.api", types.SimpleNamespace(TTS=TTS))
    adapter._torch = types.SimpleNamespace(load=lambda path, map_location: loads.append((path, map_location)) or "se")
    adapter._device, adapter._melo_dirs, adapter._ses_dir = "cuda:1", {"fr": tmp_path / "fr"}, tmp_path / "ses"
    tts, speaker_id, source_se = adapter._base("fr")
    assert adapter._base("fr")[0] is tts and len(made) == 1
    assert made == [{"language": "FR", "device": "cuda:1", "config_path": str(tmp_path / "fr" / "config.json"),
                     "ckpt_path": str(tmp_path / "fr" / "checkpoint.pth")}]
    assert (speaker_id, source_se) == (4, "se") and loads == [(str(tmp_path / "ses" / "fr-fr.pth"), "cuda:1")]
