"""Turn a run's per-utterance records into its summary: every metric with mean, 95% CI, n, failures.

Failed items stay in the bookkeeping: for each metric, `n` counts the items that have a value and
`failures` the planned items that do not (synthesis failed, output rejected, or the scorer failed),
so `n + failures` = items planned. Items whose condition could not run here are `unavailable`: listed
with the reason, not counted against the model.

Per task, each condition is compared with the task's `clean` condition on the same pairs:
- paired difference of each metric: mean over pairs of (condition − clean), paired bootstrap CI;
- headline SIM retention = mean SIM(condition) / mean SIM(clean), over pairs scored in both;
- headline WER increase (points) = 100 × (corpus WER(condition) − corpus WER(clean)), same pairs.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from rvcbench.analyses.report import format_analyses
from rvcbench.scoring.aggregate import (
    CI_LEVEL,
    N_RESAMPLES,
    summarize_mean,
    summarize_paired_difference,
    summarize_paired_ratio_difference,
    summarize_paired_ratio_of_means,
    summarize_ratio,
)
from rvcbench.scoring.contract import ScorerMeta
from rvcbench.tasks import CLEAN, DEFAULT_TASK, Task

# Corpus-level ratios computed from per-utterance counts the ASR scorer records.
CORPUS_RATIOS = {
    "wer_corpus": ("wer_errors", "wer_ref_words", "corpus WER: Σ word errors / Σ reference words"),
    "cer_corpus": ("cer_errors", "cer_ref_chars", "corpus CER: Σ character errors / Σ reference characters"),
    "wer_ref_corpus": ("wer_ref_errors", "wer_ref_words",
                       "corpus WER under the reference protocol's own normalisation: Σ edits / Σ reference units"),
}
RTF_DESCRIPTION = "real-time factor: synthesis seconds / audio seconds (model loading excluded)"


def known_metrics(scorer_metas: list[ScorerMeta]) -> dict[str, tuple[bool, str]]:
    """Every reportable metric → (higher is better, description)."""
    known = {m.name: (m.higher_is_better, m.description) for meta in scorer_metas for m in meta.metrics
             if not m.auxiliary}
    counted = {m.name for meta in scorer_metas for m in meta.metrics}
    for name, (numerator, _, description) in CORPUS_RATIOS.items():
        if numerator in counted or name != "wer_ref_corpus":  # a reference corpus WER only where a scorer counts it
            known[name] = (False, description)
    known["rtf"] = (False, RTF_DESCRIPTION)
    return known


def _column(table: pd.DataFrame, name: str) -> np.ndarray:
    if name not in table.columns:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64)


def summarize_metric(table: pd.DataFrame, name: str, seed: int) -> dict:
    if name in CORPUS_RATIOS:
        num, den, _ = CORPUS_RATIOS[name]
        return summarize_ratio(_column(table, num), _column(table, den), seed).to_dict()
    return summarize_mean(_column(table, name), seed).to_dict()


def explode_memberships(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (item, task, condition) the item belongs to."""
    if not len(table):
        return table.assign(task=[], condition=[])
    memberships = table["memberships"] if "memberships" in table.columns else pd.Series([None] * len(table))
    rows = table.assign(_m=[m if isinstance(m, list) and m else [[DEFAULT_TASK, CLEAN]] for m in memberships])
    rows = rows.explode("_m", ignore_index=True)
    return rows.assign(task=[m[0] for m in rows["_m"]], condition=[m[1] for m in rows["_m"]]).drop(columns="_m")


def summarize_records(records: list[dict] | pd.DataFrame, scorer_metas: list[ScorerMeta], seed: int,
                      tasks: list[Task] | None = None) -> dict:
    """Top-level metrics over clean items (each item once); per-task condition tables when tasks ran.

    `records` may be a table holding only the fields the summary reads (`summary_fields`): a run of a
    million items is summarized from its columns, never from a million dicts.
    """
    table = records if isinstance(records, pd.DataFrame) else pd.DataFrame(records)
    memberships = table["memberships"] if "memberships" in table.columns else [None] * len(table)
    is_clean = [not isinstance(m, list) or not m or any(c == CLEAN for _, c in m) for m in memberships]
    clean = table[is_clean] if len(table) else table
    metrics = {}
    task_only = {m.name for meta in scorer_metas for m in meta.metrics if not m.top_level}
    for name, (higher, description) in known_metrics(scorer_metas).items():
        if (name != "rtf" and not scorer_metas) or name in task_only:
            continue
        metrics[name] = {**summarize_metric(clean, name, seed), "higher_is_better": higher,
                         "description": description}
    summary = {**_counts(table), "metrics": metrics,
               "statistics": {"ci": f"{CI_LEVEL:.0%} percentile bootstrap over utterances (paired over pairs for "
                                    "differences to clean)", "resamples": N_RESAMPLES, "seed": seed}}
    real_tasks = [t for t in tasks or [] if t.name != DEFAULT_TASK]
    if real_tasks:
        exploded = explode_memberships(table)
        summary["tasks"] = {t.name: summarize_task(exploded[exploded.task == t.name], t, seed) for t in real_tasks}
    return summary


def summary_fields(scorer_metas: list[ScorerMeta], tasks: list[Task] | None = None) -> list[str]:
    """The record fields `summarize_records` reads: counts, pairing, every metric and count, group columns."""
    fields = {"status", "error_type", "error_message", "memberships", "pair_id", "rtf"}
    fields |= {m.name for meta in scorer_metas for m in meta.metrics}
    fields |= {part for name, (num, den, _) in CORPUS_RATIOS.items() for part in (num, den)}
    fields |= {column for t in tasks or [] for column in (t.group_by or ())}
    return sorted(fields)


def _counts(table: pd.DataFrame) -> dict:
    statuses = Counter(table["status"]) if len(table) else Counter()
    bad = table[table["status"] != "ok"] if len(table) else table
    reasons = Counter(f"{r.error_type}: {r.error_message}" for r in bad.itertuples()) if len(bad) else Counter()
    return {"items": int(len(table)), "ok": int(statuses.get("ok", 0)), "failed": int(statuses.get("failed", 0)),
            "unavailable": int(statuses.get("unavailable", 0)), "failure_reasons": dict(reasons.most_common())}


def summarize_task(table: pd.DataFrame, task: Task, seed: int) -> dict:
    clean = table[table.condition == CLEAN].set_index("pair_id")
    conditions = {}
    for condition in task.conditions:
        rows = table[table.condition == condition.name].set_index("pair_id")
        unavailable = rows[rows.status == "unavailable"] if len(rows) else rows
        entry: dict = {"steps": [s.as_dict() for s in condition.steps], **_counts(rows.reset_index())}
        if len(rows) and len(unavailable) == len(rows):
            entry.update(available=False, reason=str(unavailable.error_message.mode().iloc[0]))
            conditions[condition.name] = entry
            continue
        entry["available"] = True
        entry["metrics"] = {m: summarize_metric(rows, m, seed) for m in task.metrics}
        paired = clean.reindex(rows.index)
        entry["vs_clean"] = {m: _paired_difference(rows, paired, m, seed) for m in task.metrics}
        entry["headline"] = {
            "sim_retention": summarize_paired_ratio_of_means(_column(rows, "sim"), _column(paired, "sim"),
                                                             seed).to_dict(),
            "wer_increase_points": {k: (v * 100 if isinstance(v, float) and k in ("mean", "ci_low", "ci_high")
                                        else v)
                                    for k, v in _paired_difference(rows, paired, "wer_corpus", seed).items()},
        }
        conditions[condition.name] = entry
    result = {"family": task.family, "applies_to": task.applies_to, "description": task.description,
              "metrics": list(task.metrics), "conditions": conditions}
    if task.group_by:
        result["groups"] = {column: summarize_groups(clean.reset_index(), column, task.metrics, seed)
                            for column in task.group_by}
    return result


def summarize_groups(table: pd.DataFrame, column: str, metrics: tuple[str, ...], seed: int) -> dict:
    """Per-group metrics over the clean items, and per metric the gap between the best and the worst group.

    The gap is direction-aware (best minus worst, so always ≥ 0); groups with no scored item are listed
    but take no part in the gap. A dataset without the column makes the grouping unavailable.
    """
    if column not in table.columns:
        return {"available": False, "reason": f"the dataset has no {column!r} column"}
    groups = {str(value): {m: summarize_metric(rows, m, seed) for m in metrics}
              for value, rows in table.groupby(column, sort=True)}
    gaps = {}
    for metric in metrics:
        higher = metric not in CORPUS_RATIOS and metric != "rtf" and known_higher_is_better(metric)
        means = {g: v[metric]["mean"] for g, v in groups.items() if np.isfinite(v[metric]["mean"])}
        if len(means) >= 2:
            best = max(means, key=means.get) if higher else min(means, key=means.get)
            worst = min(means, key=means.get) if higher else max(means, key=means.get)
            gaps[metric] = {"gap": abs(means[best] - means[worst]), "best_group": best, "worst_group": worst}
    return {"available": True, "groups": groups, "worst_group_gap": gaps}


def known_higher_is_better(metric: str) -> bool:
    """Direction of a per-utterance metric, read from the scorers' declarations."""
    from rvcbench.scoring.registry import PROFILES, SCORERS

    metas = [SCORERS.get(n).meta for n in sorted({n for p in PROFILES.values() for n in p})]
    return known_metrics(metas).get(metric, (True, ""))[0]


def _paired_difference(rows: pd.DataFrame, clean: pd.DataFrame, metric: str, seed: int) -> dict:
    if metric in CORPUS_RATIOS:
        num, den, _ = CORPUS_RATIOS[metric]
        return summarize_paired_ratio_difference(_column(rows, num), _column(rows, den), _column(clean, num),
                                                 _column(clean, den), seed).to_dict()
    return summarize_paired_difference(_column(rows, metric), _column(clean, metric), seed).to_dict()


def format_summary(summary: dict, title: str = "") -> str:
    """The summary as fixed-width tables for the terminal."""
    lines = [title] if title else []
    lines.append(f"items: {summary['items']}  ok: {summary['ok']}  failed: {summary['failed']}"
                 + (f"  unavailable: {summary['unavailable']}" if summary.get("unavailable") else ""))
    header = f"{'metric':<14}{'mean':>10}  {'95% CI':<21}{'n':>6}{'failures':>10}  better"
    lines += [header, "-" * len(header)]
    for name, m in summary["metrics"].items():
        better = "higher" if m["higher_is_better"] else "lower"
        lines.append(f"{name:<14}{_num(m['mean']):>10}  {_ci(m):<21}{m['n']:>6}{m['failures']:>10}  {better}")
    for task_name, task in summary.get("tasks", {}).items():
        lines += ["", f"task {task_name} ({task['family']}, transforms the {task['applies_to']}): "
                      "SIM retention and WER increase vs clean, same pairs"]
        head = f"{'condition':<42}{'SIM ret.':>9}  {'95% CI':<17}{'ΔWER pts':>9}  {'95% CI':<17}{'n':>4}{'fail':>5}"
        lines += [head, "-" * len(head)]
        for name, c in task["conditions"].items():
            if not c["available"]:
                lines.append(f"{name:<42}unavailable: {c['reason']}")
                continue
            ret, dwer = c["headline"]["sim_retention"], c["headline"]["wer_increase_points"]
            lines.append(f"{name:<42}{_num(ret['mean']):>9}  {_ci(ret):<17}{_num(dwer['mean']):>9}  "
                         f"{_ci(dwer):<17}{ret['n']:>4}{c['failed']:>5}")
        lines += _other_metrics_table(task)
        for column, grouping in task.get("groups", {}).items():
            if not grouping["available"]:
                lines.append(f"groups by {column}: unavailable: {grouping['reason']}")
                continue
            lines.append(f"groups by {column} (clean): " + ", ".join(task["metrics"]) + " (mean, n)")
            for group, values in grouping["groups"].items():
                cells = "  ".join(f"{m}={_num(v['mean'])} (n={v['n']})" for m, v in values.items())
                lines.append(f"  {group:<40}{cells}")
            for metric, gap in grouping["worst_group_gap"].items():
                lines.append(f"  worst-group gap in {metric}: {gap['gap']:.4g} "
                             f"(best {gap['best_group']}, worst {gap['worst_group']})")
    lines += format_analyses(summary.get("analyses", {}))
    lines += format_cost(summary.get("cost"))
    if summary["failure_reasons"]:
        lines.append("failures and unavailable items by reason:")
        lines += [f"  {count} × {reason}" for reason, count in list(summary["failure_reasons"].items())[:10]]
    return "\n".join(lines)


HEADLINE_METRICS = ("sim", "wer_corpus")


def format_cost(cost: dict | None) -> list[str]:
    """What the run cost (all its invocations), per phase and per hour of generated audio."""
    if not cost or not cost["generated_audio_seconds"]:
        return []
    lines = ["", f"cost ({cost['invocations']} invocation(s){'' if cost['complete'] else ', incomplete'}): "
                 f"{cost['generated_audio_seconds']:.1f} s of audio generated, RTF {_num(cost['rtf'] or math.nan)}"]
    for name in ("synthesis", "scoring"):
        phase = cost["phases"].get(name)
        if phase:
            lines.append(f"  {name:<10} {phase['wall_seconds']:9.1f} s, {phase['gpu_seconds']:9.1f} GPU-s, "
                         f"peak GPU {_bytes(phase['peak_gpu_bytes'])}, peak RSS {_bytes(phase['peak_rss_bytes'])} "
                         f"on {','.join(phase['devices'])}")
    lines.append(f"  loading    {cost['phases']['loading']['wall_seconds']:9.1f} s")
    per_hour = cost["per_audio_hour"]
    lines.append(f"  per hour of generated audio: {per_hour['synthesis_wall_seconds']:.0f} s of synthesis, "
                 f"{per_hour['synthesis_gpu_seconds']:.0f} GPU-s")
    return lines


def _bytes(value: int | None) -> str:
    return "–" if value is None else f"{value / 2**30:.2f} GiB"


def _other_metrics_table(task: dict) -> list[str]:
    """Per condition, the task's metrics beyond SIM and WER: mean and n (e.g. hallucination rate, SIM drift)."""
    others = [m for m in task["metrics"] if m not in HEADLINE_METRICS]
    available = {name: c for name, c in task["conditions"].items() if c["available"]}
    if not others or not available:
        return []
    lines = [f"{'condition':<42}" + "".join(f"{m[:15]:>16}" for m in others) + "   (mean, n)"]
    for name, c in available.items():
        cells = "".join(f"{_num(c['metrics'][m]['mean']) + ' (' + str(c['metrics'][m]['n']) + ')':>16}"
                        for m in others)
        lines.append(f"{name[:41]:<42}{cells}")
    return lines


def _num(value: float) -> str:
    return f"{value:.4g}" if np.isfinite(value) else "nan"


def _ci(m: dict) -> str:
    return f"[{m['ci_low']:.4g}, {m['ci_high']:.4g}]" if np.isfinite(m["mean"]) else "-"
