"""Spark-TTS 0.5B: zero-shot cloning with BiCodec global tokens from the prompt, run from a checkout.

Upstream (SparkAudio/Spark-TTS) is not an installable package: `cli.SparkTTS` and `sparktts` import
from the clone named by SPARKTTS_ROOT. The call is upstream's
`SparkTTS(model_dir, device).inference(text, prompt_speech_path, prompt_text)` with its default sampling.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, UpstreamCheckout, VoiceCloner

REPO_ID = "SparkAudio/Spark-TTS-0.5B"
UPSTREAM = "https://github.com/SparkAudio/Spark-TTS.git"
COMMIT = "2f1ea9082400547242641f5271b6f941c9f439d1"
ROOT_ENV = "SPARKTTS_ROOT"
WEIGHT_FILES = ("config.yaml", "LLM/config.json", "BiCodec/config.yaml", "BiCodec/model.safetensors",
                "wav2vec2-large-xlsr-53/config.json")
SAMPLE_RATE = 16000  # BiCodec reads and writes 16 kHz (config.yaml `sample_rate`)
SAMPLING = {"temperature": 0.8, "top_k": 50, "top_p": 0.95}  # the defaults of SparkTTS.inference


def prompt_for_model(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The prompt as written to the file BiCodec tokenizes: float32 mono at 16 kHz."""
    return support.prompt_at(audio, sample_rate, SAMPLE_RATE)


def prompt_text_for_model(text: str) -> str | None:
    """The transcript argument: used when the manifest has one, else None (upstream's global-tokens-only mode)."""
    text = text.strip()
    return text or None


class Adapter(VoiceCloner):
    name: ClassVar[str] = "sparktts"
    description: ClassVar[str] = "Spark-TTS 0.5B (Qwen2.5 LLM over BiCodec single-stream tokens), zero-shot"
    sample_rate: ClassVar[int] = SAMPLE_RATE
    languages: ClassVar[frozenset[str]] = frozenset({"en", "zh"})
    needs_prompt_text: ClassVar[bool] = False  # optional: used when present
    batch_size: ClassVar[int] = 1  # SparkTTS.inference takes one text and one prompt
    requirements: ClassVar[str] = f"models/sparktts/requirements.txt + a checkout of {UPSTREAM} in {ROOT_ENV}; GPU"
    version: ClassVar[str] = "1"
    weights_id: ClassVar[str] = REPO_ID
    checkout: ClassVar[UpstreamCheckout] = UpstreamCheckout(ROOT_ENV, UPSTREAM, COMMIT, "cli/SparkTTS.py")
    license: ClassVar[str] = "CC-BY-NC-SA-4.0"
    stack_modules: ClassVar[tuple[str, ...]] = ("torch", "torchaudio", "transformers", "soundfile", "soxr", "omegaconf",
                                                "einx", "einops", "safetensors")  # torchaudio: sparktts/utils/audio.py

    def __init__(self) -> None:
        self._model = None

    def load(self, device: str) -> None:
        """Build SparkTTS from the checkpoint folder on `device`."""
        model_dir = support.resolve_weights(self.weights_spec(), REPO_ID, self.name, required_files=WEIGHT_FILES)
        for module in self.stack_modules:
            support.require(module, self.name)
        torch = support.require("torch", self.name)
        support.upstream_checkout(self.checkout, self.name)
        spark = support.require("cli.SparkTTS", self.name, f"check the checkout in {ROOT_ENV}")
        self._model = spark.SparkTTS(model_dir, torch.device(device))
        if self._model.sample_rate != self.sample_rate:
            raise ValueError(f"Spark-TTS at {model_dir} runs at {self._model.sample_rate} Hz, not {self.sample_rate}")

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._model is None:
            raise RuntimeError("sparktts: clone called before load()")
        return support.clone_valid(self, requests, lambda valid: [self._clone_one(request) for request in valid])

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        support.seed_everything(request.seed)
        prompt = prompt_for_model(request.prompt_audio, request.prompt_sample_rate)
        with support.prompt_files([prompt], SAMPLE_RATE) as (path,):
            wav = self._model.inference(request.target_text, path,
                                        prompt_text=prompt_text_for_model(request.prompt_text), **SAMPLING)
        wav = support.as_waveform(wav, self.name)
        if wav.size == 0:
            return CloneFailure("Spark-TTS generated no semantic tokens")
        return wav
