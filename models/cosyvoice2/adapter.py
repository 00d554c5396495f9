"""CosyVoice 2 (0.5B): zero-shot cloning from a prompt and its transcript, run from a checkout of FunAudioLLM/CosyVoice.

Upstream is not an installable package: `cosyvoice` and its vendored Matcha-TTS import from the clone
named by COSYVOICE_ROOT. The call is upstream's `CosyVoice2(model_dir).inference_zero_shot(...)`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, UpstreamCheckout, VoiceCloner
from rvcbench.errors import MissingDependencyError

REPO_ID = "FunAudioLLM/CosyVoice2-0.5B"
UPSTREAM = "https://github.com/FunAudioLLM/CosyVoice.git"
COMMIT = "ace7c47f41bbd303aa6bf1ea80e6f9fbd595cd40"
ROOT_ENV = "COSYVOICE_ROOT"
WEIGHT_FILES = ("cosyvoice2.yaml", "llm.pt", "flow.pt", "hift.pt", "campplus.onnx", "speech_tokenizer_v2.onnx",
                "CosyVoice-BlankEN/config.json")
PROMPT_RATE = 24000  # the frontend reads the prompt file at 16 kHz (tokens, speaker) and 24 kHz (mel)
MAX_PROMPT_SECONDS = 30.0  # upstream's speech tokenizer asserts prompts are at most 30 s
WETEXT_FSTS = "pengzhendong/wetext"  # the ModelScope repository wetext 0.0.4's Normalizer() fetches its FSTs from

log = logging.getLogger(__name__)


def prompt_for_model(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The prompt as written to the file the frontend reads: float32 mono at 24 kHz."""
    return support.prompt_at(audio, sample_rate, PROMPT_RATE)


def prompt_problem(request: CloneRequest) -> str | None:
    """Why upstream cannot take this prompt (a failure reason), or None when it can. Undeclared languages, empty
    texts and empty transcripts are refused before this, by `support.refusal`."""
    seconds = len(request.prompt_audio) / request.prompt_sample_rate
    if seconds > MAX_PROMPT_SECONDS:
        return f"prompt is {seconds:.1f} s long; CosyVoice2's speech tokenizer takes at most {MAX_PROMPT_SECONDS:g} s"
    return None


@contextmanager
def wetext_from_cache(wetext) -> Iterator[None]:
    """While the block runs, wetext (module `wetext.wetext`, or None when not installed) finds its FSTs only in the
    local ModelScope cache: upstream's frontend builds `wetext.Normalizer()`, which otherwise downloads
    `pengzhendong/wetext` from ModelScope. When they are not cached the Normalizer raises, and upstream's frontend
    falls back to its own normalisation (`text_frontend == ''`)."""
    if wetext is None:
        yield
        return
    download = wetext.snapshot_download

    def cached_only(model_id, *args, **kwargs):
        return download(model_id, *args, **{**kwargs, "local_files_only": True})

    wetext.snapshot_download = cached_only
    try:
        yield
    finally:
        wetext.snapshot_download = download


class Adapter(VoiceCloner):
    name: ClassVar[str] = "cosyvoice2"
    description: ClassVar[str] = "CosyVoice 2 0.5B (Alibaba FunAudioLLM): LLM speech tokens + flow matching, zero-shot"
    sample_rate: ClassVar[int] = 24000
    languages: ClassVar[frozenset[str]] = frozenset({"zh", "en", "ja", "ko", "yue"})
    needs_prompt_text: ClassVar[bool] = True
    batch_size: ClassVar[int] = 1  # inference_zero_shot takes one text and one prompt
    requirements: ClassVar[str] = (f"models/cosyvoice2/requirements.txt + a checkout of {UPSTREAM} in {ROOT_ENV}; "
                                   "CUDA GPU recommended")
    version: ClassVar[str] = "2"
    weights_id: ClassVar[str] = REPO_ID
    checkout: ClassVar[UpstreamCheckout] = UpstreamCheckout(
        ROOT_ENV, UPSTREAM, COMMIT, "cosyvoice/cli/cosyvoice.py", ("", "third_party/Matcha-TTS"))
    license: ClassVar[str] = "Apache-2.0"
    stack_modules: ClassVar[tuple[str, ...]] = ("torch", "torchaudio", "hyperpyyaml", "onnxruntime", "whisper",
                                                "transformers", "modelscope", "diffusers", "conformer", "inflect",
                                                "lightning", "hydra", "gdown", "wget")  # the last four: matcha.utils

    def __init__(self) -> None:
        self._model = None
        self.text_frontend: str | None = None  # which normalisation upstream's frontend chose at load

    def load(self, device: str) -> None:
        """Build CosyVoice2 from the checkpoint folder (upstream picks CUDA when available)."""
        model_dir = support.resolve_weights(self.weights_spec(), REPO_ID, self.name, required_files=WEIGHT_FILES)
        for module in self.stack_modules:
            support.require(module, self.name)
        support.upstream_checkout(self.checkout, self.name)
        cosyvoice = support.require("cosyvoice.cli.cosyvoice", self.name, f"check the checkout in {ROOT_ENV}")
        try:
            wetext = support.require("wetext.wetext", self.name)
        except MissingDependencyError:
            wetext = None  # upstream's frontend then uses its own normalisation
        with wetext_from_cache(wetext):
            self._model = cosyvoice.CosyVoice2(str(model_dir), load_jit=False, load_trt=False, fp16=False)
        if self._model.sample_rate != self.sample_rate:
            raise ValueError(f"CosyVoice2 at {model_dir} runs at {self._model.sample_rate} Hz, not {self.sample_rate}")
        self.text_frontend = self._model.frontend.text_frontend or "none"
        if self.text_frontend == "none":
            log.warning("cosyvoice2: neither ttsfrd nor wetext's FSTs are here, so upstream's frontend normalises text "
                        "with its fallback (numbers spelled out by inflect for non-Chinese text only); for wetext run "
                        "`modelscope download --model %s` before loading", WETEXT_FSTS)

    def describe(self) -> dict:
        return {**super().describe(), "text_frontend": self.text_frontend}

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._model is None:
            raise RuntimeError("cosyvoice2: clone called before load()")
        return support.clone_valid(self, requests, lambda valid: [self._clone_one(request) for request in valid],
                                   also=prompt_problem)

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        support.seed_everything(request.seed)
        prompt = prompt_for_model(request.prompt_audio, request.prompt_sample_rate)
        with support.prompt_files([prompt], PROMPT_RATE) as (path,):
            segments = [support.as_waveform(out["tts_speech"], self.name) for out in
                        self._model.inference_zero_shot(request.target_text, request.prompt_text, str(path),
                                                        stream=False, speed=1.0, text_frontend=True)]
        if not segments:
            return CloneFailure("CosyVoice2 generated no audio (the text normalised to nothing)")
        return np.concatenate(segments)
