"""MaskGCT (Amphion): zero-shot TTS by masked generative codec transformers, run from a checkout of Amphion.

Upstream is not an installable package: `models.tts.maskgct.maskgct_utils` imports from the root of a clone of
open-mmlab/Amphion (MASKGCT_ROOT) and opens its data files (G2P vocabularies, lexicons, the w2v-BERT feature
statistics) by paths relative to the working directory, so loading and cloning run with the clone's root as the
working directory. `load` follows `models/tts/maskgct/maskgct_inference.py`: the `build_*` functions of
`maskgct_utils` on `config/maskgct.json`, each checkpoint file of amphion/MaskGCT loaded strictly (see
`load_checkpoint`), then `MaskGCT_Inference_Pipeline`. Upstream loads `facebook/w2v-bert-2.0` (model and feature
extractor) by Hub id; here those two calls open the local folder `load` resolved instead (no download during a run).
The call is `maskgct_inference(prompt_wav_path, prompt_text, target_text, language, target_language,
target_len=None, ...)` with upstream's defaults: `target_len=None` is upstream's own duration rule (the prompt's
seconds per phone times the target's phones). The T2S stage conditions on the prompt transcript and the target
text, so a request without a prompt transcript is a `CloneFailure`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import ModuleType
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, UpstreamCheckout, VoiceCloner

KEY = "maskgct"
REPO_ID = "amphion/MaskGCT"
SEMANTIC_MODEL_ID = "facebook/w2v-bert-2.0"  # build_semantic_model and the pipeline's feature extractor load it
SEMANTIC_MODEL_FILES = ("config.json", "preprocessor_config.json", "model.safetensors")
UPSTREAM = "https://github.com/open-mmlab/Amphion.git"
COMMIT = "d3de90f02e7f1c7dbc24b04d52fe1b8ef438effe"
ROOT_ENV = "MASKGCT_ROOT"
CONFIG = "models/tts/maskgct/config/maskgct.json"  # relative to the clone, as maskgct_inference.py names it
CHECKPOINTS = {  # pipeline part -> its file in amphion/MaskGCT (maskgct_inference.py's hf_hub_download calls)
    "semantic_codec": "semantic_codec/model.safetensors",
    "codec_encoder": "acoustic_codec/model.safetensors",
    "codec_decoder": "acoustic_codec/model_1.safetensors",
    "t2s_model": "t2s_model/model.safetensors",
    "s2a_model_1layer": "s2a_model/s2a_model_1layer/model.safetensors",
    "s2a_model_full": "s2a_model/s2a_model_full/model.safetensors",
}
WEIGHT_FILES = tuple(CHECKPOINTS.values())
SAMPLE_RATE = 24000  # the acoustic codec's rate: maskgct_inference.py writes the output at 24000
LANGUAGES = frozenset({"zh", "en", "ja", "ko", "fr", "de"})  # PhonemeBpeTokenizer.lang2backend; gradio_demo's list
S2A_STEPS = (25, 10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)  # one entry per acoustic codebook (12)


def inference_settings() -> dict:
    """The keyword arguments of `maskgct_inference` after the texts and languages: upstream's defaults."""
    return {"target_len": None, "n_timesteps": 25, "cfg": 2.5, "rescale_cfg": 0.75,
            "n_timesteps_s2a": list(S2A_STEPS), "cfg_s2a": 2.5, "rescale_cfg_s2a": 0.75}


def prompt_for_file(audio: np.ndarray) -> np.ndarray:
    """The prompt as written to the file upstream reads: float32 mono at its own rate (librosa resamples it to
    16 kHz for w2v-BERT and 24 kHz for the acoustic codec, as upstream loads any prompt file)."""
    return np.asarray(audio, dtype=np.float32).reshape(-1)


def prompt_language_problem(request: CloneRequest, languages: frozenset[str]) -> str | None:
    """MaskGCT's G2P also reads the prompt's transcript, so the prompt's language must be one it covers too."""
    if request.prompt_language not in languages:
        return f"unsupported prompt language: {request.prompt_language}"
    return None


def build_parts(utils: ModuleType, cfg, device) -> dict:
    """The six parts upstream's builders make from the config, keyed like `CHECKPOINTS` (amphion/MaskGCT's files)."""
    encoder, decoder = utils.build_acoustic_codec(cfg.acoustic_codec, device)
    return {"semantic_codec": utils.build_semantic_codec(cfg.semantic_codec, device),
            "codec_encoder": encoder, "codec_decoder": decoder,
            "t2s_model": utils.build_t2s_model(cfg.t2s_model, device),
            "s2a_model_1layer": utils.build_s2a_model(cfg.s2a_model.s2a_1layer, device),
            "s2a_model_full": utils.build_s2a_model(cfg.s2a_model.s2a_full, device)}


def load_checkpoint(safetensors_torch: ModuleType, module, path: Path) -> None:
    """Load one safetensors file into `module`, strictly (every key, no extra ones), as upstream's `load_model` does.

    Upstream calls `safetensors.torch.load_model`, which refuses a tensor that does not cover its whole storage:
    the acoustic codec's Vocos ISTFT window is `torch.hann_window(n)`, a view of n + 1 values, and stays one on CPU
    (on CUDA `.to(device)` copies it). `load_file` + `load_state_dict(strict=True)` loads the same on every device.
    Found by models/maskgct/random_weight_check.py.
    """
    module.load_state_dict(safetensors_torch.load_file(str(path), device="cpu"), strict=True)


class Adapter(VoiceCloner):
    name: ClassVar[str] = KEY
    description: ClassVar[str] = ("MaskGCT (Amphion): non-autoregressive masked generative T2S (text to w2v-BERT "
                                  "semantic tokens) + S2A (semantic to 12-codebook acoustic tokens), zero-shot")
    sample_rate: ClassVar[int] = SAMPLE_RATE
    languages: ClassVar[frozenset[str]] = LANGUAGES
    needs_prompt_text: ClassVar[bool] = True
    batch_size: ClassVar[int] = 1  # maskgct_inference takes one prompt file and one text
    requirements: ClassVar[str] = (f"models/maskgct/requirements.txt + espeak-ng + a checkout of {UPSTREAM} in "
                                   f"{ROOT_ENV}; GPU")
    version: ClassVar[str] = "1"
    weights_id: ClassVar[str] = REPO_ID
    extra_weights: ClassVar[tuple[str, ...]] = (SEMANTIC_MODEL_ID,)
    checkout: ClassVar[UpstreamCheckout] = UpstreamCheckout(ROOT_ENV, UPSTREAM, COMMIT,
                                                            "models/tts/maskgct/maskgct_utils.py")
    license: ClassVar[str] = "CC-BY-NC-4.0"
    stack_modules: ClassVar[tuple[str, ...]] = ("torch", "torchaudio", "transformers", "safetensors", "librosa",
                                                "einops", "json5", "phonemizer", "jieba", "cn2an", "pypinyin",
                                                "LangSegment", "pyopenjtalk", "pykakasi", "onnxruntime", "inflect",
                                                "unidecode")

    def __init__(self) -> None:
        self._pipeline = None
        self._root: Path | None = None

    def load(self, device: str) -> None:
        """Build the six MaskGCT parts and w2v-BERT 2.0 on `device` (fp32, as upstream) and load their weights."""
        weights = support.resolve_weights(self.weights_spec(), REPO_ID, KEY, required_files=WEIGHT_FILES)
        semantic_dir = support.resolve_weights(None, SEMANTIC_MODEL_ID, KEY, required_files=SEMANTIC_MODEL_FILES)
        for module in self.stack_modules:
            support.require(module, KEY)
        root = support.upstream_checkout(self.checkout, KEY)
        torch = support.require("torch", KEY)
        safetensors_torch = support.require("safetensors.torch", KEY)
        dev = torch.device(device)
        with contextlib.chdir(root):  # upstream opens its data files relative to the clone's root
            utils = support.require("models.tts.maskgct.maskgct_utils", KEY, f"check the checkout in {ROOT_ENV}")
            cfg = utils.load_config(CONFIG).model
            with support.hub_ids_as_folders((utils.Wav2Vec2BertModel, utils.SeamlessM4TFeatureExtractor),
                                            {SEMANTIC_MODEL_ID: semantic_dir}, KEY):
                semantic_model, semantic_mean, semantic_std = utils.build_semantic_model(dev)
                parts = build_parts(utils, cfg, dev)
                codec_encoder, codec_decoder = parts["codec_encoder"], parts["codec_decoder"]
                for part, module in parts.items():
                    load_checkpoint(safetensors_torch, module, weights / CHECKPOINTS[part])
                self._pipeline = utils.MaskGCT_Inference_Pipeline(
                    semantic_model, parts["semantic_codec"], codec_encoder, codec_decoder, parts["t2s_model"],
                    parts["s2a_model_1layer"], parts["s2a_model_full"], semantic_mean, semantic_std, dev)
        self._root = root

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._pipeline is None:
            raise RuntimeError(f"{KEY}: clone() called before load()")
        return support.clone_valid(self, requests, lambda valid: [self._clone_one(r) for r in valid],
                                   also=lambda request: prompt_language_problem(request, self.languages))

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        support.seed_everything(request.seed)  # the masked decoding samples with torch's global generator
        with support.prompt_files([prompt_for_file(request.prompt_audio)], request.prompt_sample_rate) as (path,), \
                contextlib.chdir(self._root):
            wav = self._pipeline.maskgct_inference(str(path), request.prompt_text, request.target_text,
                                                   language=request.prompt_language,
                                                   target_language=request.target_language, **inference_settings())
        wav = support.as_waveform(wav, KEY)
        if wav.size == 0:
            return CloneFailure("MaskGCT generated no audio (an estimated target length of zero frames)")
        return wav
