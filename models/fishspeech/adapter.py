"""FishSpeech / OpenAudio S1-mini: in-context cloning from a reference clip and its transcript, run from a checkout.

Builds upstream's `TTSInferenceEngine` the way `tools/server/model_manager.py` does (LLaMA queue +
DAC decoder, bf16, no compile) and sends one `ServeTTSRequest` per clone with the reference as WAV bytes.
`fish_speech` is imported from a clone of fishaudio/fish-speech (FISH_SPEECH_ROOT, or the one `rvcbench env create
fishspeech --with-upstream` records), as upstream installs it (`pip install -e .`): a regular install of the package
cannot import `fish_speech.models.dac.inference`, whose `pyrootutils.setup_root` raises FileNotFoundError when no
folder above the module holds the clone's `.project-root`.
"""

from __future__ import annotations

import io
import math
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, UpstreamCheckout, VoiceCloner
from rvcbench.errors import MissingDependencyError

REPO_ID = "fishaudio/openaudio-s1-mini"  # gated: accept the licence on the model page first
UPSTREAM = "https://github.com/fishaudio/fish-speech.git"
COMMIT = "d3df50503b36314a964f66cac1af1e19e95bcfa3"  # the last commit before the S2 rewrite that serves S1-mini
ROOT_ENV = "FISH_SPEECH_ROOT"
MARKER = ".project-root"  # what fish_speech/models/dac/inference.py's pyrootutils.setup_root looks for
WEIGHT_FILES = ("config.json", "model.pth", "tokenizer.tiktoken", "special_tokens.json", "codec.pth")
DECODER_CONFIG = "modded_dac_vq"
SAMPLE_RATE = 44100  # the modded DAC codec of S1-mini (fish_speech/configs/modded_dac_vq.yaml)
# ServeTTSRequest defaults, also the WebUI's (top_p 0.8, repetition_penalty 1.1, temperature 0.8); at this commit
# generate_long takes chunk_length but does not split the text, and nothing reads normalize
GENERATION = {"chunk_length": 200, "max_new_tokens": 1024, "top_p": 0.8, "repetition_penalty": 1.1,
              "temperature": 0.8, "normalize": True}


def reference_wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """The prompt as the WAV file bytes a `ServeReferenceAudio` carries (upstream resamples to 44.1 kHz)."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), int(sample_rate),
             format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def ran_away(samples: int, token_samples: int, max_new_tokens: int) -> bool:
    """Whether a clip is as long as a generation that never emitted `<|im_end|>`.

    `generate_long` drops the last generated token whatever it is, so a run that used all `max_new_tokens` steps
    returns `max_new_tokens - 1` frames of codes (one that stopped on the very last step looks the same); the DAC
    makes `token_samples` samples a frame. Upstream returns such a clip as final audio without saying so.
    """
    return samples >= (max_new_tokens - 1) * token_samples


class Adapter(VoiceCloner):
    name: ClassVar[str] = "fishspeech"
    description: ClassVar[str] = "OpenAudio S1-mini (Fish Audio, 0.5B dual-AR LLaMA over a DAC codec), in-context"
    sample_rate: ClassVar[int] = SAMPLE_RATE
    languages: ClassVar[frozenset[str]] = frozenset({"en", "zh", "ja", "ko", "fr", "de", "ar", "es"})
    needs_prompt_text: ClassVar[bool] = True
    batch_size: ClassVar[int] = 1  # the LLaMA worker caches are set up for max_batch_size=1
    requirements: ClassVar[str] = (f"models/fishspeech/requirements.txt + a checkout of {UPSTREAM} in {ROOT_ENV}; "
                                   "GPU with 12 GB")
    version: ClassVar[str] = "2"  # 2: runs from the checkout; refusals per item; a runaway generation fails
    weights_id: ClassVar[str] = REPO_ID
    checkout: ClassVar[UpstreamCheckout] = UpstreamCheckout(ROOT_ENV, UPSTREAM, COMMIT, MARKER)
    license: ClassVar[str] = "CC-BY-NC-SA-4.0"
    # what the inference engine, the LLaMA and the DAC import (fish_speech itself comes from the checkout)
    stack_modules: ClassVar[tuple[str, ...]] = ("torch", "torchaudio", "transformers", "hydra", "omegaconf", "loguru",
                                                "tiktoken", "pydantic", "pyrootutils", "lightning", "pytorch_lightning",
                                                "loralib", "natsort", "einops", "librosa", "dac", "audiotools")

    generation: ClassVar[dict] = GENERATION

    def __init__(self) -> None:
        self._engine = None
        self._schema = None
        self._token_samples = 0  # audio samples the DAC decodes from one token (frame of codes)

    def load(self, device: str) -> None:
        """Start the LLaMA generation thread and load the DAC decoder on `device`."""
        checkpoint = support.resolve_weights(self.weights_spec(), REPO_ID, self.name, required_files=WEIGHT_FILES)
        for module in self.stack_modules:
            support.require(module, self.name)
        torch = support.require("torch", self.name)
        support.upstream_checkout(self.checkout, self.name)
        hint = f"check the checkout in {ROOT_ENV}"
        engine = support.require("fish_speech.inference_engine", self.name, hint)
        t2s = support.require("fish_speech.models.text2semantic.inference", self.name, hint)
        dac = support.require("fish_speech.models.dac.inference", self.name, hint)
        self._schema = support.require("fish_speech.utils.schema", self.name, hint)
        if not hasattr(support.require("torchaudio", self.name), "list_audio_backends"):
            raise MissingDependencyError(
                f"model {self.name!r}: fish-speech {COMMIT[:7]} calls torchaudio.list_audio_backends() "
                "(ReferenceLoader), which torchaudio 2.9 removed; install the pinned torch/torchaudio 2.8.0 from "
                f"models/{self.name}/requirements.txt (`rvcbench env create {self.name}`).")
        precision = torch.bfloat16
        queue = t2s.launch_thread_safe_queue(checkpoint_path=str(checkpoint), device=device, precision=precision,
                                             compile=False)
        decoder = dac.load_model(config_name=DECODER_CONFIG, checkpoint_path=str(checkpoint / "codec.pth"),
                                 device=device)
        if decoder.sample_rate != self.sample_rate:
            raise ValueError(f"the S1-mini codec at {checkpoint} runs at {decoder.sample_rate} Hz, "
                             f"not {self.sample_rate}")
        # decoder rates 8*8*4*2 times the quantizer's 2*2 upsampling: 2048 samples a token for S1-mini's codec
        self._token_samples = (math.prod(int(rate) for rate in decoder.decoder_rates)
                               * math.prod(int(factor) for factor in decoder.quantizer.downsample_factor))
        self._engine = engine.TTSInferenceEngine(llama_queue=queue, decoder_model=decoder, precision=precision,
                                                 compile=False)

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._engine is None:
            raise RuntimeError("fishspeech: clone called before load()")
        return support.clone_valid(self, requests, lambda valid: [self._clone_one(request) for request in valid])

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        support.seed_everything(request.seed)
        reference = self._schema.ServeReferenceAudio(
            audio=reference_wav_bytes(request.prompt_audio, request.prompt_sample_rate), text=request.prompt_text)
        serve = self._schema.ServeTTSRequest(text=request.target_text, references=[reference], seed=request.seed,
                                             use_memory_cache="off", streaming=False, **self.generation)
        for result in self._engine.inference(serve):
            if result.code == "error":
                return CloneFailure(f"fish-speech: {result.error}")
            if result.code == "final":
                wave = support.as_waveform(result.audio[1], self.name)
                limit = self.generation["max_new_tokens"]
                if ran_away(wave.size, self._token_samples, limit):
                    return CloneFailure(f"fish-speech generated max_new_tokens={limit} tokens without <|im_end|> "
                                        f"({wave.size / self.sample_rate:.1f} s of audio): the generation ran away")
                return wave
        return CloneFailure("fish-speech returned no final audio")
