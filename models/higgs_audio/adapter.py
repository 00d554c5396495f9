"""Higgs Audio v2 (3B) behind the rvcbench contract, through upstream's `HiggsAudioServeEngine`.

Cloning follows upstream's documented zero-shot layout (README "Zero-Shot Voice Cloning",
examples/generation.py, examples/serve_engine/input_samples.py): a system turn with the scene
description, the prompt transcript as a user turn, the prompt audio as the assistant's answer, then the
target text as the next user turn. The serve engine takes one conversation per call ("We only support
one request at a time now"), so the batch size is 1.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, VoiceCloner
from rvcbench.errors import RvcbenchError

KEY = "higgs_audio"
MODEL_ID = "bosonai/higgs-audio-v2-generation-3B-base"
AUDIO_TOKENIZER_ID = "bosonai/higgs-audio-v2-tokenizer"
MODEL_FILES = ("config.json", "tokenizer_config.json")
AUDIO_TOKENIZER_FILES = ("config.json", "model.pth")  # what load_higgs_audio_tokenizer opens
OUTPUT_RATE = 24000  # the audio tokenizer's rate; checked against the loaded tokenizer in load()
SCENE = "Audio is recorded from a quiet room."  # examples/scene_prompts/quiet_indoor.txt, generation.py's default
SYSTEM_PROMPT = f"Generate audio following instruction.\n\n<|scene_desc_start|>\n{SCENE}\n<|scene_desc_end|>"
# README voice-cloning example (temperature 0.3) and generation.py defaults for the rest.
GENERATION = {"max_new_tokens": 2048, "temperature": 0.3, "top_k": 50, "top_p": 0.95, "ras_win_len": 7,
              "ras_win_max_num_repeat": 2, "stop_strings": ["<|end_of_text|>", "<|eot_id|>"]}


def conversation(prompt_text: str, target_text: str) -> list[tuple[str, str | None]]:
    """The chat turns as (role, text); `None` marks the turn that carries the prompt audio."""
    return [("system", SYSTEM_PROMPT), ("user", " ".join(prompt_text.split())), ("assistant", None),
            ("user", " ".join(target_text.split()))]


def prompt_for_model(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The prompt at the audio tokenizer's rate (upstream resamples with librosa otherwise)."""
    return support.prompt_at(audio, sample_rate, OUTPUT_RATE)


class Adapter(VoiceCloner):
    name: ClassVar[str] = KEY
    description: ClassVar[str] = ("Higgs Audio v2 (Boson AI): 3.6B LLM + 2.2B audio adapter over a 25 Hz, 8-codebook "
                                  "audio tokenizer; zero-shot cloning from a reference turn")
    sample_rate: ClassVar[int] = OUTPUT_RATE
    languages: ClassVar[frozenset[str]] = frozenset({"en", "zh", "es"})
    needs_prompt_text: ClassVar[bool] = True
    batch_size: ClassVar[int] = 1
    requirements: ClassVar[str] = "models/higgs_audio/requirements.txt (boson_multimodal), GPU with >= 24 GB"
    version: ClassVar[str] = "1"
    weights_id: ClassVar[str] = MODEL_ID
    license: ClassVar[str] = "Boson Higgs Audio 2 Community License (weights); Apache-2.0 (code)"
    stack_modules: ClassVar[tuple[str, ...]] = ("boson_multimodal", "torch", "transformers", "librosa")

    def __init__(self) -> None:
        self._engine = None
        self._types = None

    def load(self, device: str) -> None:
        model_dir = support.resolve_weights(self.weights_spec(), MODEL_ID, KEY, required_files=MODEL_FILES)
        tokenizer_dir = support.resolve_weights(None, AUDIO_TOKENIZER_ID, KEY, required_files=AUDIO_TOKENIZER_FILES)
        serve = support.require("boson_multimodal.serve.serve_engine", KEY)
        self._types = support.require("boson_multimodal.data_types", KEY)
        self._engine = serve.HiggsAudioServeEngine(str(model_dir), str(tokenizer_dir), device=device)
        rate = int(self._engine.audio_tokenizer.sampling_rate)
        if rate != self.sample_rate:
            raise RvcbenchError(f"{KEY}: the audio tokenizer runs at {rate} Hz, the adapter declares "
                                f"{self.sample_rate} Hz")

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._engine is None:
            raise RuntimeError(f"{KEY}: clone() called before load()")
        return [self._clone_one(request) for request in requests]

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        types = self._types
        prompt = prompt_for_model(request.prompt_audio, request.prompt_sample_rate)
        with support.prompt_files([prompt], OUTPUT_RATE) as (path,):
            messages = [types.Message(role=role, content=text if text is not None
                                      else types.AudioContent(audio_url=str(path)))
                        for role, text in conversation(request.prompt_text, request.target_text)]
            support.seed_everything(request.seed)
            response = self._engine.generate(chat_ml_sample=types.ChatMLSample(messages=messages),
                                             seed=request.seed, **GENERATION)
        if response.audio is None or len(response.audio) == 0:
            return CloneFailure("Higgs Audio generated no audio tokens (text-only answer)")
        return support.as_waveform(response.audio, KEY)
