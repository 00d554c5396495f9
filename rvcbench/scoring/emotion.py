"""Emotion match rate with speechbrain's wav2vec2 emotion classifier, as upstream RVCBench computes it.

Upstream (github.com/Nanboy-Ronan/RVCBench@b47908d, src/evaluation/generation.py, `_load_emotion_recognizer`,
`_predict_emotion_label` and the emotion step of `_evaluate_pairs`) loads
`speechbrain/emotion-recognition-wav2vec2-IEMOCAP` with `EncoderClassifier.from_hparams` and wires the
checkpoint's own modules into it (`wav2vec2(wav, ones)` → `avg_pool` (mean over time) → `output_mlp`), then
`classify_batch` on each file alone, resampled to 16 kHz and averaged to mono. The label is the argmax class
(`neu`, `ang`, `hap`, `sad`), the same as the model card's `foreign_class(..., pymodule_file="custom_interface.py",
classname="CustomEncoderWav2vec2Classifier")` gives (its softmax does not move the argmax). A pair matches when
the clone's label equals the real target recording's label; the rate is the mean over the pairs.

Here the same modules are loaded from the local checkpoint (no hub code is executed: the forward pass is the
three calls above) and each waveform goes through alone, as upstream: speechbrain's wav2vec2 wrapper
layer-normalises the whole input and wav2vec2-base's first convolution group-normalises over time, so zero
padding in a batch would change the logits and could flip a label. Labels of real targets are cached in memory
and on disk (their logits, keyed by the audio hash, the scorer version and both checkpoints' fingerprints).

Weights: the speechbrain checkpoint (`--scorer-weights emotion=DIR`) and `facebook/wav2vec2-base`
(`--scorer-weights wav2vec2_base=DIR`): speechbrain builds the wav2vec2 model from that repo's config and
weights (transformers `from_pretrained`) before overwriting them with the checkpoint's `wav2vec2.ckpt`, so both
are needed offline. The hyperparams' `pretrained_path` and `wav2vec2_hub` are pointed at those folders.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from rvcbench.environment import package_version
from rvcbench.errors import MissingDependencyError
from rvcbench.lru import LruCache
from rvcbench.scoring.contract import NEEDS_TARGET_AUDIO, Metric, ScoreInput, Scorer, ScorerMeta
from rvcbench.scoring.ecapa import CPU_THREADS, REQUIREMENTS, limited_cpu_threads, load_speechbrain
from rvcbench.scoring.embedding_cache import EmbeddingCache, audio_hash
from rvcbench.scoring.inputs import MIN_SAMPLES_16K, unusable_reason
from rvcbench.scoring.weights import ScorerWeights, resolve_weights, weights_fingerprint

CODE_VERSION = "1"
SAMPLE_RATE = 16000
MIN_SAMPLES = MIN_SAMPLES_16K  # wav2vec2's convolutional front end needs at least 400 samples
REFERENCE_CACHE_ITEMS = 8192

EMOTION_WEIGHTS = ScorerWeights(
    name="emotion",
    hf_repo="speechbrain/emotion-recognition-wav2vec2-IEMOCAP",
    files=("hyperparams.yaml", "wav2vec2.ckpt", "model.ckpt", "label_encoder.txt"),
    description="speechbrain wav2vec2 emotion classifier (IEMOCAP, 4 classes)",
    licence="Apache-2.0",
)
WAV2VEC2_BASE_WEIGHTS = ScorerWeights(
    name="wav2vec2_base",
    hf_repo="facebook/wav2vec2-base",
    files=("config.json", "preprocessor_config.json", "pytorch_model.bin"),
    description="wav2vec 2.0 base, the model the emotion classifier wraps",
    licence="Apache-2.0",
)


class EmotionMatch(Scorer):
    meta = ScorerMeta(
        name="emotion_match",
        version=f"{CODE_VERSION}+speechbrain-{package_version('speechbrain')}"
                f"+transformers-{package_version('transformers')}+{EMOTION_WEIGHTS.hf_repo}",
        model=f"{EMOTION_WEIGHTS.hf_repo} (wav2vec2-base + mean pooling + linear, 4 emotions)",
        needs=frozenset({NEEDS_TARGET_AUDIO}),
        sample_rate=SAMPLE_RATE,
        metrics=(
            Metric("emotion_match", True, "The emotion predicted for the clone equals the one predicted for the "
                                          "real target recording (upstream RVCBench's emotion match rate)"),
        ),
        requirements=f"{REQUIREMENTS} transformers; {EMOTION_WEIGHTS.download_command()}; "
                     f"{WAV2VEC2_BASE_WEIGHTS.download_command()}",
        gpu_compatible=True,
        settings={"labels": "argmax of output_mlp(avg_pool(wav2vec2(wav)))", "batching": "one waveform per pass",
                  "min_samples": MIN_SAMPLES, "cpu_threads": CPU_THREADS},
    )

    def __init__(self, cpu_threads: int = CPU_THREADS) -> None:
        self.cpu_threads = int(cpu_threads)
        self._model: Any = None
        self._labels: dict[int, str] = {}
        self._checkpoint = ""
        self._memory: LruCache[str, np.ndarray] = LruCache(REFERENCE_CACHE_ITEMS)
        self._disk: EmbeddingCache | None = None

    def load(self, device: str) -> None:
        folder = resolve_weights(EMOTION_WEIGHTS)
        wav2vec2 = resolve_weights(WAV2VEC2_BASE_WEIGHTS)
        hyperparams = (folder / "hyperparams.yaml").read_text(encoding="utf-8")
        if not re.search(r"^wav2vec2_hub\s*:", hyperparams, flags=re.MULTILINE):
            raise MissingDependencyError(
                f"{folder / 'hyperparams.yaml'} does not define `wav2vec2_hub`, so the wav2vec2 model it wraps "
                f"cannot be pointed at a local folder; use the files of {EMOTION_WEIGHTS.hf_repo} "
                f"(`{EMOTION_WEIGHTS.download_command()}`)")
        try:
            import transformers  # noqa: F401  (speechbrain's wav2vec2 wrapper needs it)
        except ImportError as exc:
            raise MissingDependencyError(f"emotion_match needs transformers ({exc}): {self.meta.requirements}") from exc
        self._checkpoint = (f"{weights_fingerprint(folder, EMOTION_WEIGHTS.files)}+"
                            f"{weights_fingerprint(wav2vec2, WAV2VEC2_BASE_WEIGHTS.files)}")
        self._model = self._load_model(folder, wav2vec2, device)
        encoder = self._model.hparams.label_encoder
        self._labels = {int(index): str(label) for index, label in encoder.ind2lab.items()}
        self._disk = EmbeddingCache(self.meta.name, f"{self.meta.version}+{self._checkpoint}")

    @staticmethod
    def _load_model(folder: Path, wav2vec2: Path, device: str) -> Any:
        from speechbrain.inference.interfaces import Pretrained

        model = load_speechbrain(folder, device, {"pretrained_path": str(folder), "wav2vec2_hub": str(wav2vec2)},
                                 cls=Pretrained)
        missing = [name for name in ("wav2vec2", "avg_pool", "output_mlp") if name not in model.mods]
        if missing:
            raise MissingDependencyError(
                f"{folder / 'hyperparams.yaml'} lacks the modules {', '.join(missing)} of "
                f"{EMOTION_WEIGHTS.hf_repo}; use that repository's files")
        return model

    @property
    def checkpoint(self) -> str:
        return self._checkpoint

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        if self._model is None:
            self.load("cpu")
        return [self._score_one(item) for item in batch]

    def predict(self, wav: np.ndarray) -> str:
        """The emotion label of one 16 kHz waveform (raises ValueError when it cannot be scored)."""
        reason = unusable_reason(wav, MIN_SAMPLES)
        if reason is not None:
            raise ValueError(reason)
        if self._model is None:
            self.load("cpu")
        return self._label(self._logits(wav))

    def _score_one(self, item: ScoreInput) -> dict[str, float | str]:
        row: dict[str, float | str] = {"emotion_match": math.nan}
        errors = []
        labels: dict[str, str] = {}
        for what, wav, is_reference in (("clip", item.audio, False), ("target", item.target_audio, True)):
            reason = unusable_reason(wav, MIN_SAMPLES)
            if reason is not None:
                errors.append(f"{what}: {reason}")
                continue
            logits = self._reference_logits(wav) if is_reference else self._logits(wav)
            if not np.all(np.isfinite(logits)):
                errors.append(f"{what}: the model returned non-finite scores")
                continue
            labels[what] = self._label(logits)
        if "clip" in labels:
            row["emotion_label"] = labels["clip"]
        if "target" in labels:
            row["emotion_target_label"] = labels["target"]
        if len(labels) == 2:
            row["emotion_match"] = 1.0 if labels["clip"] == labels["target"] else 0.0
        row[f"{self.meta.name}_checkpoint"] = self._checkpoint
        if errors:
            row[f"{self.meta.name}_error"] = "; ".join(errors)
        return row

    def _label(self, logits: np.ndarray) -> str:
        index = int(np.argmax(logits))
        return self._labels.get(index, str(index))

    def _reference_logits(self, wav: np.ndarray) -> np.ndarray:
        key = audio_hash(wav, SAMPLE_RATE)
        logits = self._memory.get(key)
        if logits is None and self._disk is not None:
            logits = self._disk.get(key)
        if logits is None:
            logits = self._logits(wav)
            if np.all(np.isfinite(logits)) and self._disk is not None:
                self._disk.put(key, logits)
        self._memory.put(key, logits)
        return logits

    def _logits(self, wav: np.ndarray) -> np.ndarray:
        """Class scores of one waveform: wav2vec2 (relative length 1) → mean over time → linear layer."""
        import torch

        mods = self._model.mods
        signal = torch.from_numpy(np.asarray(wav, dtype=np.float32)).unsqueeze(0).to(self._model.device)
        lengths = torch.ones(1, device=signal.device)
        with torch.no_grad(), limited_cpu_threads(self._model, self.cpu_threads):
            features = mods.wav2vec2(signal, lengths)
            pooled = mods.avg_pool(features, lengths).reshape(1, -1)
            logits = mods.output_mlp(pooled)
        return logits.reshape(-1).float().cpu().numpy()
