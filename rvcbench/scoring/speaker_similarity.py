"""Speaker similarity (SIM) with Resemblyzer's GE2E voice encoder, whose weights ship in the package.

Each waveform (16 kHz) goes through `resemblyzer.preprocess_wav` (volume normalisation to -30 dBFS,
increase only, and WebRTC-VAD trimming of long silences), then the `embed_utterance` recipe: 1.6 s
partial windows at 1.3 windows/s (last one kept at ≥ 75 % coverage), each embedded by the LSTM, the
mean re-normalised. `sim` is the cosine similarity of the clone with the real target recording,
`sim_prompt` with the prompt the model cloned from.

Long clips (at least two `WINDOW_SECONDS` windows) are also scored window by window against the
target recording: `sim_first_window`, `sim_last_window` and `sim_drift` = last − first (negative: the
voice drifts away over a long generation), with every window's SIM under `sim_per_window`.

Batching: the partial windows of every distinct waveform in a batch go through the LSTM in one
forward pass (identical maths to `embed_utterance`, one call instead of one per utterance).
The LSTM runs single-threaded (`TORCH_THREADS`): on a small shared CPU, PyTorch's OpenMP threads
competing with other processes made the forward pass 10-30x slower than one thread.
Embeddings of reference recordings (targets, prompts) are cached by a hash of their samples, since
the same references recur across models and tasks within a run.
"""

from __future__ import annotations

import hashlib
import math
import warnings

import numpy as np

from rvcbench.environment import package_version, torch_threads
from rvcbench.errors import MissingDependencyError
from rvcbench.lru import LruCache
from rvcbench.scoring.contract import NEEDS_PROMPT_AUDIO, NEEDS_TARGET_AUDIO, Metric, ScoreInput, Scorer, ScorerMeta
from rvcbench.scoring.inputs import unusable_reason
from rvcbench.scoring.reference_embeddings import Embedding, cosine

CODE_VERSION = "2"  # 2: per-window SIM of long clips
WINDOW_SECONDS = 10.0
REFERENCE_CACHE_ITEMS = 4096  # 256 floats each: bounded memory on any dataset size
SAMPLE_RATE = 16000
PARTIAL_RATE = 1.3  # resemblyzer's embed_utterance defaults
MIN_COVERAGE = 0.75
MIN_SAMPLES = 160  # 10 ms: anything shorter cannot be scored
TORCH_THREADS = 1



def audio_key(wav: np.ndarray) -> str:
    """A content hash of a waveform (samples and length), used as a cache key."""
    data = np.ascontiguousarray(wav, dtype=np.float32)
    return hashlib.blake2b(data.tobytes(), digest_size=16).hexdigest() + f":{data.size}"


def clip_windows(wav: np.ndarray, seconds: float = WINDOW_SECONDS, sample_rate: int = SAMPLE_RATE) -> list[np.ndarray]:
    """Consecutive full windows of `seconds` (a trailing partial window is dropped); [] below two windows."""
    size = int(seconds * sample_rate)
    count = wav.size // size
    return [wav[i * size:(i + 1) * size] for i in range(count)] if count >= 2 else []


class ResemblyzerSimilarity(Scorer):
    meta = ScorerMeta(
        name="sim_resemblyzer",
        version=f"{CODE_VERSION}+resemblyzer-{package_version('resemblyzer')}",
        model="resemblyzer/pretrained.pt (GE2E LSTM speaker encoder, 256-d)",
        needs=frozenset({NEEDS_TARGET_AUDIO, NEEDS_PROMPT_AUDIO}),
        sample_rate=SAMPLE_RATE,
        metrics=(
            Metric("sim", True, "Cosine similarity of Resemblyzer embeddings: clone vs real target recording"),
            Metric("sim_prompt", True, "Cosine similarity of Resemblyzer embeddings: clone vs prompt"),
            Metric("sim_first_window", True, f"SIM of the clip's first {WINDOW_SECONDS:g} s window vs the target "
                                             "(clips of two windows or more)", top_level=False),
            Metric("sim_last_window", True, f"SIM of the clip's last full {WINDOW_SECONDS:g} s window vs the "
                                            "target", top_level=False),
            Metric("sim_drift", True, "SIM of the last window minus SIM of the first (negative: the voice "
                                      "drifts over a long generation)", top_level=False),
        ),
        requirements="pip install resemblyzer==0.1.4 'setuptools<81'",
        settings={"preprocess": "resemblyzer.preprocess_wav", "partial_rate": PARTIAL_RATE,
                  "min_coverage": MIN_COVERAGE, "torch_threads": TORCH_THREADS, "window_seconds": WINDOW_SECONDS},
    )

    def __init__(self) -> None:
        self._encoder = None
        self._reference_cache: LruCache[str, Embedding] = LruCache(REFERENCE_CACHE_ITEMS)

    def load(self, device: str) -> None:
        try:
            import torch

            with warnings.catch_warnings():  # webrtcvad imports the deprecated pkg_resources; nothing to act on
                warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
                from resemblyzer import VoiceEncoder
        except ImportError as exc:
            raise MissingDependencyError(
                f"Speaker similarity needs Resemblyzer ({exc}): {self.meta.requirements}") from exc
        torch_device = "cuda" if device.startswith("cuda") and torch.cuda.is_available() else "cpu"
        self._encoder = VoiceEncoder(device=torch_device, verbose=False)
        self._encoder.eval()

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        if self._encoder is None:
            self.load("cpu")
        references = [w for item in batch for w in (item.target_audio, item.prompt_audio) if w is not None]
        windows = [clip_windows(item.audio) for item in batch]
        clips = [item.audio for item in batch] + [w for ws in windows for w in ws]
        embeddings = self._embed_all(clips, references)
        return [{**self._score_one(item, embeddings), **self._score_windows(item, ws, embeddings)}
                for item, ws in zip(batch, windows, strict=True)]

    def _score_windows(self, item: ScoreInput, windows: list[np.ndarray],
                       embeddings: dict[str, Embedding]) -> dict[str, float | str | list]:
        nan = {"sim_first_window": math.nan, "sim_last_window": math.nan, "sim_drift": math.nan}
        if len(windows) < 2 or item.target_audio is None:
            return nan
        target = embeddings[audio_key(item.target_audio)]
        vectors = [embeddings[audio_key(w)].vector for w in windows]
        if target.vector is None or any(v is None for v in vectors):
            return nan
        sims = [cosine(v, target.vector) for v in vectors]
        return {"sim_first_window": sims[0], "sim_last_window": sims[-1], "sim_drift": sims[-1] - sims[0],
                "sim_per_window": sims}

    def _score_one(self, item: ScoreInput, embeddings: dict[str, Embedding]) -> dict[str, float | str]:
        clip = embeddings[audio_key(item.audio)]
        out: dict[str, float | str] = {"sim": math.nan, "sim_prompt": math.nan}
        errors = []
        if clip.error:
            errors.append(f"clip: {clip.error}")
        for metric, ref_wav, label in (("sim", item.target_audio, "target"), ("sim_prompt", item.prompt_audio,
                                                                            "prompt")):
            ref = embeddings[audio_key(ref_wav)] if ref_wav is not None else Embedding(None, "not provided")
            if ref.error:
                errors.append(f"{label}: {ref.error}")
            if clip.vector is not None and ref.vector is not None:
                out[metric] = cosine(clip.vector, ref.vector)
        if errors:
            out[f"{self.meta.name}_error"] = "; ".join(errors)
        return out

    def _embed_all(self, clips: list[np.ndarray], references: list[np.ndarray]) -> dict[str, Embedding]:
        """Embeddings of every distinct waveform; references come from / go to the cache."""
        result: dict[str, Embedding] = {}
        pending: dict[str, np.ndarray] = {}
        for wav, is_reference in [(w, False) for w in clips] + [(w, True) for w in references]:
            key = audio_key(wav)
            if key in result or key in pending:
                continue
            cached = self._reference_cache.get(key) if is_reference else None
            if cached is not None:
                result[key] = cached
            else:
                pending[key] = wav
        result.update(self._embed_batch(pending))
        for wav in references:
            key = audio_key(wav)
            self._reference_cache.put(key, result[key])
        return result

    def _embed_batch(self, wavs: dict[str, np.ndarray]) -> dict[str, Embedding]:
        """`embed_utterance` for many waveforms, with all partial windows in one forward pass."""
        import torch
        from resemblyzer import audio as rz_audio
        from resemblyzer import preprocess_wav

        out: dict[str, Embedding] = {}
        mels: list[np.ndarray] = []
        owners: list[str] = []
        for key, wav in wavs.items():
            reason = unusable_reason(wav, MIN_SAMPLES)
            if reason is None:
                wav = preprocess_wav(np.asarray(wav, dtype=np.float32))
                reason = "no speech found by the VAD" if wav.size < MIN_SAMPLES else None
            if reason is not None:
                out[key] = Embedding(None, reason)
                continue
            wav_slices, mel_slices = self._encoder.compute_partial_slices(wav.size, PARTIAL_RATE, MIN_COVERAGE)
            if wav_slices[-1].stop >= wav.size:
                wav = np.pad(wav, (0, wav_slices[-1].stop - wav.size), "constant")
            mel = rz_audio.wav_to_mel_spectrogram(wav)
            for s in mel_slices:
                mels.append(mel[s])
                owners.append(key)
        if mels:
            with torch.no_grad(), torch_threads(TORCH_THREADS):
                partials = self._encoder(torch.from_numpy(np.stack(mels)).to(self._encoder.device)).cpu().numpy()
            owner_array = np.array(owners)
            for key in dict.fromkeys(owners):
                raw = partials[owner_array == key].mean(axis=0)
                out[key] = Embedding(raw / np.linalg.norm(raw, 2))
        return out
