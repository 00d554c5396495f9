"""MCD as upstream RVCBench computes it: pymcd's `Calculate_MCD(MCD_mode="dtw")`, clone vs real target.

pymcd's recipe (pymcd 0.2.1): audio at 22.05 kHz, WORLD spectral envelope (5 ms frames, FFT 512), 13th-order
mel-cepstra by pysptk (alpha 0.65), fastdtw on c1..c13, then 10/ln10·√2 · mean over the path of the Euclidean
distance of all 14 coefficients (c0 included). The package's own functions are called on the waveforms the
engine resampled to 22.05 kHz (pymcd itself loads files with librosa; the resamplers differ slightly). Not the
same recipe as rvcbench's `mcd` scorer (WORLD order 25, silence removed, c0 dropped): the two never mix.
"""

from __future__ import annotations

import math

import numpy as np

from rvcbench.environment import package_version
from rvcbench.errors import MissingDependencyError
from rvcbench.scoring.contract import NEEDS_PARALLEL_TARGET, NEEDS_TARGET_AUDIO, Metric, ScoreInput, Scorer, ScorerMeta
from rvcbench.scoring.inputs import unusable_reason

SAMPLE_RATE = 22050  # pymcd's SAMPLING_RATE


class PymcdDtw(Scorer):
    meta = ScorerMeta(
        name="mcd_pymcd",
        version=f"1+pymcd-{package_version('pymcd')}",
        model="pymcd Calculate_MCD(MCD_mode='dtw') (no learned model)",
        needs=frozenset({NEEDS_TARGET_AUDIO, NEEDS_PARALLEL_TARGET}),
        sample_rate=SAMPLE_RATE,
        metrics=(Metric("mcd_pymcd", False, "MCD-DTW (dB) as upstream RVCBench computes it with pymcd: clone vs "
                                            "real target"),),
        requirements="pip install pymcd==0.2.1",
        settings={"mode": "dtw", "order": 13, "alpha": 0.65, "fft_size": 512, "frame_period_ms": 5.0},
    )

    def __init__(self) -> None:
        self._mcd = None

    def load(self, device: str) -> None:
        try:
            from pymcd.mcd import Calculate_MCD
        except ImportError as exc:
            raise MissingDependencyError(f"MCD of the rvcbench-paper profile needs pymcd ({exc}): "
                                         f"{self.meta.requirements}") from exc
        self._mcd = Calculate_MCD(MCD_mode="dtw")

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        if self._mcd is None:
            self.load("cpu")
        return [self._one(item) for item in batch]

    def _one(self, item: ScoreInput) -> dict[str, float | str]:
        from fastdtw import fastdtw
        from scipy.spatial.distance import euclidean

        reason = unusable_reason(item.audio, SAMPLE_RATE // 10) or unusable_reason(item.target_audio,
                                                                                    SAMPLE_RATE // 10)
        if reason is not None:
            return {"mcd_pymcd": math.nan, "mcd_pymcd_error": reason}
        ref = self._mcd.wav2mcep_numpy(np.asarray(item.target_audio, dtype=np.float64))
        syn = self._mcd.wav2mcep_numpy(np.asarray(item.audio, dtype=np.float64))
        _, path = fastdtw(ref[:, 1:], syn[:, 1:], dist=euclidean)
        frames, cost = self._mcd.calculate_mcd_distance(ref, syn, path)
        return {"mcd_pymcd": float(self._mcd.log_spec_dB_const * cost / frames)}
