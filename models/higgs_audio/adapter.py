"""Higgs Audio v2 (3B) behind the rvcbench contract, through upstream's `HiggsAudioServeEngine`.

Cloning follows upstream's documented zero-shot layout (README "Zero-Shot Voice Cloning",
examples/generation.py, examples/serve_engine/input_samples.py): a system turn with the scene
description, the prompt transcript as a user turn, the prompt audio as the assistant's answer, then the
target text as the next user turn, normalised as `examples/generation.py` normalises its transcript.
The serve engine takes one conversation per call ("We only support one request at a time now"), so
the batch size is 1. Items upstream cannot make are refused per item (`support.clone_valid`), and an answer that
runs to `max_new_tokens` without ending itself is a failure rather than a clip of unended audio.

Upstream's loaders fetch two more models by hard-coded Hub id: `HiggsAudioTokenizer` its semantic
teacher (`AutoModel.from_pretrained("bosonai/hubert_base", trust_remote_code=True)`) and the serve engine
the Whisper processor when the checkpoint's config sets `encode_whisper_embed`. Neither takes a path, so
while the engine is built `load` sets the `AutoModel` / `AutoProcessor` those two upstream modules read to
one that opens the folders resolved here: an id that was not resolved fails instead of downloading.

It runs from a checkout of upstream's repository (`support.upstream_checkout`), as upstream's README installs it
(`pip install -e .`): `boson_multimodal/serve/` and `boson_multimodal/audio_processing/` have no `__init__.py`, so
setuptools' `packages = find:` leaves both out of a regular (non-editable) install, and `serve_engine` does not
import from one. The packages upstream needs are in requirements.txt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, UpstreamCheckout, VoiceCloner
from rvcbench.errors import RvcbenchError

KEY = "higgs_audio"
UPSTREAM = "https://github.com/boson-ai/higgs-audio"
COMMIT = "f04f5df76a6a7b14674e0d6d715b436c422883c6"
ROOT_ENV = "HIGGS_AUDIO_ROOT"
MARKER = "boson_multimodal/serve/serve_engine.py"
MODEL_ID = "bosonai/higgs-audio-v2-generation-3B-base"
AUDIO_TOKENIZER_ID = "bosonai/higgs-audio-v2-tokenizer"
MODEL_FILES = ("config.json", "tokenizer_config.json")
AUDIO_TOKENIZER_FILES = ("config.json", "model.pth")  # what load_higgs_audio_tokenizer opens
# HiggsAudioTokenizer.__init__: its `semantic_techer` (default "hubert_base_general") -> the Hub id it loads
SEMANTIC_TEACHERS = {"hubert_base_general": "bosonai/hubert_base", "hubert_base": "facebook/hubert-base-ls960",
                     "wavlm_base_plus": "microsoft/wavlm-base-plus"}
SEMANTIC_TEACHER_DEFAULT = "hubert_base_general"
SEMANTIC_MODEL_ID = SEMANTIC_TEACHERS[SEMANTIC_TEACHER_DEFAULT]  # what the v2 tokenizer uses (its config's default)
SEMANTIC_MODEL_FILES = ("config.json",)
# HiggsAudioServeEngine.__init__ loads it when the checkpoint's config sets encode_whisper_embed (HiggsAudioConfig's
# default: True); the v2 3B base does not (examples/generation.py builds its collator with whisper_processor=None)
WHISPER_ID = "openai/whisper-large-v3-turbo"
WHISPER_FILES = ("preprocessor_config.json",)
OUTPUT_RATE = 24000  # the audio tokenizer's rate; checked against the loaded tokenizer in load()
SCENE = "Audio is recorded from a quiet room."  # examples/scene_prompts/quiet_indoor.txt, generation.py's default
SYSTEM_PROMPT = f"Generate audio following instruction.\n\n<|scene_desc_start|>\n{SCENE}\n<|scene_desc_end|>"
# README voice-cloning example (temperature 0.3) and generation.py defaults for the rest.
GENERATION = {"max_new_tokens": 2048, "temperature": 0.3, "top_k": 50, "top_p": 0.95, "ras_win_len": 7,
              "ras_win_max_num_repeat": 2, "stop_strings": ["<|end_of_text|>", "<|eot_id|>"]}


# examples/generation.py's `normalize_chinese_punctuation`: full-width marks to their ASCII counterparts
FULL_WIDTH = str.maketrans({
    "\uff0c": ", ", "\u3002": ".", "\uff1a": ":", "\uff1b": ";", "\uff1f": "?", "\uff01": "!", "\uff08": "(",
    "\uff09": ")", "\u3010": "[", "\u3011": "]", "\u300a": "<", "\u300b": ">", "\u201c": '"', "\u201d": '"',
    "\u2018": "'", "\u2019": "'", "\u3001": ",", "\u2014": "-", "\u2026": "...", "\u00b7": ".", "\u300c": '"',
    "\u300d": '"', "\u300e": '"', "\u300f": '"'})
SENTENCE_ENDS = (".", "!", "?", ",", ";", '"', "'", "</SE_e>", "</SE>")  # generation.py: no period added after these


def target_text_for_model(text: str) -> str:
    """The target as `examples/generation.py` prepares its transcript.

    Full-width punctuation becomes ASCII, parentheses become spaces, °F and °C are spelt out, whitespace is
    collapsed within each line and blank lines dropped, and a period is added unless the text already ends a
    sentence. (Its sound-event tags such as `[laugh]` are not mapped: benchmark texts carry none.)
    """
    text = text.translate(FULL_WIDTH).replace("(", " ").replace(")", " ")
    text = text.replace("\u00b0F", " degrees Fahrenheit").replace("\u00b0C", " degrees Celsius")
    text = "\n".join(" ".join(line.split()) for line in text.split("\n") if line.strip()).strip()
    return text if not text or text.endswith(SENTENCE_ENDS) else text + "."


def conversation(prompt_text: str, target_text: str) -> list[tuple[str, str | None]]:
    """The chat turns as (role, text); `None` marks the turn that carries the prompt audio."""
    return [("system", SYSTEM_PROMPT), ("user", " ".join(prompt_text.split())), ("assistant", None),
            ("user", target_text_for_model(target_text))]


def read_config(folder: Path) -> dict:
    """A checkpoint folder's config.json."""
    return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))


def semantic_model_id(tokenizer_config: dict) -> str:
    """The Hub id `HiggsAudioTokenizer` loads its semantic teacher from, as its config names the teacher."""
    teacher = tokenizer_config.get("semantic_techer", SEMANTIC_TEACHER_DEFAULT)
    if teacher not in SEMANTIC_TEACHERS:
        raise RvcbenchError(f"{KEY}: the audio tokenizer's semantic teacher {teacher!r} is not one upstream loads "
                            f"from the Hub ({', '.join(SEMANTIC_TEACHERS)})")
    return SEMANTIC_TEACHERS[teacher]


def needs_whisper(model_config: dict) -> bool:
    """Whether the serve engine loads the Whisper processor (HiggsAudioConfig's default is True)."""
    return bool(model_config.get("encode_whisper_embed", True))


def ran_away(generated_text: str) -> bool:
    """Whether generation ran to `max_new_tokens`: an answer that ended itself ends in one of its stop strings (the
    serve engine decodes the generated tokens with the special ones kept, so the stop token is in the text)."""
    return not generated_text.rstrip().endswith(tuple(GENERATION["stop_strings"]))


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
    requirements: ClassVar[str] = (f"models/higgs_audio/requirements.txt + a checkout of {UPSTREAM} in {ROOT_ENV}; "
                                   "GPU with >= 24 GB")
    version: ClassVar[str] = "3"  # 2: the target text normalised as examples/generation.py does; 3: an answer that
    # runs to max_new_tokens is a failure, not a clip
    max_new_tokens: ClassVar[int] = GENERATION["max_new_tokens"]
    weights_id: ClassVar[str] = MODEL_ID
    extra_weights: ClassVar[tuple[str, ...]] = (AUDIO_TOKENIZER_ID, SEMANTIC_MODEL_ID)
    checkout: ClassVar[UpstreamCheckout] = UpstreamCheckout(ROOT_ENV, UPSTREAM, COMMIT, MARKER)
    license: ClassVar[str] = "Boson Higgs Audio 2 Community License (weights); Apache-2.0 (code)"
    # what boson_multimodal's serve engine and audio tokenizer import (the package itself comes from the checkout)
    stack_modules: ClassVar[tuple[str, ...]] = ("torch", "torchaudio", "transformers", "librosa", "dac", "audiotools",
                                                "vector_quantize_pytorch", "einops", "dacite", "pandas", "loguru")

    def __init__(self) -> None:
        self._engine = None
        self._types = None

    def load(self, device: str) -> None:
        model_dir = support.resolve_weights(self.weights_spec(), MODEL_ID, KEY, required_files=MODEL_FILES)
        tokenizer_dir = support.resolve_weights(None, AUDIO_TOKENIZER_ID, KEY, required_files=AUDIO_TOKENIZER_FILES)
        semantic_id = semantic_model_id(read_config(tokenizer_dir))
        semantic = {semantic_id: support.resolve_weights(None, semantic_id, KEY, required_files=SEMANTIC_MODEL_FILES)}
        whisper = ({WHISPER_ID: support.resolve_weights(None, WHISPER_ID, KEY, required_files=WHISPER_FILES)}
                   if needs_whisper(read_config(model_dir)) else {})
        for module in self.stack_modules:
            support.require(module, KEY)
        support.upstream_checkout(self.checkout, KEY)
        hint = f"check the checkout in {ROOT_ENV}"
        serve = support.require("boson_multimodal.serve.serve_engine", KEY, hint)
        codec = support.require("boson_multimodal.audio_processing.higgs_audio_tokenizer", KEY, hint)
        self._types = support.require("boson_multimodal.data_types", KEY, hint)
        with support.hub_ids_as_folders((codec.AutoModel,), semantic, KEY), \
                support.hub_ids_as_folders((serve.AutoProcessor,), whisper, KEY):
            self._engine = serve.HiggsAudioServeEngine(str(model_dir), str(tokenizer_dir), device=device)
        rate = int(self._engine.audio_tokenizer.sampling_rate)
        if rate != self.sample_rate:
            raise RvcbenchError(f"{KEY}: the audio tokenizer runs at {rate} Hz, the adapter declares "
                                f"{self.sample_rate} Hz")

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._engine is None:
            raise RuntimeError(f"{KEY}: clone() called before load()")
        return support.clone_valid(self, requests, lambda valid: [self._clone_one(request) for request in valid])

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        types = self._types
        prompt = prompt_for_model(request.prompt_audio, request.prompt_sample_rate)
        with support.prompt_files([prompt], OUTPUT_RATE) as (path,):
            messages = [types.Message(role=role, content=text if text is not None
                                      else types.AudioContent(audio_url=str(path)))
                        for role, text in conversation(request.prompt_text, request.target_text)]
            support.seed_everything(request.seed)
            response = self._engine.generate(chat_ml_sample=types.ChatMLSample(messages=messages),
                                             seed=request.seed, **{**GENERATION, "max_new_tokens": self.max_new_tokens})
        if response.audio is None or len(response.audio) == 0:
            return CloneFailure("Higgs Audio generated no audio tokens (text-only answer)")
        if ran_away(response.generated_text):
            return CloneFailure(f"Higgs Audio reached max_new_tokens={self.max_new_tokens} without ending its "
                                "answer (runaway generation)")
        return support.as_waveform(response.audio, KEY)
