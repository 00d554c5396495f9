"""`listen import`: ratings of the kept listeners → per-model scores with CIs and the predictors' calibration.

- mos, mushra: per run, the mean rating of its clips with the two-way (listeners × items) bootstrap 95% CI
  (rvcbench.listening.stats), n ratings, n listeners, n items; MUSHRA also reports the hidden reference and the
  low anchor. MOS repeats and anchors are checks only and not counted in any score.
- abx: per two runs, the share of trials (catch trials excluded) where A's clip was chosen as closer to X, with
  the exact binomial 95% CI and p against 1/2. Trials of one listener are treated as independent.
- per MOS predictor in the runs' tables (dnsmos_ovrl, dnsmos_p808, distillmos, …): Pearson and Spearman
  correlation of its score with the per-clip mean listener rating over the rated clips, Fisher-z 95% CIs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict
from itertools import combinations
from pathlib import Path

from rvcbench.listening.designs import CLIP, HIDDEN_REFERENCE, LOW_ANCHOR
from rvcbench.listening.ratings import Rating, key_for, read_ratings
from rvcbench.listening.screening import CHECK_RULES, MAX_FAILED_SHARE, Screening, screen
from rvcbench.listening.stats import pearson, preference, spearman, two_way_bootstrap_mean

METHODS = {
    "mean": "mean over ratings; 95% CI: percentile bootstrap resampling listeners and items independently "
            "(two-way), {resamples} draws, seed {seed}",
    "preference": "share of non-catch ABX trials won; 95% CI: exact Clopper–Pearson; p: two-sided exact binomial "
                  "test against 1/2 (trials treated as independent)",
    "correlation": "per clip: predictor score vs mean listener rating; Pearson r with Fisher-z 95% CI; Spearman rho "
                   "with Fisher-z 95% CI, variance 1.06/(n-3) (Fieller, Hartley & Pearson 1957)",
}
REFERENCE_ROWS = {HIDDEN_REFERENCE: "hidden reference", LOW_ANCHOR: "low anchor (3.5 kHz)"}


def import_ratings(files: list[Path], test_dir: Path | None = None, *, max_failed_share: float = MAX_FAILED_SHARE,
                   resamples: int = 2000, seed: int = 0) -> dict:
    """Read, screen and analyse ratings files; returns the report (the JSON the CLI writes)."""
    folder, key = key_for(list(files), test_dir)
    ratings = read_ratings(list(files), key)
    screening = screen(ratings, key, max_failed_share)
    kept = [r for r in ratings if r.listener in set(screening.kept)]
    report = {
        "test": {k: key.get(k) for k in ("test_id", "design", "seed", "items", "task", "condition",
                                         "rvcbench_version")} | {"key": str(folder / "test.json")},
        "files": [str(f) for f in files],
        "listeners": _listeners(screening),
        "checks": CHECK_RULES[key["design"]],
        "methods": {k: v.format(resamples=resamples, seed=seed) for k, v in METHODS.items()
                    if (k == "preference") == (key["design"] == "abx")},
    }
    if key["design"] == "abx":
        report["preferences"] = abx_preferences(kept, key)
    else:
        report["scores"] = mean_scores(kept, key, resamples, seed)
        report["correlations"] = predictor_correlations(kept, key)
    return _json_safe(report)


def _json_safe(value: object) -> object:
    """NaN (an undefined CI or correlation) as None, so the JSON report is strict JSON."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _listeners(screening: Screening) -> dict:
    return {"total": len(screening.kept) + len(screening.dropped), "kept": len(screening.kept),
            "dropped": len(screening.dropped), "max_failed_share": screening.max_failed_share,
            "dropped_by_check": screening.drop_counts(),
            "dropped_listeners": [{"listener": x, "why": why} for x, why in screening.dropped.items()]}


def mean_scores(ratings: list[Rating], key: dict, resamples: int, seed: int) -> list[dict]:
    """Per run (and for MUSHRA the hidden reference and low anchor), the mean rating with its CI."""
    stimuli = key["stimuli"]
    groups: dict[str, list[Rating]] = defaultdict(list)
    for rating in ratings:
        stimulus = stimuli[rating.item]
        if stimulus["kind"] == CLIP:
            groups[stimulus["run"]].append(rating)
        elif stimulus["kind"] in REFERENCE_ROWS and key["design"] == "mushra":
            groups[REFERENCE_ROWS[stimulus["kind"]]].append(rating)
    models = {run["label"]: run["model"] for run in key["runs"]}
    rows = []
    for name in [run["label"] for run in key["runs"]] + list(REFERENCE_ROWS.values()):
        if name not in groups and name not in models:
            continue
        group = groups.get(name, [])
        estimate = two_way_bootstrap_mean([r.listener for r in group], [stimuli[r.item]["pair_id"] for r in group],
                                          [r.value for r in group], resamples=resamples, seed=seed)
        rows.append({"run": name, "model": models.get(name)} | asdict(estimate))
    return rows


def abx_preferences(ratings: list[Rating], key: dict) -> list[dict]:
    """Per two runs (in the key's order), how often A's clip was chosen over B's."""
    trials = {t["id"]: t for t in key["trials"]}
    stimuli = key["stimuli"]
    wins: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    listeners: dict[tuple[str, str], set[str]] = defaultdict(set)
    labels = [run["label"] for run in key["runs"]]
    for rating in ratings:
        trial = trials[rating.trial]
        if trial["check"] == "catch":
            continue
        shown = sorted((stimuli[s]["run"] for s in trial["stimuli"]), key=labels.index)
        pair = (shown[0], shown[1])
        wins[pair][0 if stimuli[rating.item]["run"] == pair[0] else 1] += 1
        listeners[pair].add(rating.listener)
    rows = []
    for a, b in combinations(labels, 2):
        a_wins, b_wins = wins.get((a, b), [0, 0])
        rows.append({"a": a, "b": b, "n_listeners": len(listeners.get((a, b), ()))}
                    | asdict(preference(a_wins, a_wins + b_wins)))
    return rows


def predictor_correlations(ratings: list[Rating], key: dict) -> list[dict]:
    """Per predictor, Pearson and Spearman correlation of its score with the per-clip mean rating."""
    stimuli = key["stimuli"]
    per_clip: dict[str, list[float]] = defaultdict(list)
    for rating in ratings:
        if stimuli[rating.item]["kind"] == CLIP:
            per_clip[rating.item].append(rating.value)
    means = {item: sum(values) / len(values) for item, values in per_clip.items()}
    predictors = sorted({name for item in means for name in stimuli[item]["scores"]})
    rows = []
    for name in predictors:
        clips = sorted(i for i in means if _finite(stimuli[i]["scores"].get(name)))
        scores = [stimuli[i]["scores"][name] for i in clips]
        listened = [means[i] for i in clips]
        rows.append({"predictor": name, "n_clips": len(clips), "pearson": asdict(pearson(scores, listened)),
                     "spearman": asdict(spearman(scores, listened))})
    return rows


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _num(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and math.isfinite(value) else "–"


def format_report(report: dict) -> str:
    """The report as text: listeners kept and dropped, scores or preferences, the predictors' correlations."""
    test, people = report["test"], report["listeners"]
    lines = [f"listening test {test['test_id']} ({test['design']}, {test['items']} items, {test['task']}/"
             f"{test['condition']}, seed {test['seed']})",
             f"listeners: {people['total']}, kept {people['kept']}, dropped {people['dropped']} "
             f"(more than {people['max_failed_share']:.0%} of attention checks failed, or none answered)"]
    lines += [f"  dropped for {reason}: {count}" for reason, count in people["dropped_by_check"].items()]
    lines += [f"  - {x['listener']}: {x['why']}" for x in people["dropped_listeners"]]
    if "scores" in report:
        scale = "MOS (1-5)" if test["design"] == "mos" else "MUSHRA (0-100)"
        lines += ["", f"{'run':<28} {scale:>15} {'95% CI':>17} {'ratings':>8} {'listeners':>9} {'items':>6}"]
        for row in report["scores"]:
            lines.append(f"{row['run']:<28} {_num(row['mean']):>15} "
                         f"{'[' + _num(row['ci_low']) + ', ' + _num(row['ci_high']) + ']':>17} {row['n_ratings']:>8} "
                         f"{row['n_listeners']:>9} {row['n_items']:>6}")
        lines += ["", f"{'predictor':<16} {'clips':>5} {'Pearson r [95% CI]':>26} {'Spearman rho [95% CI]':>26}"]
        for row in report["correlations"]:
            cells = [f"{_num(c['r'])} [{_num(c['ci_low'])}, {_num(c['ci_high'])}]"
                     for c in (row["pearson"], row["spearman"])]
            lines.append(f"{row['predictor']:<16} {row['n_clips']:>5} {cells[0]:>26} {cells[1]:>26}")
        if not report["correlations"]:
            lines.append("(no MOS predictor scores in the runs' tables)")
    else:
        lines += ["", f"{'A':<22} {'B':<22} {'A chosen':>9} {'95% CI':>15} {'p':>7} {'trials':>7} {'listeners':>9}"]
        for row in report["preferences"]:
            lines.append(f"{row['a']:<22} {row['b']:<22} {_num(row['share']):>9} "
                         f"{'[' + _num(row['ci_low']) + ', ' + _num(row['ci_high']) + ']':>15} {_num(row['p'], 3):>7} "
                         f"{row['n']:>7} {row['n_listeners']:>9}")
    lines += ["", *(f"{name}: {text}" for name, text in report["methods"].items())]
    return "\n".join(lines)
