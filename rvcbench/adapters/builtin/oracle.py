"""The `oracle` adapter: returns the real target recording, so a run reads the ceiling of each metric.

SIM, WER and MCD of the oracle are what a perfect clone would score with these scorers: the
scorers' own error, not a model's.
"""

from __future__ import annotations

import numpy as np

from rvcbench.adapters.contract import ANY_LANGUAGE, CloneFailure, CloneRequest, VoiceCloner
from rvcbench.audio import resample


class OracleCloner(VoiceCloner):
    name = "oracle"
    description = "ground truth: the real target recording (the metrics' ceiling)"
    sample_rate = 16000
    languages = frozenset({ANY_LANGUAGE})
    needs_target_audio = True
    batch_size = 16
    requirements = "nothing: returns the dataset's own recordings"
    version = "1"

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        out: list[np.ndarray | CloneFailure] = []
        for request in requests:
            if request.target_audio is None or request.target_sample_rate is None:
                out.append(CloneFailure("the dataset has no target recording for this pair"))
            else:
                out.append(resample(request.target_audio, request.target_sample_rate, self.sample_rate))
        return out
