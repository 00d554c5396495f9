"""Qwen3-TTS 1.7B Base behind the rvcbench contract, following upstream's `examples/test_model_12hz_base.py`.

Each prompt is made into a voice-clone prompt item on its own (`create_voice_clone_prompt`), then
`Qwen3TTSModel.generate_voice_clone` runs the texts, languages and prompt items as one batch (left-padded talker
prefill, per-item stop at the codec EOS), so requests are batched. Cloning is
upstream's default in-context mode (`x_vector_only_mode=False`): the prompt's speech codes and its transcript
prefix the target, so the transcript is needed; the speaker-embedding-only mode is not used. The 12 Hz speech
tokenizer that encodes the prompt and decodes the output is the checkpoint's own `speech_tokenizer/` folder.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, VoiceCloner

KEY = "qwen3_tts"
MODEL_ID = "Qwen/Qwen3-TTS-12Hz-1.7B-Base"
# what Qwen3TTSForConditionalGeneration.from_pretrained and the processor read besides the weights
WEIGHT_FILES = ("config.json", "generation_config.json", "merges.txt", "speech_tokenizer/config.json")
OUTPUT_RATE = 24000  # the 12 Hz tokenizer's output_sample_rate
PROMPT_RATE = 24000  # the tokenizer's input rate and the speaker encoder's (it asserts 24 kHz)
SAMPLES_PER_FRAME = 1920  # decode_upsample_rate: 24000 / 1920 = 12.5 codec frames a second
MAX_NEW_TOKENS = 2048  # the README's evaluation setting; every other sampling value from generation_config.json
# ISO 639-1 -> the language names upstream's codec_language_id uses (README: the 10 languages of the Base model)
LANGUAGE_NAMES = {"zh": "Chinese", "en": "English", "ja": "Japanese", "ko": "Korean", "de": "German",
                  "fr": "French", "ru": "Russian", "pt": "Portuguese", "es": "Spanish", "it": "Italian"}


def language_name(code: str) -> str | None:
    """Upstream's name for an ISO language code (`en` -> `English`), or None when the model has none."""
    return LANGUAGE_NAMES.get(code.strip().lower())


def prompt_for_model(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """The prompt as upstream's `(waveform, sample_rate)` input, at 24 kHz: one rate for a whole batch, so the
    speech tokenizer encodes all prompts in one call."""
    return support.prompt_at(audio, sample_rate, PROMPT_RATE), PROMPT_RATE


def input_problem(request: CloneRequest, supported: set[str] | None = None) -> str | None:
    """Why upstream cannot take this request (a failure reason), or None when it can.

    `supported`: the lower-case language names of the loaded checkpoint (`get_supported_languages()`).
    """
    name = language_name(request.target_language)
    if name is None or (supported is not None and name.lower() not in supported):
        return f"unsupported language: {request.target_language}"
    if not request.target_text.strip():
        return "empty target text"
    if not request.prompt_text.strip():
        return ("Qwen3-TTS in-context cloning needs the prompt transcript, which is empty "
                "(the x-vector-only mode is not used)")
    return None


def prompt_arguments(request: CloneRequest) -> dict:
    """The keyword arguments of `create_voice_clone_prompt` for one request: its prompt and transcript, ICL mode.

    One call per prompt: upstream's batched encode of prompts of different lengths changes the last speech-code
    frame of the shorter ones (right padding reaches the tokenizer's last window; found by the random-weight
    check), so a clip would depend on its batch-mates.
    """
    return {"ref_audio": prompt_for_model(request.prompt_audio, request.prompt_sample_rate),
            "ref_text": request.prompt_text, "x_vector_only_mode": False}


def generate_arguments(requests: list[CloneRequest], prompts: list, max_new_tokens: int = MAX_NEW_TOKENS) -> dict:
    """The keyword arguments of one `generate_voice_clone` call for these requests and their prompt items.

    Sampling values are left to the checkpoint's generation_config.json (upstream fills in what is not passed).
    """
    return {
        "text": [r.target_text for r in requests],
        "language": [language_name(r.target_language) for r in requests],
        "voice_clone_prompt": prompts,
        "non_streaming_mode": False,  # generate_voice_clone's default
        "max_new_tokens": max_new_tokens,
    }


def ran_away(samples: int, max_new_tokens: int = MAX_NEW_TOKENS) -> bool:
    """Whether an item ran to the length limit: upstream keeps every frame of an item that never emitted the codec
    EOS, and `max_new_tokens` steps give at most `max_new_tokens - 1` frames (the last token is never decoded)."""
    return samples >= (max_new_tokens - 1) * SAMPLES_PER_FRAME



class Adapter(VoiceCloner):
    name: ClassVar[str] = KEY
    description: ClassVar[str] = ("Qwen3-TTS 12Hz 1.7B Base (Alibaba Qwen): Qwen3 talker over the 16-codebook "
                                  "12.5 Hz Qwen3-TTS-Tokenizer, in-context voice cloning")
    sample_rate: ClassVar[int] = OUTPUT_RATE
    languages: ClassVar[frozenset[str]] = frozenset(LANGUAGE_NAMES)
    needs_prompt_text: ClassVar[bool] = True
    batch_size: ClassVar[int] = 8
    requirements: ClassVar[str] = "models/qwen3_tts/requirements.txt (qwen-tts==0.1.1), GPU"
    version: ClassVar[str] = "1"
    weights_id: ClassVar[str] = MODEL_ID
    license: ClassVar[str] = "Apache-2.0"
    stack_modules: ClassVar[tuple[str, ...]] = ("qwen_tts", "torch", "transformers", "librosa")
    max_new_tokens: ClassVar[int] = MAX_NEW_TOKENS

    def __init__(self) -> None:
        self._model = None
        self._supported: set[str] | None = None

    def load(self, device: str) -> None:
        model_dir = support.resolve_weights(self.weights_spec(), MODEL_ID, KEY, required_files=WEIGHT_FILES)
        torch = support.require("torch", KEY)
        qwen_tts = support.require("qwen_tts", KEY)
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        attention = support.attention_for(device)
        # a local folder: upstream's from_pretrained reads speech_tokenizer/ and generation_config.json from it
        # and downloads nothing
        model = qwen_tts.Qwen3TTSModel.from_pretrained(str(model_dir), device_map=device, dtype=dtype,
                                                       attn_implementation=attention)
        if model.model.tts_model_type != "base":
            raise ValueError(f"{KEY}: {model_dir} is a {model.model.tts_model_type!r} model; voice cloning needs a "
                             "Base checkpoint")
        rate = model.model.speech_tokenizer.get_output_sample_rate()
        if rate != self.sample_rate:
            raise ValueError(f"{KEY}: the speech tokenizer at {model_dir} writes {rate} Hz, not {self.sample_rate}")
        self._supported = set(model.get_supported_languages() or ()) or None
        self._model = model

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._model is None:
            raise RuntimeError(f"{KEY}: clone() called before load()")
        return support.clone_valid(self, requests, self._generate,
                                   also=lambda request: input_problem(request, self._supported))

    def _generate(self, batch: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        """One generate_voice_clone call for the batch (every request already valid)."""
        results: list[np.ndarray | CloneFailure] = []
        if batch:
            prompts = [item for request in batch
                       for item in self._model.create_voice_clone_prompt(**prompt_arguments(request))]
            support.seed_everything(batch[0].seed)  # one sampling run for the whole batch
            wavs, rate = self._model.generate_voice_clone(**generate_arguments(batch, prompts, self.max_new_tokens))
            if rate != self.sample_rate:
                raise ValueError(f"{KEY}: generate_voice_clone returned {rate} Hz audio, not {self.sample_rate}")
            for wav in wavs:
                wave = support.as_waveform(wav, KEY)
                if wave.size == 0:
                    results.append(CloneFailure("Qwen3-TTS generated no speech (codec EOS at once)"))
                elif ran_away(wave.size, self.max_new_tokens):
                    results.append(CloneFailure(f"Qwen3-TTS reached max_new_tokens={self.max_new_tokens} "
                                                "without the codec EOS (runaway generation)"))
                else:
                    results.append(wave)
        return results
