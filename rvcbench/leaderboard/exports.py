"""The leaderboard's tables as CSV, JSON and LaTeX for papers: the same numbers the site shows.

- overview: one row per model × profile: every overview column's mean, CI, n, failures (and, for a seed group,
  the between-seed SD and the number of seeds); the cost: synthesis seconds per audio hour, which clock, RTF;
- conditions: one row per model × task × condition × metric (and SIM retention / WER increase), plus, for a task
  with a detectability analysis, `detectability_eer` and `detectability_eer_vs_clean` per condition (n = trials,
  failures = clone failures, with the bona fide / spoof / speaker counts and the detector);
- LaTeX: per profile the overview table, then per detectability task a model × condition EER table.
"""

from __future__ import annotations

import csv
import io
import json
import math

from rvcbench.leaderboard.aggregate import Column, Entry
from rvcbench.leaderboard.analyses import DetectGrid, detect_conditions, detect_grids, detectability_of
from rvcbench.leaderboard.costs import clean_spread, cost_summary
from rvcbench.leaderboard.estimate import Estimate

FORMATS = ("csv", "json", "latex")
ESTIMATE_FIELDS = ("mean", "ci_low", "ci_high", "n", "failures")


def overview_rows(entries: dict[str, list[Entry]], columns: dict[str, list[Column]]) -> list[dict]:
    rows = []
    for profile, items in entries.items():
        for entry in items:
            row = {"ranking": profile, "profile": entry.data["profile"], "model": entry.name,
                   "dataset": entry.data["dataset"]["name"], "table_sha256": entry.data["table"]["sha256"]}
            for column in columns[profile]:
                est = entry.cells.get(column.key)
                for name in ESTIMATE_FIELDS:
                    row[f"{column.key}.{name}"] = getattr(est, name) if est is not None else None
                spread = None if column.key.startswith("robust:") else clean_spread(entry.data, column.key)
                if spread is not None:
                    row[f"{column.key}.seed_sd"], row[f"{column.key}.seeds"] = spread.sd, spread.seeds
            cost = cost_summary(entry.data)
            row["cost.synthesis_seconds_per_audio_hour"] = cost.per_audio_hour if cost else None
            row["cost.clock"] = cost.clock if cost else None
            row["cost.rtf"] = cost.rtf if cost else None
            rows.append(row)
    return rows


def condition_rows(entries: dict[str, list[Entry]]) -> list[dict]:
    rows = []
    for profile, items in entries.items():
        for entry in items:
            for task_name, task in entry.data["summary"].get("tasks", {}).items():
                for cname, condition in task.get("conditions", {}).items():
                    values = dict(condition.get("metrics", {}))
                    headline = condition.get("headline", {})
                    values.update({k: v for k, v in headline.items() if isinstance(v, dict)})
                    for metric, value in values.items():
                        est = Estimate.of(value)
                        rows.append({"ranking": profile, "profile": entry.data["profile"], "model": entry.name,
                                     "task": task_name,
                                     "family": task.get("family", ""), "condition": cname, "metric": metric,
                                     "available": bool(condition.get("available", True)),
                                     **{f: getattr(est, f) if est else None for f in ESTIMATE_FIELDS}})
            rows += _detectability_rows(profile, entry)
    return rows


def _detectability_rows(profile: str, entry: Entry) -> list[dict]:
    rows = []
    tasks = entry.data["summary"].get("tasks", {})
    for task_name, result in detectability_of(entry.data).items():
        detector = f"{result['detector']['name']} v{result['detector']['version']}"
        for c in detect_conditions(result):
            counts = {"n_bona_fide": c.n_bona_fide, "n_spoof": c.n_spoof, "n_speakers": c.n_speakers} \
                if c.available else {"n_bona_fide": None, "n_spoof": None, "n_speakers": None}
            for metric, est in (("detectability_eer", c.eer), ("detectability_eer_vs_clean", c.delta)):
                if metric.endswith("vs_clean") and est is None:
                    continue  # clean itself, or no clean EER to compare with
                values = {f: getattr(est, f) if est else None for f in ESTIMATE_FIELDS}
                if est is not None:
                    values.update(n=c.eer.n if c.eer else None, failures=c.clone_failures)
                rows.append({"profile": profile, "model": entry.name, "task": task_name,
                             "family": tasks.get(task_name, {}).get("family", ""), "condition": c.name,
                             "metric": metric, "available": c.available, **values, **counts, "detector": detector,
                             "reason": c.reason})
    return rows


def _clean(value: object) -> object:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def to_csv(rows: list[dict]) -> str:
    if not rows:
        return ""
    fields = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _clean(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def to_json(overview: list[dict], conditions: list[dict]) -> str:
    payload = {"overview": [{k: _clean(v) for k, v in r.items()} for r in overview],
               "conditions": [{k: _clean(v) for k, v in r.items()} for r in conditions]}
    return json.dumps(payload, indent=1, allow_nan=False) + "\n"


LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """Special characters escaped; line breaks become spaces (a blank line would end a table row's paragraph, and
    a comment line must stay one line)."""
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in " ".join(str(text).split()))


def to_latex(entries: dict[str, list[Entry]], columns: dict[str, list[Column]]) -> str:
    """One booktabs table per scorer profile: mean with its 95% CI below the model rows' cells."""
    blocks = []
    for profile, items in entries.items():
        cols = columns[profile]
        head = " & ".join(["Model"] + [latex_escape(c.label) + (r" $\uparrow$" if c.higher_is_better
                                                                else r" $\downarrow$") for c in cols])
        lines = [f"% rvcbench leaderboard, ranking {latex_escape(profile)}: mean [95% CI]",
                 r"\begin{tabular}{l" + "c" * len(cols) + "}", r"\toprule", head + r" \\", r"\midrule"]
        for entry in items:
            cells = [latex_escape(entry.name)]
            for c in cols:
                est = entry.cells.get(c.key)
                cells.append(f"{est.mean:.3f} [{est.ci_low:.3f}, {est.ci_high:.3f}]"
                             if est is not None and est.finite else "--")
            lines.append(" & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}", ""]
        blocks.append("\n".join(lines))
        blocks += [_latex_detectability(profile, grid, items) for grid in detect_grids(items)]
    return "\n".join(blocks)


def _latex_detectability(profile: str, grid: DetectGrid, items: list[Entry]) -> str:
    """Model × condition spoof-detection EER [95% CI] of one task (0.5 = undetectable; higher = harder to detect)."""
    detectors = ", ".join(sorted(set(grid.detectors.values())))
    lines = [f"% rvcbench leaderboard, scorer profile {latex_escape(profile)}: spoof-detection EER [95% CI], task "
             f"{latex_escape(grid.task)}, detector {latex_escape(detectors)} (0.5 = undetectable, 0 = always "
             "detected; higher = harder to detect)",
             r"\begin{tabular}{l" + "c" * len(grid.conditions) + "}", r"\toprule",
             " & ".join(["Model"] + [latex_escape(c) for c in grid.conditions]) + r" \\", r"\midrule"]
    for entry in items:
        if entry.slug not in grid.eer:
            continue
        cells = [latex_escape(entry.name)]
        for c in grid.conditions:
            est = grid.eer[entry.slug].get(c)
            cells.append(f"{est.mean:.3f} [{est.ci_low:.3f}, {est.ci_high:.3f}]" if est is not None and est.finite
                         else "--")
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def render_exports(entries: dict[str, list[Entry]], columns: dict[str, list[Column]]) -> dict[str, str]:
    """File name → content, for the site's data/ folder and `rvcbench leaderboard export`."""
    overview, conditions = overview_rows(entries, columns), condition_rows(entries)
    return {"leaderboard.csv": to_csv(overview), "conditions.csv": to_csv(conditions),
            "leaderboard.json": to_json(overview, conditions), "leaderboard.tex": to_latex(entries, columns)}
