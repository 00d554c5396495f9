"""Turn a run's per-utterance records into its summary: every metric with mean, 95% CI, n, failures.

Failed items stay in the denominator's bookkeeping: for each metric, `n` counts the items that have
a value and `failures` the planned items that do not (synthesis failed, output rejected, or the
scorer failed), so `n + failures` = items planned.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from rvcbench.scoring.aggregate import CI_LEVEL, N_RESAMPLES, summarize_mean, summarize_ratio
from rvcbench.scoring.contract import ScorerMeta

# Corpus-level ratios computed from per-utterance counts the ASR scorer records.
CORPUS_RATIOS = {
    "wer_corpus": ("wer_errors", "wer_ref_words", "corpus WER: Σ word errors / Σ reference words"),
    "cer_corpus": ("cer_errors", "cer_ref_chars", "corpus CER: Σ character errors / Σ reference characters"),
}


def _column(table: pd.DataFrame, name: str) -> np.ndarray:
    if name not in table.columns:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64)


def summarize_records(records: list[dict], scorer_metas: list[ScorerMeta], seed: int) -> dict:
    table = pd.DataFrame(records)
    metrics: dict[str, dict] = {}
    for meta in scorer_metas:
        for metric in meta.metrics:
            if metric.auxiliary:
                continue
            summary = summarize_mean(_column(table, metric.name), seed)
            metrics[metric.name] = {**summary.to_dict(), "higher_is_better": metric.higher_is_better,
                                    "scorer": meta.name, "description": metric.description}
            if metric.name in ("wer", "cer"):
                name = f"{metric.name}_corpus"
                num, den, description = CORPUS_RATIOS[name]
                ratio = summarize_ratio(_column(table, num), _column(table, den), seed)
                metrics[name] = {**ratio.to_dict(), "higher_is_better": False, "scorer": meta.name,
                                 "description": description}
    rtf = summarize_mean(_column(table, "rtf"), seed)
    metrics["rtf"] = {**rtf.to_dict(), "higher_is_better": False, "scorer": "runner",
                      "description": "real-time factor: synthesis seconds / audio seconds (model loading excluded)"}
    statuses = Counter(table["status"]) if len(table) else Counter()
    failed = table[table["status"] == "failed"] if len(table) else table
    reasons = Counter(f"{r.error_type}: {r.error_message}" for r in failed.itertuples()) if len(failed) else Counter()
    return {
        "items": int(len(table)),
        "ok": int(statuses.get("ok", 0)),
        "failed": int(statuses.get("failed", 0)),
        "failure_reasons": dict(reasons.most_common()),
        "metrics": metrics,
        "statistics": {"ci": f"{CI_LEVEL:.0%} percentile bootstrap over utterances", "resamples": N_RESAMPLES,
                       "seed": seed},
    }


def format_summary(summary: dict, title: str = "") -> str:
    """The summary as a fixed-width table for the terminal."""
    lines = [title] if title else []
    lines.append(f"items: {summary['items']}  ok: {summary['ok']}  failed: {summary['failed']}")
    header = f"{'metric':<14}{'mean':>10}  {'95% CI':<21}{'n':>6}{'failures':>10}  better"
    lines += [header, "-" * len(header)]
    for name, m in summary["metrics"].items():
        ci = f"[{m['ci_low']:.4g}, {m['ci_high']:.4g}]" if np.isfinite(m["mean"]) else "-"
        mean = f"{m['mean']:.4g}" if np.isfinite(m["mean"]) else "nan"
        better = "higher" if m["higher_is_better"] else "lower"
        lines.append(f"{name:<14}{mean:>10}  {ci:<21}{m['n']:>6}{m['failures']:>10}  {better}")
    if summary["failure_reasons"]:
        lines.append("failures by reason:")
        lines += [f"  {count} × {reason}" for reason, count in list(summary["failure_reasons"].items())[:10]]
    return "\n".join(lines)
