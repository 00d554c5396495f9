"""OpenVoice V2 behind the rvcbench contract, following upstream's `demo_part3.ipynb`.

Two stages, as upstream runs them: MeloTTS (`melo.api.TTS`) speaks the target text with the language's base
speaker, then OpenVoice's `ToneColorConverter.convert` moves it from the base speaker's tone colour (the
`base_speakers/ses/<speaker>.pth` embedding shipped with the converter) to the prompt speaker's, extracted by
`se_extractor.get_se(..., vad=True)` (silero VAD through whisper-timestamped; a prompt with under 5 s of speech,
which get_se refuses, goes to `extract_se` whole). OpenVoice runs from a checkout
(OPENVOICE_ROOT); MeloTTS is an installed package. No transcript of the prompt is used; one request per call.

Every file upstream would fetch from the Hugging Face Hub is found locally by `load` first and handed to upstream
as a local path: MeloTTS and the converter take config and checkpoint paths; MeloTTS's hard-coded BERT ids and
the WavMark watermarker that `ToneColorConverter.__init__` loads are redirected to their local folders while those
upstream calls run (`support.hub_ids_as_folders`, `local_watermarker`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, UpstreamCheckout, VoiceCloner
from rvcbench.errors import MissingDependencyError

KEY = "openvoice2"
CONVERTER_ID = "myshell-ai/OpenVoiceV2"
CONVERTER_FILES = ("converter/config.json", "converter/checkpoint.pth")
SES_FOLDER = "base_speakers/ses"  # the base speakers' tone-colour embeddings, one per MeloTTS speaker
UPSTREAM = "https://github.com/myshell-ai/OpenVoice.git"
COMMIT = "74a1d147b17a8c3092dd5430504bd83ef6c7eb23"
ROOT_ENV = "OPENVOICE_ROOT"

# Target language -> (MeloTTS language, checkpoint) as in demo_part3.ipynb; English is its "EN_NEWEST" model.
MELO = {
    "en": ("EN_NEWEST", "myshell-ai/MeloTTS-English-v3"),
    "es": ("ES", "myshell-ai/MeloTTS-Spanish"),
    "fr": ("FR", "myshell-ai/MeloTTS-French"),
    "zh": ("ZH", "myshell-ai/MeloTTS-Chinese"),
    "ja": ("JP", "myshell-ai/MeloTTS-Japanese"),
    "ko": ("KR", "myshell-ai/MeloTTS-Korean"),
}
MELO_FILES = ("config.json", "checkpoint.pth")
# melo.text imports every language's module, and each loads its BERT tokenizer at import (english.py,
# chinese_mix.py, french.py, japanese.py, korean.py, spanish.py) by a hard-coded Hub id; the BERT of the language
# spoken is loaded at its first sentence. Hub id in MeloTTS's code -> the repository it is today.
BERTS = {
    "bert-base-uncased": "google-bert/bert-base-uncased",
    "bert-base-multilingual-uncased": "google-bert/bert-base-multilingual-uncased",
    "dbmdz/bert-base-french-europeana-cased": "dbmdz/bert-base-french-europeana-cased",
    "tohoku-nlp/bert-base-japanese-v3": "tohoku-nlp/bert-base-japanese-v3",
    "kykim/bert-kor-base": "kykim/bert-kor-base",
    "dccuchile/bert-base-spanish-wwm-uncased": "dccuchile/bert-base-spanish-wwm-uncased",
}
BERT_FILES = ("config.json", "vocab.txt")
WATERMARK_ID = "M4869/WavMark"  # wavmark.load_model()'s default, loaded by ToneColorConverter.__init__
WATERMARK_FILE = "step59000_snr39.99_pesq4.35_BERP_none0.30_mean1.81_std1.81.model.pkl"
WATERMARK_MESSAGE = "@MyShell"  # demo_part3.ipynb's encode_message
# get_se(vad=True) -> whisper_timestamped.get_vad_segments(method="silero") -> torch.hub.load of this folder, or
# of snakers4/silero-vad's GitHub master when the folder is missing (whisper-timestamped hard-codes the path).
SILERO_DIR = "~/.cache/torch/hub/snakers4_silero-vad_master"
SILERO_TAG = "v4.0"  # silero-vad's master when OpenVoice V2 came out (April 2024; v5.0 followed in June 2024)
# g2p_en's own look-ups: it downloads them at import when nltk.data.find misses
NLTK_DATA = {"averaged_perceptron_tagger": "taggers/averaged_perceptron_tagger.zip", "cmudict": "corpora/cmudict.zip"}
OUTPUT_RATE = 22050  # converter/config.json data.sampling_rate: convert() reads and writes at this rate
SPEED = 1.0  # demo_part3.ipynb: speed = 1.0 (tts_to_file keeps its sdp_ratio/noise defaults; convert its tau=0.3)
VAD = True  # demo_part3.ipynb: se_extractor.get_se(reference_speaker, tone_color_converter, vad=True)
TOO_SHORT = "input audio is too short"  # split_audio_vad's assertion: under 5 s of speech after VAD


def prompt_for_model(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The prompt as the file get_se reads: float32 mono at the converter's 22.05 kHz (extract_se's rate)."""
    return support.prompt_at(audio, sample_rate, OUTPUT_RATE)


def base_speaker(melo_config: dict) -> tuple[str, int, str]:
    """The MeloTTS config's base speaker: (name, id, its embedding's file name as demo_part3.ipynb builds it).

    Every V2 checkpoint but the old English one ("EN", five accents) has a single speaker; that one is used.
    """
    speakers = dict(melo_config.get("data", {}).get("spk2id", {}))
    if len(speakers) != 1:
        raise ValueError(f"expected a single-speaker MeloTTS checkpoint, got speakers {sorted(speakers)}")
    (name, speaker_id), = speakers.items()
    return name, int(speaker_id), name.lower().replace("_", "-") + ".pth"


def bert_classes(transformers: ModuleType) -> tuple:
    """The Auto classes MeloTTS calls with its hard-coded BERT ids (melo/text/*_bert.py)."""
    return transformers.AutoTokenizer, transformers.AutoModelForMaskedLM


@contextmanager
def local_watermarker(wavmark: ModuleType, checkpoint: Path) -> Iterator[None]:
    """While inside: `wavmark.load_model()` (called by ToneColorConverter.__init__, which cannot turn it off:
    its enable_watermark keyword reaches OpenVoiceBaseClass.__init__, which takes none) reads `checkpoint`."""
    original = wavmark.load_model
    wavmark.load_model = lambda path="default": original(str(checkpoint) if path == "default" else path)
    try:
        yield
    finally:
        wavmark.load_model = original


def silero_folder() -> Path:
    return Path(SILERO_DIR).expanduser()


def check_side_data() -> None:
    """What upstream would fetch from outside the Hub while running: silero VAD, NLTK data, UniDic; and ffmpeg."""
    folder = silero_folder()
    if not (folder / "hubconf.py").exists():
        raise MissingDependencyError(
            f"model {KEY!r}: get_se(vad=True) loads silero VAD from {folder} (else torch.hub fetches GitHub's master "
            f"at run time). Clone it with `git clone --depth 1 --branch {SILERO_TAG} "
            f"https://github.com/snakers4/silero-vad {SILERO_DIR}`.")
    if shutil.which("ffmpeg") is None:
        raise MissingDependencyError(f"model {KEY!r} needs ffmpeg on PATH (whisper_timestamped reads the prompt "
                                     "with it for VAD): install it, e.g. `apt-get install ffmpeg`.")
    support.require_nltk_data(NLTK_DATA, KEY, "g2p_en")
    try:
        import unidic  # MeCab.Tagger() prefers unidic's dictionary to unidic-lite's when the package is there
    except ImportError:
        return
    if not Path(unidic.DICDIR, "dicrc").exists():
        raise MissingDependencyError(f"model {KEY!r}: MeloTTS's Japanese frontend (imported for every language) "
                                     "needs the UniDic dictionary: `python -m unidic download`.")


class Adapter(VoiceCloner):
    name: ClassVar[str] = KEY
    description: ClassVar[str] = ("OpenVoice V2 (MyShell): MeloTTS base speaker, then the tone-colour converter "
                                  "to the prompt speaker's timbre")
    sample_rate: ClassVar[int] = OUTPUT_RATE
    languages: ClassVar[frozenset[str]] = frozenset(MELO)
    needs_prompt_text: ClassVar[bool] = False
    batch_size: ClassVar[int] = 1  # tts_to_file and convert each take one text / one file
    requirements: ClassVar[str] = (f"models/{KEY}/requirements.txt + a checkout of {UPSTREAM} in {ROOT_ENV}, "
                                   "ffmpeg, NLTK data, UniDic, silero VAD; GPU advised")
    version: ClassVar[str] = "1"
    weights_id: ClassVar[str] = CONVERTER_ID
    extra_weights: ClassVar[tuple[str, ...]] = (*(repo for _, repo in MELO.values()), *BERTS.values(), WATERMARK_ID)
    checkout: ClassVar[UpstreamCheckout] = UpstreamCheckout(ROOT_ENV, UPSTREAM, COMMIT, "openvoice/se_extractor.py")
    license: ClassVar[str] = "MIT"
    stack_modules: ClassVar[tuple[str, ...]] = ("torch", "melo", "wavmark", "whisper_timestamped", "faster_whisper",
                                                "librosa", "pydub", "nltk")

    def __init__(self) -> None:
        self._converter = None
        self._se_extractor = None
        self._torch = None
        self._transformers = None
        self._device = "cpu"
        self._melo_dirs: dict[str, Path] = {}
        self._berts: dict[str, Path] = {}
        self._ses_dir: Path | None = None
        self._bases: dict[str, tuple] = {}  # language -> (TTS, speaker id, source embedding), built at first use

    def load(self, device: str) -> None:
        converter_dir = support.resolve_weights(self.weights_spec(), CONVERTER_ID, KEY, required_files=CONVERTER_FILES)
        melo_dirs = {}
        for language, (_, repo) in MELO.items():
            folder = support.resolve_weights(None, repo, KEY, required_files=MELO_FILES)
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            support.resolve_weights(converter_dir, CONVERTER_ID, KEY,
                                    required_files=(f"{SES_FOLDER}/{base_speaker(config)[2]}",))
            melo_dirs[language] = folder
        berts = {name: support.resolve_weights(None, repo, KEY, required_files=BERT_FILES)
                 for name, repo in BERTS.items()}
        watermarker = support.resolve_weights(None, WATERMARK_ID, KEY, required_files=(WATERMARK_FILE,))
        for module in self.stack_modules:
            support.require(module, KEY)
        check_side_data()
        support.upstream_checkout(self.checkout, KEY)
        torch = support.require("torch", KEY)
        transformers = support.require("transformers", KEY)
        with support.hub_ids_as_folders(bert_classes(transformers), berts, KEY):
            support.require("melo.api", KEY)  # imports every language's frontend and tokenizer now, not mid-run
        api = support.require("openvoice.api", KEY, f"check the checkout in {ROOT_ENV}")
        self._se_extractor = support.require("openvoice.se_extractor", KEY, f"check the checkout in {ROOT_ENV}")
        with local_watermarker(support.require("wavmark", KEY), watermarker / WATERMARK_FILE):
            converter = api.ToneColorConverter(str(converter_dir / CONVERTER_FILES[0]), device=device)
        converter.load_ckpt(str(converter_dir / CONVERTER_FILES[1]))
        if converter.hps.data.sampling_rate != OUTPUT_RATE:
            raise ValueError(f"{KEY}: the converter at {converter_dir} runs at {converter.hps.data.sampling_rate} Hz, "
                             f"not {OUTPUT_RATE}")
        self._converter, self._torch, self._transformers, self._device = converter, torch, transformers, device
        self._melo_dirs, self._berts, self._ses_dir, self._bases = melo_dirs, berts, converter_dir / SES_FOLDER, {}

    def _base(self, language: str) -> tuple:
        """MeloTTS for `language` with its base speaker and that speaker's source embedding (built once)."""
        if language not in self._bases:
            melo = support.require("melo.api", KEY)
            folder = self._melo_dirs[language]
            tts = melo.TTS(language=MELO[language][0], device=self._device,
                           config_path=str(folder / MELO_FILES[0]), ckpt_path=str(folder / MELO_FILES[1]))
            name, speaker_id, ses_file = base_speaker({"data": {"spk2id": dict(tts.hps.data.spk2id)}})
            source_se = self._torch.load(str(self._ses_dir / ses_file), map_location=self._device)
            self._bases[language] = (tts, speaker_id, source_se)
        return self._bases[language]

    def _target_se(self, prompt_path: str, target_dir: str):
        """The prompt speaker's tone colour: upstream's get_se(vad=True); for a prompt it refuses as too short
        (under 5 s of speech after VAD), extract_se on the whole prompt, the call get_se ends in."""
        try:
            return self._se_extractor.get_se(prompt_path, self._converter, target_dir=target_dir, vad=VAD)[0]
        except AssertionError as exc:
            if TOO_SHORT not in str(exc):
                raise
        return self._converter.extract_se([prompt_path])

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._converter is None:
            raise RuntimeError(f"{KEY}: clone() called before load()")
        return support.clone_valid(self, requests, lambda valid: [self._clone_one(r) for r in valid])

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        text = request.target_text.strip()
        support.seed_everything(request.seed)
        prompt = prompt_for_model(request.prompt_audio, request.prompt_sample_rate)
        with support.prompt_files([prompt], OUTPUT_RATE) as (prompt_path,), \
                tempfile.TemporaryDirectory(prefix="rvcbench-openvoice2-") as work:
            target_se = self._target_se(str(prompt_path), str(Path(work, "processed")))
            tts, speaker_id, source_se = self._base(request.target_language)
            base_path = str(Path(work, "base.wav"))
            # the language's BERT loads at its first sentence
            with support.hub_ids_as_folders(bert_classes(self._transformers), self._berts, KEY):
                tts.tts_to_file(text, speaker_id, base_path, speed=SPEED, quiet=True)
            wav = self._converter.convert(audio_src_path=base_path, src_se=source_se, tgt_se=target_se,
                                          message=WATERMARK_MESSAGE)
        wav = support.as_waveform(wav, KEY)
        if wav.size == 0:
            return CloneFailure("OpenVoice produced no audio")
        return wav
