"""MOSS-TTSD v0.7 behind the rvcbench contract, through upstream's batch entry `generation_utils.process_batch`.

Each request becomes one item of upstream's "Format 2" (shared reference): the prompt transcript and the
target text both as speaker 1 (`[S1]...`), the prompt audio as speaker 1's voice. `process_batch`
left-pads the items and generates them in one `model.generate` call, so requests are batched; an item
for which upstream produces no speech tokens comes back as a failure on its own, and an undeclared language,
an empty target or an empty prompt transcript is refused before the call (`support.clone_valid`).

MOSS-TTSD v0.7 runs from a clone at tag v0.7 (it imports `generation_utils`, `modeling_asteroid` and
`XY_Tokenizer` from the clone's root): set MOSS_TTSD_ROOT to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, UpstreamCheckout, VoiceCloner
from rvcbench.errors import RvcbenchError

KEY = "moss_ttsd"
MODEL_ID = "fnlp/MOSS-TTSD-v0.7"
MODEL_FILES = ("config.json", "tokenizer_config.json")
CODEC_ID = "fnlp/MOSS_TTSD_tokenizer"
CODEC_FILE = "MOSS_TTSD_tokenizer"
CODEC_CONFIG = "XY_Tokenizer/config/MOSS_TTSD_tokenizer.yaml"  # in the clone
REPO_URL = "https://github.com/OpenMOSS/MOSS-TTSD.git"
COMMIT = "v0.7"  # 0b22ca2f7e1891c295bfffe552bfb54e95a61758
ROOT_ENV = "MOSS_TTSD_ROOT"
OUTPUT_RATE = 32000  # XY_Tokenizer/config/MOSS_TTSD_tokenizer.yaml: output_sample_rate
SYSTEM_PROMPT = ("You are a speech synthesizer that generates natural, realistic, and human-like conversational "
                 "audio from dialogue text.")  # inference.py
USE_NORMALIZE = True  # README: "--use_normalize ... (recommended to enable)"
SILENCE_SECONDS = 0.0  # inference.py default


def speaker1(text: str) -> str:
    """One speaker-1 turn of a MOSS-TTSD script, on one line."""
    return "[S1]" + " ".join(text.split())


def model_dtype(torch, device: str):
    """bf16 on CUDA (upstream's default `--dtype bf16`), fp32 elsewhere (its `--dtype fp32`: CPUs have no fast
    bf16 matmul)."""
    return torch.bfloat16 if str(device).startswith("cuda") else torch.float32


def batch_item(audio: np.ndarray, sample_rate: int, prompt_text: str, target_text: str) -> dict:
    """One `process_batch` item in upstream's Format 2; the audio as a (1, samples) float32 array and its rate
    (upstream resamples it to 16 kHz for the codec)."""
    wav = np.asarray(audio, dtype=np.float32).reshape(1, -1)
    return {"text": speaker1(target_text), "prompt_text": speaker1(prompt_text),
            "prompt_audio": (wav, int(sample_rate))}


class Adapter(VoiceCloner):
    name: ClassVar[str] = KEY
    description: ClassVar[str] = ("MOSS-TTSD v0.7 (OpenMOSS): Qwen3-based dialogue speech LM over the 8-layer XY "
                                  "codec; the prompt is cloned as speaker 1")
    sample_rate: ClassVar[int] = OUTPUT_RATE
    languages: ClassVar[frozenset[str]] = frozenset({"en", "zh"})
    needs_prompt_text: ClassVar[bool] = True
    batch_size: ClassVar[int] = 4
    requirements: ClassVar[str] = f"models/moss_ttsd/requirements.txt + a clone of MOSS-TTSD v0.7 in ${ROOT_ENV}; GPU"
    version: ClassVar[str] = "2"
    weights_id: ClassVar[str] = MODEL_ID
    extra_weights: ClassVar[tuple[str, ...]] = (CODEC_ID,)
    checkout: ClassVar[UpstreamCheckout] = UpstreamCheckout(ROOT_ENV, REPO_URL, COMMIT, "modeling_asteroid.py")
    license: ClassVar[str] = "Apache-2.0"
    stack_modules: ClassVar[tuple[str, ...]] = ("generation_utils", "modeling_asteroid", "XY_Tokenizer", "torch",
                                                "torchaudio", "transformers")

    def __init__(self) -> None:
        self._utils = None
        self._parts = None
        self._device = "cpu"

    def load(self, device: str) -> None:
        model_dir = support.resolve_weights(self.weights_spec(), MODEL_ID, KEY, required_files=MODEL_FILES)
        root = support.upstream_checkout(self.checkout, self.name)
        codec = self._codec_checkpoint(root)
        self._utils = support.require("generation_utils", KEY)
        torch = support.require("torch", KEY)
        tokenizer, model, codec_model = self._utils.load_model(
            str(model_dir), str(self._codec_config(root)), str(codec), torch_dtype=model_dtype(torch, device),
            attn_implementation=support.attention_for(device))
        self._parts = (tokenizer, model.to(device), codec_model.to(device), torch)
        self._device = device
        if int(codec_model.output_sample_rate) != self.sample_rate:
            raise RvcbenchError(f"{KEY}: the XY codec renders {codec_model.output_sample_rate} Hz, "
                                f"the adapter declares {self.sample_rate} Hz")

    @staticmethod
    def _codec_config(root: Path) -> Path:
        """The XY codec's architecture, from the clone (upstream's `SPT_CONFIG_PATH`)."""
        return root / CODEC_CONFIG

    @staticmethod
    def _codec_checkpoint(root: Path) -> Path:
        """The XY codec checkpoint: where upstream's README puts it in the clone, else the Hugging Face cache."""
        in_clone = root / "XY_Tokenizer" / "weights" / CODEC_FILE
        if in_clone.exists():
            return in_clone
        return support.resolve_weights(None, CODEC_ID, KEY, required_files=(CODEC_FILE,)) / CODEC_FILE

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._parts is None:
            raise RuntimeError(f"{KEY}: clone() called before load()")
        return support.clone_valid(self, requests, self._generate)

    def _generate(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        tokenizer, model, codec_model, torch = self._parts
        items = []
        for request in requests:
            item = batch_item(request.prompt_audio, request.prompt_sample_rate, request.prompt_text,
                              request.target_text)
            wav, rate = item["prompt_audio"]
            items.append({**item, "prompt_audio": (torch.from_numpy(wav), rate)})
        support.seed_everything(requests[0].seed)  # one sampling run for the whole batch
        _, results = self._utils.process_batch(
            batch_items=items, tokenizer=tokenizer, model=model, spt=codec_model, device=self._device,
            system_prompt=SYSTEM_PROMPT, start_idx=0, use_normalize=USE_NORMALIZE, silence_duration=SILENCE_SECONDS)
        return [CloneFailure("MOSS-TTSD produced no speech tokens or failed to decode them (see the worker log)")
                if result is None else support.as_waveform(result["audio_data"], KEY) for result in results]
