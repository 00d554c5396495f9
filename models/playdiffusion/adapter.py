"""PlayDiffusion (PlayHT) behind the rvcbench contract, through upstream's `PlayDiffusion().tts(TTSInput(...))`.

TTS with PlayDiffusion is inpainting a fully masked token sequence: the target length comes from a
syllable count, a masked-LM diffusion fills in XLS-R units conditioned on the text, and a BigVGAN vocoder
renders them with a speaker embedding taken from the reference audio (`voice`). No transcript of the
reference is used. `tts` takes one text and one voice per call, so the batch size is 1. An undeclared language or
an empty target text is refused per item (`support.clone_valid`): upstream would still make audio for it.

Upstream downloads its six checkpoint files with `hf_hub_download` in `load_preset`; the adapter
builds the same preset from the resolved folder instead, so `--weights` and offline runs work.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, VoiceCloner
from rvcbench.errors import RvcbenchError

KEY = "playdiffusion"
MODEL_ID = "PlayHT/inpainter"
# src/playdiffusion/inference.py, PlayDiffusion.load_preset defaults.
FILES = {"vocoder": "v090_g_01105000", "tokenizer": "tokenizer-multi_bpe16384_merged_extended_58M.json",
         "speech_tokenizer": "xlsr2_1b_v2_custom.pt", "kmeans": "kmeans_10k.npy",
         "voice_encoder": "voice_encoder_1992000.pt", "inpainter": "last_250k_fixed.pkl"}
SPEECH_TOKENIZER_RATE = 16000
OUTPUT_RATE = 48000  # the vocoder checkpoint's `sampling_rate`; load() checks it and refuses a mismatch
# pydantic_models/models.py BaseInput defaults, the same values the upstream Gradio demo starts from.
GENERATION = {"num_steps": 30, "init_temp": 1.0, "init_diversity": 1.0, "guidance": 0.5, "rescale": 0.7, "topk": 25}


def preset(folder: Path) -> dict:
    """The model preset `PlayDiffusion.load_preset` builds, pointing at files in `folder`."""
    path = {part: str(Path(folder) / name) for part, name in FILES.items()}
    return {
        "vocoder": {"checkpoint": path["vocoder"], "kmeans_layer_checkpoint": path["kmeans"]},
        "tokenizer": {"vocab_file": path["tokenizer"]},
        "speech_tokenizer": {"checkpoint": path["speech_tokenizer"], "kmeans_layer_checkpoint": path["kmeans"],
                             "sample_rate": SPEECH_TOKENIZER_RATE},
        "voice_encoder": {"checkpoint": path["voice_encoder"]},
        "inpainter": {"checkpoint": path["inpainter"]},
    }


def pcm16_to_float(pcm: np.ndarray) -> np.ndarray:
    """`tts` returns 16-bit PCM (make_16bit_pcm: value × 32768); back to float32 in [-1, 1)."""
    return np.asarray(pcm, dtype=np.float32).reshape(-1) / 32768.0


class Adapter(VoiceCloner):
    name: ClassVar[str] = KEY
    description: ClassVar[str] = ("PlayDiffusion (PlayHT): non-autoregressive masked diffusion over XLS-R units, "
                                  "BigVGAN vocoder conditioned on a speaker embedding of the reference")
    sample_rate: ClassVar[int] = OUTPUT_RATE
    languages: ClassVar[frozenset[str]] = frozenset({"en"})
    needs_prompt_text: ClassVar[bool] = False
    batch_size: ClassVar[int] = 1
    requirements: ClassVar[str] = "models/playdiffusion/requirements.txt (Python 3.11), CUDA GPU"
    version: ClassVar[str] = "2"  # 2: refusals per item (support.clone_valid), found by the random-weight check
    weights_id: ClassVar[str] = MODEL_ID
    license: ClassVar[str] = "Apache-2.0 (code); weights: see the Hugging Face model card"
    stack_modules: ClassVar[tuple[str, ...]] = ("playdiffusion", "torch", "fairseq2", "syllables")

    def __init__(self) -> None:
        self._engine = None
        self._tts_input = None

    def load(self, device: str) -> None:
        folder = support.resolve_weights(self.weights_spec(), MODEL_ID, KEY, required_files=tuple(FILES.values()))
        playdiffusion = support.require("playdiffusion", KEY)
        self._tts_input = playdiffusion.TTSInput

        class LocalPlayDiffusion(playdiffusion.PlayDiffusion):
            """Upstream's engine with its preset read from the resolved folder instead of the Hub."""

            def load_preset(self, *args, **kwargs) -> dict:
                return preset(folder)

        self._engine = LocalPlayDiffusion(device=device)
        rate = int(self._engine.mm.vocoder.output_frequency)
        if rate != self.sample_rate:
            raise RvcbenchError(f"{KEY}: the vocoder renders {rate} Hz, the adapter declares {self.sample_rate} Hz; "
                                f"set Adapter.sample_rate to {rate} and bump its version")

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._engine is None:
            raise RuntimeError(f"{KEY}: clone() called before load()")
        return support.clone_valid(self, requests, lambda valid: [self._clone_one(request) for request in valid])

    def _clone_one(self, request: CloneRequest) -> np.ndarray:
        text = " ".join(request.target_text.split())
        with support.prompt_files([np.asarray(request.prompt_audio, dtype=np.float32)],
                                  request.prompt_sample_rate) as (voice,):
            support.seed_everything(request.seed)
            rate, pcm = self._engine.tts(self._tts_input(output_text=text, voice=str(voice), **GENERATION))
        if int(rate) != self.sample_rate:
            raise RvcbenchError(f"{KEY}: tts returned {rate} Hz audio, expected {self.sample_rate} Hz")
        return pcm16_to_float(pcm)
