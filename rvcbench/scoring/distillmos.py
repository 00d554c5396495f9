"""DistillMOS: a small MOS predictor (1-5) for the clip alone, whose weights ship in the `distillmos` wheel.

DistillMOS is NOT UTMOS. It is a ~4 M-parameter CNN + transformer (variant 7, `distill_mos_v7.pt`, MIT)
distilled from an XLS-R-based speech-quality model, trained partly on VoiceMOS 2022 (BVCC, the data UTMOS was
trained on) and other MOS corpora. Its numbers are on a 1-5 MOS scale but they are its own: they are not
comparable with published UTMOS numbers (or DNSMOS), only with DistillMOS numbers of the same checkpoint, which
every row records under `distillmos_checkpoint` (package version + first 16 hex of the weights' sha256).

The procedure is upstream's `ConvTransformerSQAModel.forward` (distillmos 0.9.1, 16 kHz input):
  1. A clip shorter than 122880 samples (7.68 s) is zero-padded at the end to 122880.
  2. A longer clip is cut into n = ceil((len - 122880) / 16000) + 1 crops of 122880 samples whose starts are
     int(c × (len - 122880)) for c in linspace(0, 1, n) (first and last crop flush with the clip's ends).
  3. Each crop is peak-normalised (x / (max|x| + 1e-8)), goes through the network, and gives q in [0, 1].
  4. The clip's score is 1 + 4 × mean(q over its crops).

Batching: steps 1-2 are done here (`crops`), and the crops of every clip in a batch are stacked into forward
passes of at most `crops_per_call` rows, run with the model's own segmenting switched off. Every crop is exactly
122880 samples, so a batch needs no padding and no length bucketing; the network has no cross-row operation
(BatchNorm in eval mode), so a batch equals one-at-a-time scoring up to float summation order: measured on the
50 demo recordings (8 longer than 7.68 s), max |batch − upstream per-clip forward| = 4.8e-7 MOS.

Speed, measured on a 2-core CPU shared with other jobs (load average 2-4, so timings vary 2x from run to run):
0.4-0.7 s/utt one clip at a time on the 50 demo recordings (1.6-9.8 s, mean 5.5 s), the same as upstream's
forward interleaved with it (median 1.67 vs 1.70 s with 2 torch threads under load, 0.71 vs 0.72 s with 1);
stacking crops gives no reliable speed-up on a CPU (the STFT-CNN is compute-bound: 4 or 20 clips per call,
0.86-1.18 s/utt in the same loaded runs), as for DNSMOS; it should pay off on a GPU (not measured). Torch's
thread setting is left as the caller has it. Model load ~0.1 s.

Audio that is missing, shorter than 0.1 s, non-finite or silent (`unusable_reason`) gets NaN with the reason
under `distillmos_error` (step 3 would otherwise blow silence up to full scale).
"""

from __future__ import annotations

import hashlib
import math
from functools import cache
from pathlib import Path

import numpy as np

from rvcbench.environment import package_version
from rvcbench.errors import MissingDependencyError
from rvcbench.scoring.contract import Metric, ScoreInput, Scorer, ScorerMeta
from rvcbench.scoring.inputs import unusable_reason

CODE_VERSION = "1"
SAMPLE_RATE = 16000
SEQ_LEN = 122880  # distillmos.sqa.SEQ_LEN: 7.68 s per crop
MAX_HOP_LEN = 16000  # distillmos.sqa.MAX_HOP_LEN: crops of a long clip start at most 1 s apart
CPU_CROPS_PER_CALL = 16
GPU_CROPS_PER_CALL = 128  # 128 × 122880 float32 ≈ 63 MB of input
WEIGHTS_FILE = "distill_mos_v7.pt"
REQUIREMENTS = "pip install distillmos==0.9.1"


def weights_path() -> Path | None:
    """The checkpoint inside the installed `distillmos` package, or None when the package is absent."""
    from importlib.util import find_spec

    spec = find_spec("distillmos")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve().parent / "weights" / WEIGHTS_FILE


@cache
def _file_sha16(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def checkpoint_id() -> str:
    """`distillmos-<version>+<sha256[:16] of distill_mos_v7.pt>`, or `distillmos-missing` without the package."""
    path = weights_path()
    if path is None or not path.is_file():
        return "distillmos-missing"
    return f"distillmos-{package_version('distillmos')}+{_file_sha16(path)}"


def crops(wav: np.ndarray) -> list[np.ndarray]:
    """Steps 1-2 of the module docstring: the 122880-sample crops upstream's forward makes of one 16 kHz clip."""
    wav = np.asarray(wav, dtype=np.float32)
    overlength = wav.size - SEQ_LEN
    if overlength <= 0:
        return [np.pad(wav, (0, -overlength))]
    num_hops = int(np.ceil(overlength / MAX_HOP_LEN)) + 1
    starts = [int(c * overlength) for c in np.linspace(0, 1, num_hops)]
    return [wav[s:s + SEQ_LEN] for s in starts]


_CHECKPOINT = checkpoint_id()


class DistillMos(Scorer):
    meta = ScorerMeta(
        name="distillmos",
        version=f"{CODE_VERSION}+{_CHECKPOINT}",
        model=f"distillmos/weights/{WEIGHTS_FILE} (DistillMOS variant 7, ConvTransformerSQAModel)",
        needs=frozenset(),
        sample_rate=SAMPLE_RATE,
        metrics=(
            Metric("distillmos", True, "DistillMOS predicted MOS (1-5) of the clip alone; not UTMOS, not "
                                       "comparable with published UTMOS numbers"),
        ),
        requirements=REQUIREMENTS,
        gpu_compatible=True,
        settings={"checkpoint": _CHECKPOINT, "seq_len": SEQ_LEN, "max_hop_len": MAX_HOP_LEN},
    )

    def __init__(self, crops_per_call: int | None = None) -> None:
        self._model = None
        self._device = "cpu"
        self._crops_per_call = crops_per_call

    def load(self, device: str) -> None:
        try:
            import torch
            from distillmos.sqa import ConvTransformerSQAModel
        except ImportError as exc:
            raise MissingDependencyError(f"DistillMOS needs the distillmos package ({exc}): {REQUIREMENTS}") from exc
        path = weights_path()
        if path is None or not path.is_file():
            raise MissingDependencyError(f"DistillMOS weights {WEIGHTS_FILE} not found in the distillmos package "
                                         f"(reinstall it: {REQUIREMENTS})")
        model = ConvTransformerSQAModel(load_weights=False, segmenting_in_forward=False)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"])
        self._device = "cuda" if device.startswith("cuda") and torch.cuda.is_available() else "cpu"
        self._model = model.eval().to(self._device)
        if self._crops_per_call is None:
            self._crops_per_call = GPU_CROPS_PER_CALL if self._device == "cuda" else CPU_CROPS_PER_CALL

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        if self._model is None:
            self.load("cpu")
        results: list[dict[str, float | str]] = [{} for _ in batch]
        segments: list[np.ndarray] = []
        owners: list[int] = []
        for i, item in enumerate(batch):
            reason = unusable_reason(item.audio)
            if reason is not None:
                results[i] = {f"{self.meta.name}_error": reason}
                continue
            clip_crops = crops(item.audio)
            segments.extend(clip_crops)
            owners.extend([i] * len(clip_crops))
        if segments:
            mos = self._run(segments)
            owner_array = np.array(owners)
            for i in dict.fromkeys(owners):
                results[i] = {"distillmos": float(np.mean(mos[owner_array == i]))}
        return [{"distillmos": math.nan, **r, "distillmos_checkpoint": _CHECKPOINT} for r in results]

    def _run(self, segments: list[np.ndarray]) -> np.ndarray:
        """1 + 4q for each crop (step 3; their mean is step 4), in stacked forward passes."""
        import torch

        step = self._crops_per_call or CPU_CROPS_PER_CALL
        parts = []
        with torch.no_grad():
            for start in range(0, len(segments), step):
                x = torch.from_numpy(np.stack(segments[start:start + step])).to(self._device)
                parts.append(self._model(x).reshape(-1).double().cpu().numpy())
        return np.concatenate(parts)
