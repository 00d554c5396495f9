"""Speaker similarity and speaker-verification accept rate with speechbrain's ECAPA-TDNN, as upstream RVCBench.

Upstream (github.com/Nanboy-Ronan/RVCBench@b47908d, src/evaluation/generation.py, `_load_speaker_recognition`
and the "SIM & SVA" step of `_evaluate_pairs`) calls `SpeakerRecognition.verify_files(real_target, clone)` of
`speechbrain/spkrec-ecapa-voxceleb`. That is, per pair: each file resampled to 16 kHz mono, the whole waveform
(no trimming, no VAD) through `encode_batch(wav, normalize=False)` (Fbank 80 → sentence mean normalisation →
ECAPA-TDNN, 192-d), `score = CosineSimilarity(dim=-1, eps=1e-6)(emb_target, emb_clone)` and the decision
`score > 0.25` (verify_batch's default threshold, which upstream does not change). SIM is the mean score and
SVA the mean decision over the pairs. Here:

- `sim_ecapa`: that cosine, clone vs the real recording of the target utterance (upstream's `sim`).
- `sva`: 1.0 when `sim_ecapa > sva_threshold` (0.25, strictly greater, as upstream), else 0.0; its mean is
  upstream's `avg_sva`.
- `sva_eer`: the same decision at the equal-error-rate threshold of real-vs-real trials of the dataset; emitted
  only once a threshold is known (`sva_eer_threshold=` setting, or `calibrate_eer(recordings)`, which scores
  every pair of real recordings by `trial_scores` and takes `eer_threshold`).
- `sim_ecapa_prompt`: cosine of the clone with the prompt the model cloned from (not in upstream).
- `sim_ecapa_checkpoint`: the weights' fingerprint (`rvcbench.scoring.weights.weights_fingerprint`).

Batching: upstream embeds one file at a time; here the clips of a call and its references are sorted into
length buckets (`rvcbench.scoring.bucketing`) and each bucket goes through `encode_batch` once, zero-padded, with
speechbrain's relative lengths `wav_lens`. Padding is not exactly neutral: the sentence mean normalisation and
the attentive statistics pooling honour `wav_lens`, but the Fbank frames and the TDNN convolutions at the end of
a shorter clip see the padding where a lone clip sees reflect padding, and batched float32 kernels sum in
another order. Measured with random weights (the small checkpoint of tests/test_scorer_ecapa.py) on the 50 demo
pairs (clips of 1.6-9.8 s): |SIM batched - SIM alone| ≤ 6.8e-4 (mean 1.3e-4) with the default buckets and
≤ 3.7e-4 with all 50 in one batch; no SVA decision changed; on 8 clips of 1.6-7.8 s in one batch the batched
and lone embeddings had cosine ≥ 0.99998 (relative L2 difference ≤ 5.2e-3). With random weights every SIM
lies between 0.91 and 1.0; the largest difference is under 1 % of that spread. `batch_items=1` reproduces
upstream's one-at-a-time `verify_batch` to 1e-6 (the cosine is taken in float64 here). On a CPU the forward
pass runs on `cpu_threads` torch threads (1): on a shared 2-core machine one thread was ~10x faster than two.

Embeddings of reference recordings (targets, prompts, real-vs-real trials) are cached in memory and on disk
(`rvcbench.scoring.embedding_cache`), keyed by the audio's hash under the scorer version and the checkpoint's
fingerprint. Weights come from `--scorer-weights ecapa=DIR` or the local Hugging Face cache; nothing is
downloaded: the checkpoint's `pretrained_path` is pointed at that folder and speechbrain's network access is off.
"""

from __future__ import annotations

import contextlib
import math
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rvcbench.environment import package_version, torch_threads
from rvcbench.errors import MissingDependencyError, RvcbenchError
from rvcbench.scoring.bucketing import length_buckets
from rvcbench.scoring.contract import NEEDS_PROMPT_AUDIO, NEEDS_TARGET_AUDIO, Metric, ScoreInput, Scorer, ScorerMeta
from rvcbench.scoring.embedding_cache import audio_hash
from rvcbench.scoring.inputs import MIN_SAMPLES_16K, unusable_reason
from rvcbench.scoring.reference_embeddings import COSINE_EPS, Embedding, ReferenceEmbeddings, cosine
from rvcbench.scoring.weights import ScorerWeights, resolve_weights, weights_fingerprint

CODE_VERSION = "1"
SAMPLE_RATE = 16000
UPSTREAM_SVA_THRESHOLD = 0.25  # speechbrain SpeakerRecognition.verify_batch default, used by upstream RVCBench
MIN_SAMPLES = MIN_SAMPLES_16K  # 0.1 s; the model itself fails below ~640 samples (reflect padding of its TDNNs)
BATCH_ITEMS = 16
BATCH_SECONDS = 120.0  # padded audio per forward pass
REFERENCE_CACHE_ITEMS = 8192  # 192 floats each
CPU_THREADS = 1  # on a shared 2-core CPU one thread ran the forward pass ~10x faster than two (0.05 s vs 0.6 s)

ECAPA_WEIGHTS = ScorerWeights(
    name="ecapa",
    hf_repo="speechbrain/spkrec-ecapa-voxceleb",
    files=("hyperparams.yaml", "embedding_model.ckpt", "mean_var_norm_emb.ckpt", "classifier.ckpt",
           "label_encoder.txt"),
    description="speechbrain ECAPA-TDNN speaker encoder trained on VoxCeleb",
    licence="Apache-2.0",
)
REQUIREMENTS = "pip install speechbrain==1.1.2"


def _error_rates(same: np.ndarray, different: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false rejection, false acceptance) rates of the rule `score > t`, for each t (none equal to a score)."""
    frr = np.searchsorted(np.sort(same), thresholds, side="left") / same.size
    far = (different.size - np.searchsorted(np.sort(different), thresholds, side="right")) / different.size
    return frr, far


def _checked(scores: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(scores, dtype=np.float64).ravel()
    if array.size == 0:
        raise ValueError(f"eer_threshold needs at least one {what} score")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"eer_threshold: the {what} scores contain NaN or Inf")
    return array


def _eer_point(same: np.ndarray, different: np.ndarray) -> tuple[float, float]:
    values = np.unique(np.concatenate([same, different]))
    span = max(float(values[-1] - values[0]), 1.0)
    candidates = np.concatenate([[values[0] - span], (values[:-1] + values[1:]) / 2, [values[-1] + span]])
    frr, far = _error_rates(same, different, candidates)
    best = int(np.lexsort((np.maximum(frr, far), np.abs(frr - far)))[0])
    return float(candidates[best]), float((frr[best] + far[best]) / 2)


def eer_threshold(same_speaker_scores: Sequence[float] | np.ndarray,
                  different_speaker_scores: Sequence[float] | np.ndarray) -> float:
    """The equal-error-rate operating point of the rule `accept when score > threshold`.

    Candidate thresholds lie halfway between consecutive distinct scores (and beyond both ends), so no trial
    sits on the threshold; the one where false rejections (same-speaker scores below it) and false acceptances
    (different-speaker scores above it) are closest wins, ties going to the lower error, then the lower
    threshold. Perfectly separated scores give the midpoint between the highest different-speaker score and
    the lowest same-speaker score.
    """
    return _eer_point(_checked(same_speaker_scores, "same-speaker"),
                      _checked(different_speaker_scores, "different-speaker"))[0]


def equal_error_rate(same_speaker_scores: Sequence[float] | np.ndarray,
                     different_speaker_scores: Sequence[float] | np.ndarray) -> float:
    """The error rate at `eer_threshold` (mean of the false rejection and false acceptance rates there)."""
    return _eer_point(_checked(same_speaker_scores, "same-speaker"),
                      _checked(different_speaker_scores, "different-speaker"))[1]


@dataclass
class TrialScores:
    """Cosine scores of every pair of real recordings, split by whether both come from the same speaker."""

    same: np.ndarray
    different: np.ndarray
    skipped: list[str] = field(default_factory=list)  # "index (speaker): reason" of recordings not scored


def torch_device(device: str) -> str:
    import torch

    return device if device.startswith("cuda") and torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def limited_cpu_threads(model: Any, threads: int) -> Iterator[None]:
    """Limit torch's CPU threads while `model` runs on the CPU (threads ≤ 0: torch's default)."""
    if threads > 0 and str(getattr(model, "device", "cpu")).startswith("cpu"):
        with torch_threads(threads):
            yield
    else:
        yield


def load_speechbrain(folder: Path, device: str, overrides: dict[str, str], cls: Any = None) -> Any:
    """A speechbrain inference interface built from a local checkpoint folder, never from the network.

    `overrides` point the hyperparams' hub ids (e.g. `pretrained_path`) at local folders; a key the file does not
    define is left out. speechbrain links the files into a temporary `savedir`, loads them, and the folder is
    removed: nothing is written next to the user's checkpoint and no stale link survives a change of weights.
    """
    try:
        from speechbrain.inference.speaker import EncoderClassifier
        from speechbrain.utils.fetching import FetchConfig
    except ImportError as exc:
        raise MissingDependencyError(f"the speechbrain scorers need speechbrain ({exc}): {REQUIREMENTS}") from exc
    text = (folder / "hyperparams.yaml").read_text(encoding="utf-8")
    present = {key: value for key, value in overrides.items()
               if re.search(rf"^{re.escape(key)}\s*:", text, flags=re.MULTILINE)}
    with tempfile.TemporaryDirectory(prefix="rvcbench-speechbrain-") as savedir:
        model = (cls or EncoderClassifier).from_hparams(
            source=str(folder), savedir=savedir, overrides=present,
            fetch_config=FetchConfig(allow_network=False), run_opts={"device": torch_device(device)})
    model.eval()
    return model


class EcapaSimilarity(Scorer):
    meta = ScorerMeta(
        name="sim_ecapa",
        version=f"{CODE_VERSION}+speechbrain-{package_version('speechbrain')}+{ECAPA_WEIGHTS.hf_repo}",
        model=f"{ECAPA_WEIGHTS.hf_repo} (speechbrain ECAPA-TDNN, 192-d)",
        needs=frozenset({NEEDS_TARGET_AUDIO, NEEDS_PROMPT_AUDIO}),
        sample_rate=SAMPLE_RATE,
        metrics=(
            Metric("sim_ecapa", True, "Cosine similarity of ECAPA-TDNN embeddings: clone vs real target recording "
                                      "(upstream RVCBench's SIM)"),
            Metric("sva", True, f"Speaker verification accepts the clone as the target speaker: cosine > "
                                f"{UPSTREAM_SVA_THRESHOLD} (upstream RVCBench's SVA; the mean is the accept rate)"),
            Metric("sva_eer", True, "Speaker verification accept at the EER threshold of the dataset's "
                                    "real-vs-real trials (only once that threshold is known)", top_level=False),
            Metric("sim_ecapa_prompt", True, "Cosine similarity of ECAPA-TDNN embeddings: clone vs prompt"),
        ),
        requirements=f"{REQUIREMENTS}; {ECAPA_WEIGHTS.download_command()}",
        gpu_compatible=True,
        settings={"sva_threshold": UPSTREAM_SVA_THRESHOLD, "sva_rule": "cosine > threshold",
                  "embedding": "encode_batch(wav, wav_lens, normalize=False)", "cosine_eps": COSINE_EPS,
                  "batch_items": BATCH_ITEMS, "batch_seconds": BATCH_SECONDS, "min_samples": MIN_SAMPLES,
                  "cpu_threads": CPU_THREADS},
    )

    def __init__(self, sva_threshold: float = UPSTREAM_SVA_THRESHOLD, sva_eer_threshold: float | None = None,
                 batch_items: int = BATCH_ITEMS, batch_seconds: float = BATCH_SECONDS,
                 cpu_threads: int = CPU_THREADS) -> None:
        if batch_items < 1 or batch_seconds <= 0:
            raise ValueError("batch_items must be at least 1 and batch_seconds positive")
        self.sva_threshold = float(sva_threshold)
        self.sva_eer_threshold = None if sva_eer_threshold is None else float(sva_eer_threshold)
        self.batch_items = int(batch_items)
        self.batch_seconds = float(batch_seconds)
        self.cpu_threads = int(cpu_threads)
        self._model: Any = None
        self._checkpoint = ""
        self._references = ReferenceEmbeddings(SAMPLE_RATE, REFERENCE_CACHE_ITEMS)

    def load(self, device: str) -> None:
        folder = resolve_weights(ECAPA_WEIGHTS)
        self._checkpoint = weights_fingerprint(folder, ECAPA_WEIGHTS.files)
        self._model = load_speechbrain(folder, device, {"pretrained_path": str(folder)})
        self._references.use_disk(self.meta.name, f"{self.meta.version}+{self._checkpoint}")

    @property
    def checkpoint(self) -> str:
        return self._checkpoint

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        if self._model is None:
            self.load("cpu")
        references = [w for item in batch for w in (item.target_audio, item.prompt_audio) if w is not None]
        embeddings = self._embeddings([item.audio for item in batch], references)
        return [self._score_one(item, embeddings) for item in batch]

    def _score_one(self, item: ScoreInput, embeddings: dict[str, Embedding]) -> dict[str, float | str]:
        clip = embeddings[audio_hash(item.audio, SAMPLE_RATE)]
        row: dict[str, float | str] = {"sim_ecapa": math.nan, "sva": math.nan, "sim_ecapa_prompt": math.nan}
        errors = [f"clip: {clip.error}"] if clip.error else []
        for metric, wav, label in (("sim_ecapa", item.target_audio, "target"),
                                   ("sim_ecapa_prompt", item.prompt_audio, "prompt")):
            ref = embeddings[audio_hash(wav, SAMPLE_RATE)] if wav is not None else Embedding(None, "not provided")
            if ref.error:
                errors.append(f"{label}: {ref.error}")
            if clip.vector is not None and ref.vector is not None:
                row[metric] = cosine(clip.vector, ref.vector)
        sim = row["sim_ecapa"]
        if not math.isnan(sim):
            row["sva"] = 1.0 if sim > self.sva_threshold else 0.0
        if self.sva_eer_threshold is not None:
            row["sva_eer"] = math.nan if math.isnan(sim) else (1.0 if sim > self.sva_eer_threshold else 0.0)
        row[f"{self.meta.name}_checkpoint"] = self._checkpoint
        if errors:
            row[f"{self.meta.name}_error"] = "; ".join(errors)
        return row

    def trial_scores(self, recordings: Sequence[tuple[str, np.ndarray]]) -> TrialScores:
        """Cosine of every pair of the given real recordings (speaker id, 16 kHz waveform), same vs different.

        The recordings are embedded as references (cached); an unusable one is skipped and listed.
        """
        if self._model is None:
            self.load("cpu")
        embeddings = self._embeddings([], [wav for _, wav in recordings])
        speakers: list[str] = []
        vectors: list[np.ndarray] = []
        skipped: list[str] = []
        for index, (speaker, wav) in enumerate(recordings):
            found = embeddings[audio_hash(wav, SAMPLE_RATE)]
            if found.vector is None:
                skipped.append(f"{index} ({speaker}): {found.error}")
                continue
            speakers.append(str(speaker))
            vectors.append(np.asarray(found.vector, dtype=np.float64))
        if len(vectors) < 2:
            return TrialScores(np.zeros(0), np.zeros(0), skipped)
        matrix = np.stack(vectors)
        norms = np.linalg.norm(matrix, axis=1)
        scores = (matrix @ matrix.T) / np.maximum(np.outer(norms, norms), COSINE_EPS)
        upper = np.triu_indices(len(vectors), k=1)
        ids = np.array(speakers)
        same = ids[upper[0]] == ids[upper[1]]
        pair_scores = scores[upper]
        return TrialScores(pair_scores[same], pair_scores[~same], skipped)

    def calibrate_eer(self, recordings: Sequence[tuple[str, np.ndarray]]) -> float:
        """Set (and return) the EER threshold of the real-vs-real trials of `recordings`; rows then get `sva_eer`."""
        trials = self.trial_scores(recordings)
        if trials.same.size == 0 or trials.different.size == 0:
            raise RvcbenchError(
                f"the EER threshold needs same-speaker and different-speaker pairs of real recordings; got "
                f"{trials.same.size} and {trials.different.size} (give at least two usable recordings of one "
                "speaker and one of another)")
        self.sva_eer_threshold = eer_threshold(trials.same, trials.different)
        return self.sva_eer_threshold

    def _embeddings(self, clips: list[np.ndarray], references: list[np.ndarray]) -> dict[str, Embedding]:
        return self._references.all(clips, references, self._embed)

    def _embed(self, wavs: dict[str, np.ndarray]) -> dict[str, Embedding]:
        """ECAPA embeddings, one `encode_batch` per length bucket (zero padding + relative `wav_lens`)."""
        import torch

        out: dict[str, Embedding] = {}
        usable: list[tuple[str, np.ndarray]] = []
        for key, wav in wavs.items():
            reason = unusable_reason(wav, MIN_SAMPLES)
            if reason is None:
                usable.append((key, np.asarray(wav, dtype=np.float32)))
            else:
                out[key] = Embedding(None, reason)
        lengths = [wav.size for _, wav in usable]
        for bucket in length_buckets(lengths, self.batch_items, int(self.batch_seconds * SAMPLE_RATE)):
            longest = max(lengths[i] for i in bucket)
            padded = np.zeros((len(bucket), longest), dtype=np.float32)
            for row, index in enumerate(bucket):
                padded[row, :lengths[index]] = usable[index][1]
            relative = torch.tensor([lengths[i] / longest for i in bucket], dtype=torch.float32)
            with torch.no_grad(), limited_cpu_threads(self._model, self.cpu_threads):
                vectors = self._model.encode_batch(torch.from_numpy(padded), relative, normalize=False)
            vectors = vectors.reshape(len(bucket), -1).float().cpu().numpy()
            for row, index in enumerate(bucket):
                vector = vectors[row]
                ok = bool(np.all(np.isfinite(vector)))
                out[usable[index][0]] = Embedding(vector if ok else None,
                                                   None if ok else "the model returned a non-finite embedding")
        return out
