"""FishSpeech / OpenAudio S1-mini: in-context cloning from a reference clip and its transcript.

Builds upstream's `TTSInferenceEngine` the way `tools/server/model_manager.py` does (LLaMA queue +
DAC decoder, bf16, no compile) and sends one `ServeTTSRequest` per clone with the reference as WAV bytes.
"""

from __future__ import annotations

import io
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, VoiceCloner

REPO_ID = "fishaudio/openaudio-s1-mini"  # gated: accept the licence on the model page first
WEIGHT_FILES = ("config.json", "model.pth", "tokenizer.tiktoken", "special_tokens.json", "codec.pth")
DECODER_CONFIG = "modded_dac_vq"
SAMPLE_RATE = 44100  # the modded DAC codec of S1-mini (fish_speech/configs/modded_dac_vq.yaml)
# ServeTTSRequest defaults, also the WebUI's (top_p 0.8, repetition_penalty 1.1, temperature 0.8)
GENERATION = {"chunk_length": 200, "max_new_tokens": 1024, "top_p": 0.8, "repetition_penalty": 1.1,
              "temperature": 0.8, "normalize": True}


def reference_wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """The prompt as the WAV file bytes a `ServeReferenceAudio` carries (upstream resamples to 44.1 kHz)."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), int(sample_rate),
             format="WAV", subtype="PCM_16")
    return buffer.getvalue()


class Adapter(VoiceCloner):
    name: ClassVar[str] = "fishspeech"
    description: ClassVar[str] = "OpenAudio S1-mini (Fish Audio, 0.5B dual-AR LLaMA over a DAC codec), in-context"
    sample_rate: ClassVar[int] = SAMPLE_RATE
    languages: ClassVar[frozenset[str]] = frozenset({"en", "zh", "ja", "ko", "fr", "de", "ar", "es"})
    needs_prompt_text: ClassVar[bool] = True
    batch_size: ClassVar[int] = 1  # the LLaMA worker caches are set up for max_batch_size=1
    requirements: ClassVar[str] = "models/fishspeech/requirements.txt (fish-speech from git); GPU with 12 GB"
    version: ClassVar[str] = "1"
    weights_id: ClassVar[str] = REPO_ID
    license: ClassVar[str] = "CC-BY-NC-SA-4.0"
    stack_modules: ClassVar[tuple[str, ...]] = ("torch", "torchaudio", "fish_speech", "hydra", "loguru", "tiktoken")

    def __init__(self) -> None:
        self._engine = None
        self._schema = None

    def load(self, device: str) -> None:
        """Start the LLaMA generation thread and load the DAC decoder on `device`."""
        checkpoint = support.resolve_weights(self.weights_spec(), REPO_ID, self.name, required_files=WEIGHT_FILES)
        for module in self.stack_modules:
            support.require(module, self.name)
        torch = support.require("torch", self.name)
        engine = support.require("fish_speech.inference_engine", self.name)
        t2s = support.require("fish_speech.models.text2semantic.inference", self.name)
        dac = support.require("fish_speech.models.dac.inference", self.name)
        self._schema = support.require("fish_speech.utils.schema", self.name)
        precision = torch.bfloat16
        queue = t2s.launch_thread_safe_queue(checkpoint_path=str(checkpoint), device=device, precision=precision,
                                             compile=False)
        decoder = dac.load_model(config_name=DECODER_CONFIG, checkpoint_path=str(checkpoint / "codec.pth"),
                                 device=device)
        if decoder.sample_rate != self.sample_rate:
            raise ValueError(f"the S1-mini codec at {checkpoint} runs at {decoder.sample_rate} Hz, "
                             f"not {self.sample_rate}")
        self._engine = engine.TTSInferenceEngine(llama_queue=queue, decoder_model=decoder, precision=precision,
                                                 compile=False)

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._engine is None:
            raise RuntimeError("fishspeech: clone called before load()")
        return [self._clone_one(request) for request in requests]

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        if not request.target_text.strip():
            return CloneFailure("empty target text")
        if not request.prompt_text.strip():
            return CloneFailure("S1-mini in-context cloning needs the prompt transcript, which is empty")
        support.seed_everything(request.seed)
        reference = self._schema.ServeReferenceAudio(
            audio=reference_wav_bytes(request.prompt_audio, request.prompt_sample_rate), text=request.prompt_text)
        serve = self._schema.ServeTTSRequest(text=request.target_text, references=[reference], seed=request.seed,
                                             use_memory_cache="off", streaming=False, **GENERATION)
        for result in self._engine.inference(serve):
            if result.code == "error":
                return CloneFailure(f"fish-speech: {result.error}")
            if result.code == "final":
                return support.as_waveform(result.audio[1], self.name)
        return CloneFailure("fish-speech returned no final audio")
