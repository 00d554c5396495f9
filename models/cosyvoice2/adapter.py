"""CosyVoice 2 (0.5B): zero-shot cloning from a prompt and its transcript, run from a checkout of FunAudioLLM/CosyVoice.

Upstream is not an installable package: `cosyvoice` and its vendored Matcha-TTS import from the clone
named by COSYVOICE_ROOT. The call is upstream's `CosyVoice2(model_dir).inference_zero_shot(...)`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, UpstreamCheckout, VoiceCloner

REPO_ID = "FunAudioLLM/CosyVoice2-0.5B"
UPSTREAM = "https://github.com/FunAudioLLM/CosyVoice.git"
COMMIT = "ace7c47f41bbd303aa6bf1ea80e6f9fbd595cd40"
ROOT_ENV = "COSYVOICE_ROOT"
WEIGHT_FILES = ("cosyvoice2.yaml", "llm.pt", "flow.pt", "hift.pt", "campplus.onnx", "speech_tokenizer_v2.onnx",
                "CosyVoice-BlankEN/config.json")
PROMPT_RATE = 24000  # the frontend reads the prompt file at 16 kHz (tokens, speaker) and 24 kHz (mel)
MAX_PROMPT_SECONDS = 30.0  # upstream's speech tokenizer asserts prompts are at most 30 s


def prompt_for_model(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The prompt as written to the file the frontend reads: float32 mono at 24 kHz."""
    return support.prompt_at(audio, sample_rate, PROMPT_RATE)


def input_problem(request: CloneRequest) -> str | None:
    """Why upstream cannot take this request (a failure reason), or None when it can."""
    if not request.target_text.strip():
        return "empty target text"
    if not request.prompt_text.strip():
        return "CosyVoice2 zero-shot cloning needs the prompt transcript, which is empty"
    seconds = len(request.prompt_audio) / request.prompt_sample_rate
    if seconds > MAX_PROMPT_SECONDS:
        return f"prompt is {seconds:.1f} s long; CosyVoice2's speech tokenizer takes at most {MAX_PROMPT_SECONDS:g} s"
    return None


class Adapter(VoiceCloner):
    name: ClassVar[str] = "cosyvoice2"
    description: ClassVar[str] = "CosyVoice 2 0.5B (Alibaba FunAudioLLM): LLM speech tokens + flow matching, zero-shot"
    sample_rate: ClassVar[int] = 24000
    languages: ClassVar[frozenset[str]] = frozenset({"zh", "en", "ja", "ko", "yue"})
    needs_prompt_text: ClassVar[bool] = True
    batch_size: ClassVar[int] = 1  # inference_zero_shot takes one text and one prompt
    requirements: ClassVar[str] = (f"models/cosyvoice2/requirements.txt + a checkout of {UPSTREAM} in {ROOT_ENV}; "
                                   "CUDA GPU recommended")
    version: ClassVar[str] = "1"
    weights_id: ClassVar[str] = REPO_ID
    checkout: ClassVar[UpstreamCheckout] = UpstreamCheckout(
        ROOT_ENV, UPSTREAM, COMMIT, "cosyvoice/cli/cosyvoice.py", ("", "third_party/Matcha-TTS"))
    license: ClassVar[str] = "Apache-2.0"
    stack_modules: ClassVar[tuple[str, ...]] = ("torch", "torchaudio", "hyperpyyaml", "onnxruntime", "whisper",
                                                "transformers", "modelscope", "diffusers", "conformer", "inflect")

    def __init__(self) -> None:
        self._model = None

    def load(self, device: str) -> None:
        """Build CosyVoice2 from the checkpoint folder (upstream picks CUDA when available)."""
        model_dir = support.resolve_weights(self.weights_spec(), REPO_ID, self.name, required_files=WEIGHT_FILES)
        for module in self.stack_modules:
            support.require(module, self.name)
        support.upstream_checkout(self.checkout, self.name)
        cosyvoice = support.require("cosyvoice.cli.cosyvoice", self.name, f"check the checkout in {ROOT_ENV}")
        self._model = cosyvoice.CosyVoice2(str(model_dir), load_jit=False, load_trt=False, fp16=False)
        if self._model.sample_rate != self.sample_rate:
            raise ValueError(f"CosyVoice2 at {model_dir} runs at {self._model.sample_rate} Hz, not {self.sample_rate}")

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._model is None:
            raise RuntimeError("cosyvoice2: clone called before load()")
        return [self._clone_one(request) for request in requests]

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        problem = input_problem(request)
        if problem:
            return CloneFailure(problem)
        support.seed_everything(request.seed)
        prompt = prompt_for_model(request.prompt_audio, request.prompt_sample_rate)
        with support.prompt_files([prompt], PROMPT_RATE) as (path,):
            segments = [support.as_waveform(out["tts_speech"], self.name) for out in
                        self._model.inference_zero_shot(request.target_text, request.prompt_text, str(path),
                                                        stream=False, speed=1.0, text_frontend=True)]
        if not segments:
            return CloneFailure("CosyVoice2 generated no audio (the text normalised to nothing)")
        return np.concatenate(segments)
