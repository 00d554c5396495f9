"""OZSpeech: one-step flow-matching TTS over FaCodec codes, prompted by the reference audio only (English).

Upstream (ozspeech/OZSpeech) runs from a checkout (`zact` package, OZSPEECH_ROOT). Its checkpoint and
config are published on Google Drive, not on Hugging Face, so the default weights are a local folder;
FaCodec comes from the Hugging Face cache. The call is upstream's `ZACT.synthesize(text, acoustic_prompt, ...)`.
Its English front end reads the checkout's LibriSpeech lexicon and g2p_en, whose NLTK data is checked in `load`
(g2p_en would otherwise try to download it when imported, and nltk 3.9's tagger is not among its look-ups).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, UpstreamCheckout, VoiceCloner
from rvcbench.errors import MissingDependencyError

UPSTREAM = "https://github.com/ozspeech/OZSpeech.git"
COMMIT = "3b2a08dd09a3bc9467630528ae964050d0d72bac"
ROOT_ENV = "OZSPEECH_ROOT"
DRIVE_FOLDER = "https://drive.google.com/drive/folders/1XVjNHNvPQ6KF87i0mG2GDm4MTREXpp-o"  # from upstream's README
DEFAULT_WEIGHTS = "~/.cache/rvcbench/ozspeech"
FACODEC_ID = "amphion/naturalspeech3_facodec"
FACODEC_FILES = ("ns3_facodec_encoder.bin", "ns3_facodec_decoder.bin")
SAMPLE_RATE = 16000  # FaCodec's rate: prompt in, speech out
TEMPERATURE = 0.01  # synthesize.py's default (`--temp 0.01`), the setting of upstream's LibriSpeech evaluation
LEXICON = "zact/lexicon/librispeech-lexicon.txt"  # ZACT._read_lexicon's default, opened by every synthesize call
# The NLTK data g2p_en reads: its import looks up (and, when missing, downloads) the first two; nltk 3.9's pos_tag
# reads the third. Checked before g2p_en is imported, so nothing is fetched during a run.
NLTK_DATA = {"cmudict": "corpora/cmudict.zip", "averaged_perceptron_tagger": "taggers/averaged_perceptron_tagger.zip",
             "averaged_perceptron_tagger_eng": "taggers/averaged_perceptron_tagger_eng/"}


def download_hint(folder: Path) -> str:
    return f"`pip install gdown && gdown --folder {DRIVE_FOLDER} -O {folder}` (or pass `--weights FOLDER`)"


def find_checkpoint(folder: str | Path) -> tuple[Path, Path]:
    """The checkpoint (*.pt/*.ckpt) and model config (*.yaml/*.yml) in `folder`: exactly one of each."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise MissingDependencyError(f"model 'ozspeech': weights folder {folder} does not exist. "
                                     f"Download upstream's checkpoint and config with {download_hint(folder)}.")
    checkpoints = sorted([*folder.glob("*.pt"), *folder.glob("*.ckpt")])
    configs = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if len(checkpoints) != 1 or len(configs) != 1:
        found = ", ".join(p.name for p in checkpoints + configs) or "nothing"
        raise MissingDependencyError(
            f"model 'ozspeech': {folder} must hold exactly one checkpoint (*.pt) and one config (*.yaml); "
            f"found {found}. Download them with {download_hint(folder)}.")
    return checkpoints[0], configs[0]


def prompt_for_model(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The acoustic prompt as FaCodec encodes it: float32 mono at 16 kHz."""
    return support.prompt_at(audio, sample_rate, SAMPLE_RATE)


def check_lexicon(root: Path) -> None:
    if not (root / LEXICON).is_file():
        raise MissingDependencyError(f"model 'ozspeech': the checkout {root} lacks {LEXICON}, which synthesize reads "
                                     f"for every text: restore it with `git -C {root} checkout {COMMIT} -- {LEXICON}`.")


def text_problem(text: str) -> str | None:
    """Why the English front end cannot read `text` (a failure reason), or None when it can."""
    if not any(ch.isalpha() for ch in text):
        return "target text has no letters to phonemise"
    return None


class Adapter(VoiceCloner):
    name: ClassVar[str] = "ozspeech"
    description: ClassVar[str] = "OZSpeech: learned-prior one-step flow matching over NaturalSpeech 3 FaCodec codes"
    sample_rate: ClassVar[int] = SAMPLE_RATE
    languages: ClassVar[frozenset[str]] = frozenset({"en"})
    needs_prompt_text: ClassVar[bool] = False
    batch_size: ClassVar[int] = 1  # ZACT.synthesize takes one text and one prompt
    requirements: ClassVar[str] = (f"models/ozspeech/requirements.txt + a checkout of {UPSTREAM} in {ROOT_ENV} + "
                                   f"the Google Drive checkpoint; CPU works, GPU faster")
    version: ClassVar[str] = "2"  # 2: undeclared languages and empty texts refused per item; NLTK data checked
    weights_id: ClassVar[str] = DEFAULT_WEIGHTS
    extra_weights: ClassVar[tuple[str, ...]] = (FACODEC_ID,)
    checkout: ClassVar[UpstreamCheckout] = UpstreamCheckout(ROOT_ENV, UPSTREAM, COMMIT, "zact/models/zact.py")
    license: ClassVar[str] = "no licence stated upstream for OZSpeech code or weights; FaCodec Apache-2.0"
    stack_modules: ClassVar[tuple[str, ...]] = ("torch", "torchaudio", "librosa", "omegaconf", "lightning",
                                                "transformers", "nltk", "g2p_en", "unidecode", "inflect", "einops",
                                                "pyworld", "tgt", "matplotlib", "gdown", "wget")  # what zact imports

    def __init__(self) -> None:
        self._model = None

    def load(self, device: str) -> None:
        """Load FaCodec from the checkout's codec config and the ZACT model from the checkpoint folder."""
        checkpoint, config = find_checkpoint(self.weights_spec())
        facodec = support.resolve_weights(None, FACODEC_ID, self.name, required_files=FACODEC_FILES)
        # before g2p_en's import, which would fetch it
        support.require_nltk_data(NLTK_DATA, self.name, "g2p_en (nltk's tagger reads averaged_perceptron_tagger_eng)")
        for module in self.stack_modules:
            support.require(module, self.name)
        omegaconf, self._torch = support.require("omegaconf", self.name), support.require("torch", self.name)
        root = support.upstream_checkout(self.checkout, self.name)
        check_lexicon(root)
        zact = support.require("zact", self.name, f"check the checkout in {ROOT_ENV}")
        codec = support.require("zact.models.facodec", self.name, f"check the checkout in {ROOT_ENV}")
        codec_cfg = omegaconf.OmegaConf.load(root / "configs" / "codec.yaml")
        codec_cfg["encoder"]["device"] = codec_cfg["decoder"]["device"] = device
        self._encoder = codec.FACodecEncoder.from_pretrained(codec_cfg["encoder"], facodec / FACODEC_FILES[0])
        self._decoder = codec.FACodecDecoder.from_pretrained(codec_cfg["decoder"], facodec / FACODEC_FILES[1])
        self._encoder.eval().to(device)
        self._decoder.eval().to(device)
        self._model = zact.ZACT.from_pretrained(cfg=omegaconf.OmegaConf.load(config), ckpt_path=str(checkpoint),
                                                device=device, training_mode=False).to(device)

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._model is None:
            raise RuntimeError("ozspeech: clone called before load()")
        return support.clone_valid(self, requests, lambda valid: [self._clone_one(r) for r in valid],
                                   also=lambda request: text_problem(request.target_text))

    def _clone_one(self, request: CloneRequest) -> np.ndarray:
        support.seed_everything(request.seed)
        with self._torch.no_grad():
            output = self._model.synthesize(
                text=request.target_text, acoustic_prompt=prompt_for_model(request.prompt_audio,
                                                                           request.prompt_sample_rate),
                sr=SAMPLE_RATE, codec_encoder=self._encoder, codec_decoder=self._decoder, temperature=TEMPERATURE)
        return support.as_waveform(output["synth_wav"], self.name)
