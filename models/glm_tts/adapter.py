"""GLM-TTS (Zhipu AI): zero-shot cloning from a prompt and its transcript, run from a checkout of zai-org/GLM-TTS.

Upstream is a script project, not a package: `glmtts_inference.py` loads everything from `ckpt/`,
`frontend/` and `configs/` relative to the working directory. The adapter gives it a small working
directory of links (`ckpt` -> the weights, `frontend` and `configs` -> the checkout named by GLMTTS_ROOT)
and calls upstream's own `load_models` and `generate_long`, as `jsonl_generate` does.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, UpstreamCheckout, VoiceCloner

REPO_ID = "zai-org/GLM-TTS"
UPSTREAM = "https://github.com/zai-org/GLM-TTS.git"
COMMIT = "c5dc7aecc3b4032032d631b271e767893984f821"
ROOT_ENV = "GLMTTS_ROOT"
# the files glmtts_inference.load_models opens under ckpt/ (24 kHz setting: HiFT vocoder)
WEIGHT_FILES = ("speech_tokenizer/config.json", "speech_tokenizer/preprocessor_config.json",
                "vq32k-phoneme-tokenizer/tokenizer_config.json", "llm/config.json",
                "flow/flow.pt", "flow/config.yaml", "hift/hift.pt")
CHECKOUT_LINKS = ("frontend", "configs")  # read relative to the working directory, as in the checkout
SAMPLE_RATE = 24000  # upstream's default; 32000 would need the unreleased 2D Vocos vocoder


def prompt_for_model(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The prompt as written to the file the frontend reads: float32 mono at 24 kHz."""
    return support.prompt_at(audio, sample_rate, SAMPLE_RATE)


def workdir_links(checkout: Path, weights: Path) -> dict[str, Path]:
    """What upstream's relative paths must point to: `ckpt` is the weights, the rest is the checkout."""
    return {"ckpt": weights, **{name: checkout / name for name in CHECKOUT_LINKS}}


def make_workdir(checkout: Path, weights: Path) -> tempfile.TemporaryDirectory:
    """A fresh temporary directory holding the links of `workdir_links`; it goes (links only, never what they point
    to) when the returned object is cleaned up or collected, or at interpreter exit."""
    workdir = tempfile.TemporaryDirectory(prefix="rvcbench-glmtts-")
    for name, target in workdir_links(checkout, weights).items():
        (Path(workdir.name) / name).symlink_to(Path(target).resolve(), target_is_directory=True)
    return workdir


@contextmanager
def inside(directory: Path) -> Iterator[None]:
    """Run upstream code with `directory` as the working directory, then go back."""
    previous = os.getcwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(previous)


class Adapter(VoiceCloner):
    name: ClassVar[str] = "glm_tts"
    description: ClassVar[str] = "GLM-TTS 1.5B (Zhipu AI): Llama speech-token LLM + DiT flow matching + HiFT, zero-shot"
    sample_rate: ClassVar[int] = SAMPLE_RATE
    languages: ClassVar[frozenset[str]] = frozenset({"zh", "en"})
    needs_prompt_text: ClassVar[bool] = True
    batch_size: ClassVar[int] = 1  # generate_long takes one text and one prompt
    requirements: ClassVar[str] = (f"models/glm_tts/requirements.txt + a checkout of {UPSTREAM} in {ROOT_ENV}; "
                                   "CUDA GPU required (upstream calls .cuda())")
    version: ClassVar[str] = "2"  # 2: undeclared languages refused per item; working directory removed at exit
    weights_id: ClassVar[str] = REPO_ID
    checkout: ClassVar[UpstreamCheckout] = UpstreamCheckout(ROOT_ENV, UPSTREAM, COMMIT, "glmtts_inference.py")
    license: ClassVar[str] = "MIT"
    stack_modules: ClassVar[tuple[str, ...]] = ("torch", "torchaudio", "transformers", "hyperpyyaml", "onnxruntime",
                                                "safetensors", "tn", "inflect", "contractions", "pypinyin")

    def __init__(self) -> None:
        self._upstream = None
        self._parts = None
        self._workdir: tempfile.TemporaryDirectory | None = None  # the links upstream's relative paths read

    def load(self, device: str) -> None:
        """Load through upstream's `load_models` (it places everything on CUDA when available)."""
        weights = support.resolve_weights(self.weights_spec(), REPO_ID, self.name, required_files=WEIGHT_FILES)
        for module in self.stack_modules:
            support.require(module, self.name)
        checkout = support.upstream_checkout(self.checkout, self.name)
        self._workdir = make_workdir(checkout, weights)
        with inside(Path(self._workdir.name)):
            self._upstream = support.require("glmtts_inference", self.name, f"check the checkout in {ROOT_ENV}")
            frontend, text_frontend, _, llm, flow = self._upstream.load_models(use_phoneme=False,
                                                                               sample_rate=SAMPLE_RATE)
        self._parts = (frontend, text_frontend, llm, flow)

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._parts is None:
            raise RuntimeError("glm_tts: clone called before load()")
        with inside(Path(self._workdir.name)):
            return support.clone_valid(self, requests, lambda valid: [self._clone_one(request) for request in valid])

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        torch = support.require("torch", self.name)
        frontend, text_frontend, llm, flow = self._parts
        up = self._upstream
        support.seed_everything(request.seed)
        prompt_text = text_frontend.text_normalize(request.prompt_text)
        target_text = text_frontend.text_normalize(request.target_text)
        with support.prompt_files([prompt_for_model(request.prompt_audio, request.prompt_sample_rate)],
                                  SAMPLE_RATE) as (path,):
            prompt_tokens = frontend._extract_speech_token([str(path)])
            speech_feat = frontend._extract_speech_feat(str(path), sample_rate=SAMPLE_RATE)
            embedding = frontend._extract_spk_embedding(str(path))
        cache_speech_token = [prompt_tokens.squeeze().tolist()]
        cache = {"cache_text": [prompt_text], "cache_text_token": [frontend._extract_text_token(prompt_text + " ")],
                 "cache_speech_token": cache_speech_token, "use_cache": True}
        speech, _, tokens, _ = up.generate_long(
            frontend=frontend, text_frontend=text_frontend, llm=llm, flow=flow,
            text_info=[request.pair_id, target_text], cache=cache, embedding=embedding, seed=request.seed,
            sample_method="ras", flow_prompt_token=torch.tensor(cache_speech_token, dtype=torch.int32).to(up.DEVICE),
            speech_feat=speech_feat, device=up.DEVICE, use_phoneme=False)
        if not tokens:
            return CloneFailure("GLM-TTS generated no speech tokens")
        return support.as_waveform(speech, self.name)
