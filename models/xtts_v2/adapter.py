"""XTTS-v2 (Coqui) behind the rvcbench contract, through the maintained `coqui-tts` package (idiap/coqui-ai-TTS).

The call is upstream's documented manual inference (docs/source/models/xtts.md): `XttsConfig.load_json`,
`Xtts(config)`, `load_checkpoint(config, checkpoint_dir=...)`, then per request
`get_conditioning_latents(audio_path=[prompt.wav], ...)` and `inference(text, language, gpt_cond_latent,
speaker_embedding, ...)`. The voice and sampling settings are the checkpoint config's, passed exactly as upstream's
own `Xtts.synthesize` passes them. `inference` takes one text and one voice, so requests are not batched. No
transcript of the prompt is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, VoiceCloner

KEY = "xtts_v2"
REPO_ID = "coqui/XTTS-v2"
WEIGHT_FILES = ("config.json", "model.pth", "vocab.json")  # what load_checkpoint reads (speakers_xtts.pth optional)
OUTPUT_RATE = 24000  # XttsArgs.output_sample_rate: the HiFi-GAN decoder's rate; load() checks the config
# rvcbench code -> upstream's code (XttsConfig.languages; 17 languages, Chinese is "zh-cn")
LANGUAGES = {"en": "en", "es": "es", "fr": "fr", "de": "de", "it": "it", "pt": "pt", "pl": "pl", "tr": "tr",
             "ru": "ru", "nl": "nl", "cs": "cs", "ar": "ar", "zh": "zh-cn", "hu": "hu", "ko": "ko", "ja": "ja",
             "hi": "hi"}
# Upstream's own splitting (`split_sentence`, spaCy sentencizer) for texts at or over the tokenizer's
# per-language character limit (`VoiceBpeTokenizer.char_limits`); a shorter text is passed whole.
TEXT_SPLITTING = True


def upstream_language(language: str) -> str | None:
    """Upstream's code for an rvcbench language code ("zh" -> "zh-cn"), None when XTTS-v2 does not speak it."""
    return LANGUAGES.get(language)


def voice_settings(config) -> dict:
    """The conditioning arguments of `get_conditioning_latents`, from the config, as `Xtts.synthesize` passes them."""
    return {"gpt_cond_len": config.gpt_cond_len, "gpt_cond_chunk_len": config.gpt_cond_chunk_len,
            "max_ref_length": config.max_ref_len, "sound_norm_refs": config.sound_norm_refs}


def inference_settings(config) -> dict:
    """The sampling arguments of `inference`, from the config, as `Xtts.synthesize` passes them."""
    return {"temperature": config.temperature, "length_penalty": config.length_penalty,
            "repetition_penalty": config.repetition_penalty, "top_k": config.top_k, "top_p": config.top_p}


class Adapter(VoiceCloner):
    name: ClassVar[str] = KEY
    description: ClassVar[str] = ("XTTS-v2 (Coqui): GPT-2 decoder over DVAE audio codes conditioned on "
                                  "perceiver-resampled prompt latents, HiFi-GAN decoder with a speaker embedding")
    sample_rate: ClassVar[int] = OUTPUT_RATE
    languages: ClassVar[frozenset[str]] = frozenset(LANGUAGES)
    needs_prompt_text: ClassVar[bool] = False
    batch_size: ClassVar[int] = 1  # Xtts.inference takes one text and one voice
    requirements: ClassVar[str] = "models/xtts_v2/requirements.txt (coqui-tts==0.28.0), GPU recommended"
    version: ClassVar[str] = "1"
    weights_id: ClassVar[str] = REPO_ID
    license: ClassVar[str] = "CPML (Coqui Public Model License 1.0.0, non-commercial)"
    stack_modules: ClassVar[tuple[str, ...]] = ("TTS", "torch", "torchaudio", "transformers", "spacy")

    def __init__(self) -> None:
        self._model = None
        self._config = None

    def load(self, device: str) -> None:
        model_dir = support.resolve_weights(self.weights_spec(), REPO_ID, KEY, required_files=WEIGHT_FILES)
        for module in self.stack_modules:
            support.require(module, KEY)
        configs = support.require("TTS.tts.configs.xtts_config", KEY)
        xtts = support.require("TTS.tts.models.xtts", KEY)
        config = configs.XttsConfig()
        config.load_json(str(Path(model_dir, "config.json")))
        if config.model_args.output_sample_rate != OUTPUT_RATE:
            raise ValueError(f"{KEY}: {model_dir}/config.json decodes at {config.model_args.output_sample_rate} Hz, "
                             f"not {OUTPUT_RATE}")
        model = xtts.Xtts(config)
        model.load_checkpoint(config, checkpoint_dir=str(model_dir), eval=True)
        self._model = model.to(device)
        self._config = config

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._model is None:
            raise RuntimeError(f"{KEY}: clone() called before load()")
        return support.clone_valid(self, requests, lambda valid: [self._clone_one(r) for r in valid])

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        language = upstream_language(request.target_language)
        prompt = np.asarray(request.prompt_audio, dtype=np.float32)
        with support.prompt_files([prompt], request.prompt_sample_rate) as (path,):
            latents, speaker = self._model.get_conditioning_latents(audio_path=[str(path)],
                                                                    **voice_settings(self._config))
        support.seed_everything(request.seed)
        out = self._model.inference(request.target_text, language, latents, speaker,
                                    enable_text_splitting=TEXT_SPLITTING, **inference_settings(self._config))
        wav = support.as_waveform(out["wav"], KEY)
        if wav.size == 0:
            return CloneFailure("XTTS-v2 generated no audio")
        return wav
