"""F5-TTS v1 Base behind the rvcbench contract, following upstream's `F5TTS` API (`f5_tts/api.py`).

`load` does what `F5TTS.__init__` does for `model="F5TTS_v1_Base"`: the package's own config file, the DiT
backbone it names, `utils_infer.load_vocoder` (Vocos, from a local folder: never upstream's Hub download) and
`utils_infer.load_model` on the v1 checkpoint and its vocab. `clone` does what `F5TTS.infer` does: upstream's
`seed_everything`, `preprocess_ref_audio_text` (prompt clipped to at most 12 s at silences, edges trimmed, the
transcript given a final full stop) and `infer_process` (text chunked by the prompt's speaking rate, Euler ODE
over 32 steps with sway sampling and classifier-free guidance, Vocos decoding), with `F5TTS.infer`'s defaults.

F5-TTS conditions on the prompt's transcript; an empty one would make upstream transcribe the prompt with Whisper
(another download), so it is a `CloneFailure` here. One request per call: `infer_process` takes one reference,
and upstream's batch over several references (`CFM.sample` with `lens`, `eval/eval_infer_batch.py`) runs the v1
config without an attention mask over the padding, so a batched item differs from the same item alone (see README).
"""

from __future__ import annotations

from importlib.resources import files
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, VoiceCloner

KEY = "f5_tts"
REPO_ID = "SWivid/F5-TTS"
MODEL_NAME = "F5TTS_v1_Base"  # the package's configs/F5TTS_v1_Base.yaml
CHECKPOINT = f"{MODEL_NAME}/model_1250000.safetensors"  # F5TTS.__init__: ckpt_step 1250000, safetensors
VOCAB = f"{MODEL_NAME}/vocab.txt"
WEIGHT_FILES = (CHECKPOINT, VOCAB)
VOCODER_ID = "charactr/vocos-mel-24khz"  # load_vocoder's Hub download, resolved locally here
VOCODER_FILES = ("config.yaml", "pytorch_model.bin")  # what load_vocoder(is_local=True) reads
SAMPLE_RATE = 24000  # configs/F5TTS_v1_Base.yaml mel_spec.target_sample_rate; utils_infer.target_sample_rate
ODE_METHOD = "euler"  # F5TTS.__init__ default
USE_EMA = True  # F5TTS.__init__ default
GENERATION = {  # F5TTS.infer defaults (also utils_infer's module defaults)
    "target_rms": 0.1,
    "cross_fade_duration": 0.15,
    "nfe_step": 32,
    "cfg_strength": 2.0,
    "sway_sampling_coef": -1.0,
    "speed": 1.0,
    "fix_duration": None,
}
LANGUAGES = frozenset({"en", "zh"})  # the v1 Base model is trained on Emilia ZH+EN

def text_for_model(text: str) -> str:
    """A transcript or target as one line: runs of whitespace (newlines included) become one space."""
    return " ".join(text.split())


def quiet(*_args, **_kwargs) -> None:
    """Upstream's `show_info` callback, silenced (F5TTS.infer passes `print`)."""


class Adapter(VoiceCloner):
    name: ClassVar[str] = KEY
    description: ClassVar[str] = ("F5-TTS v1 Base (SWivid): flow-matching DiT with a ConvNeXt text encoder over 24 kHz "
                                  "mel frames, infilling after the prompt; Vocos vocoder")
    sample_rate: ClassVar[int] = SAMPLE_RATE
    languages: ClassVar[frozenset[str]] = LANGUAGES
    needs_prompt_text: ClassVar[bool] = True
    batch_size: ClassVar[int] = 1  # infer_process takes one reference and one text
    requirements: ClassVar[str] = "models/f5_tts/requirements.txt (f5-tts==1.1.22), GPU recommended"
    version: ClassVar[str] = "1"
    weights_id: ClassVar[str] = REPO_ID
    extra_weights: ClassVar[tuple[str, ...]] = (VOCODER_ID,)
    license: ClassVar[str] = "CC-BY-NC-4.0"
    stack_modules: ClassVar[tuple[str, ...]] = ("f5_tts", "torch", "torchaudio", "vocos", "hydra", "omegaconf",
                                                "pydub", "x_transformers", "torchdiffeq")
    vocoder_weights: str | None = None  # a local Vocos folder; None: VOCODER_ID from the Hugging Face cache

    def __init__(self) -> None:
        self._model = None
        self._vocoder = None
        self._utils = None
        self._mel_spec_type = "vocos"
        self._seed = None
        self._device = "cpu"

    def model_config(self):
        """The package's own config for F5TTS_v1_Base, as `F5TTS.__init__` loads it."""
        omegaconf = support.require("omegaconf", KEY)
        return omegaconf.OmegaConf.load(str(files("f5_tts").joinpath(f"configs/{MODEL_NAME}.yaml")))

    def load(self, device: str) -> None:
        model_dir = support.resolve_weights(self.weights_spec(), REPO_ID, KEY, required_files=WEIGHT_FILES)
        vocoder_dir = support.resolve_weights(self.vocoder_weights, VOCODER_ID, KEY, required_files=VOCODER_FILES)
        for module in self.stack_modules:
            support.require(module, KEY)
        hydra_utils = support.require("hydra.utils", KEY)
        utils = support.require("f5_tts.infer.utils_infer", KEY)
        config = self.model_config()
        rate = int(config.model.mel_spec.target_sample_rate)
        if rate != SAMPLE_RATE or utils.target_sample_rate != SAMPLE_RATE:
            raise ValueError(f"{KEY}: {MODEL_NAME} runs at {rate} Hz (utils_infer: {utils.target_sample_rate}), "
                             f"not {SAMPLE_RATE}")
        model_cls = hydra_utils.get_class(f"f5_tts.model.{config.model.backbone}")
        self._mel_spec_type = str(config.model.mel_spec.mel_spec_type)
        self._vocoder = utils.load_vocoder(self._mel_spec_type, True, str(vocoder_dir), device)
        self._model = utils.load_model(model_cls, config.model.arch, str(model_dir / CHECKPOINT),
                                       self._mel_spec_type, str(model_dir / VOCAB), ODE_METHOD, USE_EMA, device)
        self._utils = utils
        self._seed = support.require("f5_tts.model.utils", KEY).seed_everything
        self._device = device

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._model is None:
            raise RuntimeError(f"{KEY}: clone() called before load()")
        return support.clone_valid(self, requests, lambda valid: [self._clone_one(r) for r in valid])

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        target, transcript = text_for_model(request.target_text), text_for_model(request.prompt_text)
        support.seed_everything(request.seed)
        self._seed(request.seed)  # upstream's, as F5TTS.infer calls it (also sets the cuDNN determinism flags)
        prompt = np.asarray(request.prompt_audio, dtype=np.float32)
        with support.prompt_files([prompt], request.prompt_sample_rate) as (path,):
            ref_file, ref_text = self._utils.preprocess_ref_audio_text(str(path), transcript, show_info=quiet)
        wave, rate, _ = self._utils.infer_process(ref_file, ref_text, target, self._model, self._vocoder,
                                                  mel_spec_type=self._mel_spec_type, show_info=quiet,
                                                  progress=None, device=self._device, **GENERATION)
        if wave is None:
            return CloneFailure("F5-TTS made no text chunks from the target text")
        if rate != SAMPLE_RATE:
            raise ValueError(f"{KEY}: infer_process returned {rate} Hz audio, not {SAMPLE_RATE}")
        return support.as_waveform(wave, KEY)
