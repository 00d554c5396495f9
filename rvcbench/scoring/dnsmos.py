"""DNSMOS P.835 (SIG, BAK, OVRL) and P.808 MOS predicted from the clip alone, no reference needed.

The ONNX models are the ones shipped in the `speechmos` package (`dnsmos_models/sig_bak_ovr.onnx`,
the non-personalised P.835 model, and `dnsmos_models/model_v8.onnx`, P.808). The procedure is the
published DNSMOS one, as `speechmos.dnsmos` implements it, reproduced here step by step:

  1. 16 kHz audio (values clipped to [-1, 1], which speechmos requires of its input).
  2. While the clip is shorter than 9.01 s (144160 samples) it is concatenated with itself.
  3. Windows of 9.01 s with a 1 s hop; the number of hops is int(floor(duration_s) - 9.01) + 1, and a
     window shorter than 144160 samples (float rounding at the end) is skipped, exactly as upstream.
  4. P.835: the raw window goes into `sig_bak_ovr.onnx`; its raw SIG/BAK/OVRL outputs are mapped
     through the non-personalised calibration polynomials (SIG: -0.08397278x² + 1.22083953x +
     0.0052439; BAK: -0.13166888x² + 1.60915514x - 0.39604546; OVRL: -0.06766283x² + 1.11546468x +
     0.04602535).
  5. P.808: the window minus its last 160 samples → librosa mel power spectrogram (n_fft 321, hop 160,
     120 mels), (power_to_db(ref=max) + 40) / 40, transposed (900 × 120) → `model_v8.onnx`.
  6. Each score is the mean over the clip's windows.

What differs from speechmos is only the execution: both ONNX sessions are created once in `load`,
and the windows of all clips in a batch are stacked along the models' dynamic batch dimension, at
most `windows_per_call` per call. Measured on a 2-core CPU: the P.835 model is Conv-bound (~0.5 s
per window) and stacking gives no speed-up (1 or 4 windows per call: same; 16: up to 2x slower),
so the CPU default is 4; on a GPU, larger stacks pay off (default 64).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rvcbench.environment import package_version
from rvcbench.errors import MissingDependencyError
from rvcbench.scoring.contract import Metric, ScoreInput, Scorer, ScorerMeta
from rvcbench.scoring.inputs import unusable_reason

CODE_VERSION = "1"
SAMPLE_RATE = 16000
INPUT_LENGTH = 9.01
WINDOW_SAMPLES = int(INPUT_LENGTH * SAMPLE_RATE)
CPU_WINDOWS_PER_CALL = 4
GPU_WINDOWS_PER_CALL = 64  # 64 × 144160 float32 ≈ 37 MB of input

P_SIG = np.poly1d([-0.08397278, 1.22083953, 0.0052439])
P_BAK = np.poly1d([-0.13166888, 1.60915514, -0.39604546])
P_OVR = np.poly1d([-0.06766283, 1.11546468, 0.04602535])



def windows(audio: np.ndarray, fs: int = SAMPLE_RATE) -> list[np.ndarray]:
    """The 9.01 s analysis windows of one clip (steps 2–3 of the module docstring)."""
    audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    if audio.size == 0:
        return []
    while len(audio) < WINDOW_SAMPLES:
        audio = np.append(audio, audio)
    num_hops = int(np.floor(len(audio) / fs) - INPUT_LENGTH) + 1
    out = []
    for idx in range(num_hops):
        segment = audio[int(idx * fs): int((idx + INPUT_LENGTH) * fs)]
        if len(segment) >= WINDOW_SAMPLES:
            out.append(segment)
    return out


def p808_features(segment: np.ndarray) -> np.ndarray:
    """Step 5: the P.808 model's input for one window, shape (900, 120)."""
    import librosa

    mel = librosa.feature.melspectrogram(y=segment[:-160], sr=SAMPLE_RATE, n_fft=321, hop_length=160, n_mels=120)
    return ((librosa.power_to_db(mel, ref=np.max) + 40) / 40).T.astype(np.float32)


class Dnsmos(Scorer):
    meta = ScorerMeta(
        name="dnsmos",
        version=f"{CODE_VERSION}+speechmos-{package_version('speechmos')}",
        model="speechmos/dnsmos_models/sig_bak_ovr.onnx + model_v8.onnx (DNSMOS P.835 + P.808)",
        needs=frozenset(),
        sample_rate=SAMPLE_RATE,
        metrics=(
            Metric("dnsmos_sig", True, "DNSMOS P.835 speech signal quality (1-5)"),
            Metric("dnsmos_bak", True, "DNSMOS P.835 background noise quality (1-5)"),
            Metric("dnsmos_ovrl", True, "DNSMOS P.835 overall quality (1-5)"),
            Metric("dnsmos_p808", True, "DNSMOS P.808 MOS (1-5)"),
        ),
        requirements="pip install speechmos==0.0.1.1 onnxruntime librosa",
        settings={"window_s": INPUT_LENGTH, "hop_s": 1.0, "personalized": False},
    )

    def __init__(self, windows_per_call: int | None = None) -> None:
        self._p835 = None
        self._p808 = None
        self._windows_per_call = windows_per_call

    def load(self, device: str) -> None:
        try:
            import onnxruntime as ort
            import speechmos
        except ImportError as exc:
            raise MissingDependencyError(f"DNSMOS needs speechmos and onnxruntime ({exc}): "
                                         f"{self.meta.requirements}") from exc
        models = Path(speechmos.__file__).resolve().parent / "dnsmos_models"
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self._p835 = ort.InferenceSession(str(models / "sig_bak_ovr.onnx"), providers=providers)
        self._p808 = ort.InferenceSession(str(models / "model_v8.onnx"), providers=providers)
        if self._windows_per_call is None:
            on_gpu = self._p835.get_providers()[0] == "CUDAExecutionProvider"
            self._windows_per_call = GPU_WINDOWS_PER_CALL if on_gpu else CPU_WINDOWS_PER_CALL

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        if self._p835 is None:
            self.load("cpu")
        results: list[dict[str, float | str]] = [{} for _ in batch]
        segments: list[np.ndarray] = []
        owners: list[int] = []
        for i, item in enumerate(batch):
            reason = unusable_reason(item.audio)
            if reason is not None:
                results[i] = {f"{self.meta.name}_error": reason}
                continue
            clip_windows = windows(item.audio)
            segments.extend(clip_windows)
            owners.extend([i] * len(clip_windows))
        if segments:
            raw, p808 = self._run(segments)
            owner_array = np.array(owners)
            for i in dict.fromkeys(owners):
                mine = owner_array == i
                results[i] = {
                    "dnsmos_sig": float(np.mean(P_SIG(raw[mine, 0]))),
                    "dnsmos_bak": float(np.mean(P_BAK(raw[mine, 1]))),
                    "dnsmos_ovrl": float(np.mean(P_OVR(raw[mine, 2]))),
                    "dnsmos_p808": float(np.mean(p808[mine])),
                }
        return [{**{m.name: math.nan for m in self.meta.metrics}, **r} for r in results]

    def _run(self, segments: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Raw P.835 outputs (n, 3) and P.808 scores (n,) for windows, in stacked calls."""
        raw_parts, p808_parts = [], []
        step = self._windows_per_call or CPU_WINDOWS_PER_CALL
        for start in range(0, len(segments), step):
            chunk = segments[start:start + step]
            raw_parts.append(self._p835.run(None, {"input_1": np.stack(chunk).astype(np.float32)})[0])
            mels = np.stack([p808_features(s) for s in chunk])
            p808_parts.append(self._p808.run(None, {"input_1": mels})[0][:, 0])
        return np.concatenate(raw_parts).astype(np.float64), np.concatenate(p808_parts).astype(np.float64)
