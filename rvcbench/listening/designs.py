"""The three designs as trials and stimuli: what each trial plays, which stimuli are attention checks.

- mos: one clip per trial, rated 1–5 (ITU-T P.800 ACR). Checks: `anchor` trials (a clip degraded until it
  is clearly bad, expected rating ≤ 2) and `repeat` trials (a clip played a second time, expected within 1 point).
- mushra: one trial per pair (ITU-R BS.1534-3): the reference, then every run's clip, the hidden reference and
  the low anchor (the reference low-passed at 3.5 kHz), each rated 0–100. Checks: the hidden reference ≥ 90,
  the low anchor below the hidden reference.
- abx: one trial per pair and two runs: X is the real recording of the speaker, A and B are the two runs' clips;
  which is closer to X? Checks: `catch` trials where A or B is X itself, which must be chosen.

Every id (trial, stimulus, audio file) is an opaque token drawn from the export's Generator; the page shows no
run or model name. The number of MOS and ABX checks is CHECK_SHARE of the trials, at least one of each kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np

from rvcbench.listening.errors import ListeningTestError
from rvcbench.listening.runs import RunClips

DESIGNS = ("mos", "mushra", "abx")
CHECK_SHARE = 0.1
CLIP, REPEAT, ANCHOR, HIDDEN_REFERENCE, LOW_ANCHOR, REFERENCE = (
    "clip", "repeat", "anchor", "hidden_reference", "low_anchor", "reference")
CHECK_OF_KIND = {REPEAT: "repeat", ANCHOR: "anchor", HIDDEN_REFERENCE: "reference", LOW_ANCHOR: "anchor"}
PROCESS_OF_KIND = {ANCHOR: "degraded", LOW_ANCHOR: "lowpass_3500"}


@dataclass(frozen=True)
class Stimulus:
    id: str
    kind: str  # clip, repeat, anchor, hidden_reference, low_anchor, reference (MUSHRA's and ABX's X)
    pair_id: str
    source: Path
    run: str | None = None  # run label, for clips and repeats
    repeat_of: str | None = None
    noise_seed: int | None = None  # the degraded MOS anchor's noise

    @property
    def check(self) -> str:
        return CHECK_OF_KIND.get(self.kind, "")

    @property
    def process(self) -> str:
        return PROCESS_OF_KIND.get(self.kind, "copy")


@dataclass(frozen=True)
class Trial:
    id: str
    pair_id: str
    stimuli: tuple[str, ...]  # rated (mos, mushra) or chosen between (abx: A, B)
    reference: str | None = None  # played as the reference (mushra) or X (abx)
    check: str = ""  # "catch" for ABX catch trials
    expected: str | None = None  # the stimulus a catch trial must be answered with


@dataclass
class Design:
    name: str
    trials: list[Trial] = field(default_factory=list)
    stimuli: dict[str, Stimulus] = field(default_factory=dict)


class Tokens:
    """Unique opaque ids (12 hex digits) from the export's Generator."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.used = rng, set()

    def __call__(self) -> str:
        while (token := f"{int(self.rng.integers(0, 2**48)):012x}") in self.used:
            pass
        self.used.add(token)
        return token


def _check_count(trials: int) -> int:
    return max(1, math.ceil(CHECK_SHARE * trials))


def build_design(name: str, runs: list[RunClips], pairs: list[str], references: dict[str, Path] | None,
                 rng: np.random.Generator) -> Design:
    """Trials and stimuli of design `name` on `pairs`, shuffled by `rng` (the page reshuffles per listener)."""
    if name not in DESIGNS:
        raise ListeningTestError(f"unknown design {name!r}; choose one of {', '.join(DESIGNS)}")
    if name == "abx" and len(runs) < 2:
        raise ListeningTestError("an ABX test compares runs two by two: give at least two run directories")
    if name != "mos" and not references:
        root = runs[0].config.get("dataset", {}).get("root")
        raise ListeningTestError(f"a {name} test needs the real recordings of the speakers (the dataset's target or "
                                 f"prompt audio of every chosen pair), and the runs' dataset ({root}) is not complete "
                                 "on this machine; copy it there, or export a mos test")
    design = Design(name)
    token = Tokens(rng)

    def add(kind: str, pair: str, source: Path, **extra) -> str:
        stimulus = Stimulus(token(), kind, pair, source, **extra)
        design.stimuli[stimulus.id] = stimulus
        return stimulus.id

    {"mos": _mos, "mushra": _mushra, "abx": _abx}[name](design, runs, pairs, references or {}, rng, add, token)
    order = rng.permutation(len(design.trials))
    design.trials = [design.trials[i] for i in order]
    return design


def _mos(design, runs, pairs, references, rng, add, token) -> None:
    clips = [add(CLIP, pair, run.clips[pair], run=run.label) for pair in pairs for run in runs]
    checks = _check_count(len(clips))
    for original in rng.choice(clips, size=min(checks, len(clips)), replace=False):
        source = design.stimuli[str(original)]
        add(REPEAT, source.pair_id, source.source, run=source.run, repeat_of=source.id)
    for original in rng.choice(clips, size=min(checks, len(clips)), replace=False):
        source = design.stimuli[str(original)]
        add(ANCHOR, source.pair_id, source.source, noise_seed=int(rng.integers(0, 2**32)))
    design.trials = [Trial(token(), s.pair_id, (s.id,)) for s in design.stimuli.values()]


def _mushra(design, runs, pairs, references, rng, add, token) -> None:
    for pair in pairs:
        reference = add(REFERENCE, pair, references[pair])
        rated = [add(CLIP, pair, run.clips[pair], run=run.label) for run in runs]
        rated += [add(HIDDEN_REFERENCE, pair, references[pair]), add(LOW_ANCHOR, pair, references[pair])]
        design.trials.append(Trial(token(), pair, tuple(rated[i] for i in rng.permutation(len(rated))), reference))


def _abx(design, runs, pairs, references, rng, add, token) -> None:
    for pair in pairs:
        for a, b in combinations(runs, 2):
            x = add(REFERENCE, pair, references[pair])
            shown = [add(CLIP, pair, a.clips[pair], run=a.label), add(CLIP, pair, b.clips[pair], run=b.label)]
            design.trials.append(Trial(token(), pair, tuple(shown[i] for i in rng.permutation(2)), x))
    for index in rng.choice(len(pairs), size=min(_check_count(len(design.trials)), len(pairs)), replace=False):
        pair = pairs[int(index)]
        run = runs[int(rng.integers(len(runs)))]
        x = add(REFERENCE, pair, references[pair])
        same = add(HIDDEN_REFERENCE, pair, references[pair])
        shown = [same, add(CLIP, pair, run.clips[pair], run=run.label)]
        design.trials.append(Trial(token(), pair, tuple(shown[i] for i in rng.permutation(2)), x, "catch", same))
