"""Terminal tables of the analyses' results (called by `rvcbench.summary.format_summary`)."""

from __future__ import annotations

import math


def format_analyses(analyses: dict) -> list[str]:
    lines: list[str] = []
    for task_name, result in analyses.items():
        if result.get("analysis") == "detectability":
            lines += ["", *_format_detectability(task_name, result)]
    return lines


def _format_detectability(task_name: str, result: dict) -> list[str]:
    detector, protocol = result["detector"], result["protocol"]
    folds = "speaker-disjoint CV" if protocol["folds"] else "pretrained, no training"
    lines = [f"task {task_name}: spoof-detection EER, clones vs real recordings of the same pairs "
             f"(detector {detector['name']} v{detector['version']}, {folds}; 0.5 = undetectable)"]
    head = (f"{'condition':<42}{'EER':>7}  {'95% CI':<17}{'ΔEER':>8}  {'95% CI':<17}"
            f"{'bona':>5}{'spoof':>6}{'spk':>4}{'folds':>6}{'fail':>5}")
    lines += [head, "-" * len(head)]
    for name, c in result["conditions"].items():
        if not c["available"]:
            lines.append(f"{name:<42}unavailable: {c['reason']}")
            continue
        eer, delta = c["eer"], c.get("eer_vs_clean")
        delta_cells = f"{_num(delta['mean']):>8}  {_ci(delta):<17}" if delta else f"{'':>8}  {'':<17}"
        lines.append(f"{name:<42}{_num(eer['mean']):>7}  {_ci(eer):<17}{delta_cells}"
                     f"{eer['n_bona_fide']:>5}{eer['n_spoof']:>6}{eer['n_speakers']:>4}{c['folds']:>6}"
                     f"{c['clone_failures']:>5}")
    return lines


def _num(value: float) -> str:
    return f"{value:.3f}" if value is not None and math.isfinite(value) else "nan"


def _ci(m: dict) -> str:
    return f"[{_num(m['ci_low'])}, {_num(m['ci_high'])}]"
