"""Attention checks: which listeners are kept. A listener is dropped when more than MAX_FAILED_SHARE of their
attention checks fail (ITU-R BS.1534-3's post-screening tolerance, applied to every design), or when they
answered none. The key (test.json), not the page, says which stimulus is a check.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from rvcbench.listening.designs import ANCHOR, HIDDEN_REFERENCE, LOW_ANCHOR, REPEAT
from rvcbench.listening.ratings import Rating

MAX_FAILED_SHARE = 0.15
MOS_ANCHOR_MAX = 2.0
MOS_REPEAT_TOLERANCE = 1.0
MUSHRA_REFERENCE_MIN = 90.0
CHECK_RULES = {
    "mos": f"anchor: a clearly degraded clip, rated at most {MOS_ANCHOR_MAX:g}; repeat: a clip played twice, "
           f"the two ratings within {MOS_REPEAT_TOLERANCE:g} point",
    "mushra": f"per trial: the hidden reference rated at least {MUSHRA_REFERENCE_MIN:g} and the low anchor (the "
              "reference low-passed at 3.5 kHz) rated below the hidden reference",
    "abx": "catch trials, where A or B is X itself: that one must be chosen",
}


@dataclass
class ListenerChecks:
    passed: int = 0
    failed: dict[str, int] = field(default_factory=dict)  # reason → count

    @property
    def total(self) -> int:
        return self.passed + sum(self.failed.values())

    def record(self, ok: bool, reason: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failed[reason] = self.failed.get(reason, 0) + 1


@dataclass(frozen=True)
class Screening:
    kept: list[str]
    dropped: dict[str, str]  # listener → why
    checks: dict[str, ListenerChecks]
    max_failed_share: float

    def drop_counts(self) -> dict[str, int]:
        """How many dropped listeners failed each kind of check (a listener may count under several)."""
        counts: dict[str, int] = defaultdict(int)
        for listener in self.dropped:
            for reason in self.checks[listener].failed or {"answered no attention check": 1}:
                counts[reason] += 1
        return dict(sorted(counts.items()))


def screen(ratings: list[Rating], key: dict, max_failed_share: float = MAX_FAILED_SHARE) -> Screening:
    by_listener: dict[str, list[Rating]] = defaultdict(list)
    for rating in ratings:
        by_listener[rating.listener].append(rating)
    checks = {listener: _checks(rows, key) for listener, rows in sorted(by_listener.items())}
    dropped = {}
    for listener, result in checks.items():
        if result.total == 0:
            dropped[listener] = "answered no attention check"
        elif sum(result.failed.values()) > max_failed_share * result.total:
            reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(result.failed.items()))
            dropped[listener] = f"failed {sum(result.failed.values())} of {result.total} checks ({reasons})"
    return Screening([x for x in checks if x not in dropped], dropped, checks, max_failed_share)


def _checks(rows: list[Rating], key: dict) -> ListenerChecks:
    result = ListenerChecks()
    stimuli = key["stimuli"]
    if key["design"] == "abx":
        trials = {t["id"]: t for t in key["trials"]}
        for row in rows:
            if trials[row.trial]["check"] == "catch":
                result.record(row.item == trials[row.trial]["expected"], "catch trial missed")
        return result
    value = {row.item: row.value for row in rows}
    if key["design"] == "mos":
        for item, rating in value.items():
            kind = stimuli[item]["kind"]
            if kind == ANCHOR:
                result.record(rating <= MOS_ANCHOR_MAX, f"anchor rated above {MOS_ANCHOR_MAX:g}")
            elif kind == REPEAT and stimuli[item]["repeat_of"] in value:
                result.record(abs(rating - value[stimuli[item]["repeat_of"]]) <= MOS_REPEAT_TOLERANCE,
                              f"repeat off by more than {MOS_REPEAT_TOLERANCE:g}")
        return result
    for trial in key["trials"]:
        kinds = {stimuli[s]["kind"]: s for s in trial["stimuli"]}
        reference, anchor = value.get(kinds[HIDDEN_REFERENCE]), value.get(kinds[LOW_ANCHOR])
        if reference is None:
            continue
        result.record(reference >= MUSHRA_REFERENCE_MIN, f"hidden reference below {MUSHRA_REFERENCE_MIN:g}")
        if anchor is not None:
            result.record(anchor < reference, "low anchor not below the hidden reference")
    return result
