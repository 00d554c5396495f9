"""IndexTTS2 (bilibili IndexTeam): zero-shot cloning with a GPT over MaskGCT semantic codes, run from a checkout.

Upstream (index-tts/index-tts) runs from a clone named by INDEXTTS_ROOT. The call is upstream's
`IndexTTS2(cfg_path, model_dir, device=..., use_qwen_emo=False, aux_paths=...).infer(spk_audio_prompt, text,
output_path=None)` with its default sampling: the speaker prompt is also the emotion prompt (no emotion vector or
text), which is upstream's plain voice-cloning mode. The auxiliary models that upstream's `__init__` would
otherwise download into `<model_dir>/hf_cache` (w2v-BERT 2.0, the MaskGCT semantic codec, CAMPPlus, BigVGAN)
are resolved here from the local Hugging Face cache and handed to it as `aux_paths`, so nothing is downloaded.
No transcript of the prompt is used.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, UpstreamCheckout, VoiceCloner

KEY = "indextts"
REPO_ID = "IndexTeam/IndexTTS-2"
UPSTREAM = "https://github.com/index-tts/index-tts.git"
COMMIT = "ee40fa7d6c6b8a2c7f06105f9f1e65775b74868c"
ROOT_ENV = "INDEXTTS_ROOT"
# The files of IndexTeam/IndexTTS-2 that IndexTTS2.__init__ reads (config.yaml names them); the emotion-text
# model (qwen0.6bemo4-merge/) is not loaded: use_qwen_emo=False, since the adapter never asks for emotion text.
WEIGHT_FILES = ("config.yaml", "gpt.pth", "s2mel.pth", "bpe.model", "wav2vec2bert_stats.pt", "feat1.pt", "feat2.pt")
# aux_paths key -> (Hugging Face id, files read, what upstream's __init__ is given: the folder or one file in it).
# These are the ids and files of upstream's indextts/utils/model_download.py `ensure_models_available`.
AUX_WEIGHTS = {
    "w2v_bert": ("facebook/w2v-bert-2.0", ("config.json", "preprocessor_config.json", "model.safetensors"), None),
    "semantic_codec": ("amphion/MaskGCT", ("semantic_codec/model.safetensors",), "semantic_codec/model.safetensors"),
    "campplus": ("funasr/campplus", ("campplus_cn_common.bin",), "campplus_cn_common.bin"),
    "bigvgan": ("nvidia/bigvgan_v2_22khz_80band_256x", ("config.json", "bigvgan_generator.pt"), None),
}
SAMPLE_RATE = 22050  # infer_generator's `sampling_rate = 22050` (BigVGAN 22 kHz, 80 bands, hop 256)
PCM16_MAX = 32767.0  # upstream scales the waveform to int16 (indextts/utils/common.py PCM16_MAX)
RUNAWAY_WARNING = "exceeding `max_mel_tokens`"  # infer_generator's warning when a segment never stopped


def prompt_for_model(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The prompt as written to the file upstream reads: float32 mono at its own rate (upstream resamples it with
    librosa to 22.05 kHz and 16 kHz, and keeps the first 15 s)."""
    return np.asarray(audio, dtype=np.float32)


def text_for_model(text: str) -> str:
    """The target text as upstream's text normalizer gets it: stripped (upstream normalizes and segments it)."""
    return text.strip()


def waveform_from(output, model: str = KEY) -> np.ndarray:
    """infer(output_path=None)'s `(sampling_rate, int16 array (samples, 1))` as float32 mono in [-1, 1]."""
    rate, pcm = output
    if int(rate) != SAMPLE_RATE:
        raise ValueError(f"IndexTTS2 returned audio at {rate} Hz, not {SAMPLE_RATE}")
    return support.as_waveform(np.asarray(pcm, dtype=np.float32) / PCM16_MAX, model)


def ran_away(caught: list[warnings.WarningMessage]) -> bool:
    """Whether upstream warned that a segment reached `max_mel_tokens` without its stop token."""
    return any(RUNAWAY_WARNING in str(w.message) for w in caught)


def aux_paths(resolve) -> dict[str, str]:
    """Upstream's `aux_paths` dict from `resolve(repo_id, required_files) -> folder` for each auxiliary model."""
    paths = {}
    for key, (repo_id, files, member) in AUX_WEIGHTS.items():
        folder = Path(resolve(repo_id, files))
        paths[key] = str(folder / member if member else folder)
    return paths


class Adapter(VoiceCloner):
    name: ClassVar[str] = KEY
    description: ClassVar[str] = ("IndexTTS2 (bilibili): GPT over MaskGCT semantic codes of w2v-BERT 2.0 features, "
                                  "flow-matching DiT to mel, BigVGAN vocoder; the speaker prompt is the emotion prompt")
    sample_rate: ClassVar[int] = SAMPLE_RATE
    languages: ClassVar[frozenset[str]] = frozenset({"en", "zh"})
    needs_prompt_text: ClassVar[bool] = False
    batch_size: ClassVar[int] = 1  # IndexTTS2.infer takes one text and one prompt (autoregressive_batch_size = 1)
    requirements: ClassVar[str] = f"models/indextts/requirements.txt + a checkout of {UPSTREAM} in {ROOT_ENV}; GPU"
    version: ClassVar[str] = "1"
    weights_id: ClassVar[str] = REPO_ID
    extra_weights: ClassVar[tuple[str, ...]] = tuple(repo_id for repo_id, _, _ in AUX_WEIGHTS.values())
    checkout: ClassVar[UpstreamCheckout] = UpstreamCheckout(ROOT_ENV, UPSTREAM, COMMIT, "indextts/infer_v2.py")
    license: ClassVar[str] = "bilibili Model Use License Agreement"
    stack_modules: ClassVar[tuple[str, ...]] = ("torch", "torchaudio", "transformers", "librosa", "omegaconf",
                                                "sentencepiece", "safetensors", "munch", "einops", "modelscope",
                                                "whisper", "tn")

    def __init__(self) -> None:
        self._model = None

    def load(self, device: str) -> None:
        """Build IndexTTS2 from the checkpoint folder on `device`, with the auxiliary models given as local paths."""
        model_dir = support.resolve_weights(self.weights_spec(), REPO_ID, self.name, required_files=WEIGHT_FILES)
        aux = aux_paths(lambda repo_id, files: support.resolve_weights(None, repo_id, self.name, required_files=files))
        for module in self.stack_modules:
            support.require(module, self.name)
        support.upstream_checkout(self.checkout, self.name)
        infer_v2 = support.require("indextts.infer_v2", self.name, f"check the checkout in {ROOT_ENV}")
        self._model = infer_v2.IndexTTS2(cfg_path=str(Path(model_dir, "config.yaml")), model_dir=str(model_dir),
                                         use_fp16=False, device=device, use_cuda_kernel=False, use_deepspeed=False,
                                         use_qwen_emo=False, aux_paths=aux)

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._model is None:
            raise RuntimeError(f"{KEY}: clone() called before load()")
        return [self._clone_one(request) for request in requests]

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        refused = support.refusal(self, request)
        if refused is not None:
            return refused
        text = text_for_model(request.target_text)
        support.seed_everything(request.seed)
        # upstream caches the prompt's features keyed by its file path; a temporary path can repeat
        self._model.cache_spk_cond = None
        self._model.cache_emo_cond = None
        prompt = prompt_for_model(request.prompt_audio, request.prompt_sample_rate)
        with support.prompt_files([prompt], request.prompt_sample_rate) as (path,), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            output = self._model.infer(spk_audio_prompt=str(path), text=text, output_path=None, verbose=False)
        if output is None:
            return CloneFailure("IndexTTS2 found no text segments to speak")
        if ran_away(caught):
            return CloneFailure("IndexTTS2 reached max_mel_tokens without a stop token (runaway generation)")
        wave = waveform_from(output)
        if wave.size == 0:
            return CloneFailure("IndexTTS2 generated no audio")
        return wave
