"""A published mean with its interval and counts: the unit every leaderboard page shows."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    mean: float
    ci_low: float
    ci_high: float
    n: int
    failures: int

    @classmethod
    def of(cls, value: object) -> Estimate | None:
        if not isinstance(value, dict) or "mean" not in value:
            return None
        return cls(*(number_or_nan(value.get(k)) for k in ("mean", "ci_low", "ci_high")),
                   int(value.get("n", 0)), int(value.get("failures", 0)))

    @property
    def finite(self) -> bool:
        return math.isfinite(self.mean)

    def as_dict(self) -> dict:
        return {"mean": self.mean, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n,
                "failures": self.failures}


def number_or_nan(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")
