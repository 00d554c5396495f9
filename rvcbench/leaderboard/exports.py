"""The leaderboard's tables as CSV, JSON and LaTeX for papers: the same numbers the site shows.

- overview: one row per model × profile: every overview column's mean, CI, n, failures;
- conditions: one row per model × task × condition × metric (and SIM retention / WER increase).
"""

from __future__ import annotations

import csv
import io
import json
import math

from rvcbench.leaderboard.aggregate import Column, Entry, Estimate

FORMATS = ("csv", "json", "latex")
ESTIMATE_FIELDS = ("mean", "ci_low", "ci_high", "n", "failures")


def overview_rows(entries: dict[str, list[Entry]], columns: dict[str, list[Column]]) -> list[dict]:
    rows = []
    for profile, items in entries.items():
        for entry in items:
            row = {"profile": profile, "model": entry.name, "dataset": entry.data["dataset"]["name"],
                   "table_sha256": entry.data["table"]["sha256"]}
            for column in columns[profile]:
                est = entry.cells.get(column.key)
                for name in ESTIMATE_FIELDS:
                    row[f"{column.key}.{name}"] = getattr(est, name) if est is not None else None
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
                        rows.append({"profile": profile, "model": entry.name, "task": task_name,
                                     "family": task.get("family", ""), "condition": cname, "metric": metric,
                                     "available": bool(condition.get("available", True)),
                                     **{f: getattr(est, f) if est else None for f in ESTIMATE_FIELDS}})
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
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(entries: dict[str, list[Entry]], columns: dict[str, list[Column]]) -> str:
    """One booktabs table per scorer profile: mean with its 95% CI below the model rows' cells."""
    blocks = []
    for profile, items in entries.items():
        cols = columns[profile]
        head = " & ".join(["Model"] + [latex_escape(c.label) + (r" $\uparrow$" if c.higher_is_better
                                                                else r" $\downarrow$") for c in cols])
        lines = [f"% rvcbench leaderboard, scorer profile {latex_escape(profile)}: mean [95% CI]",
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
    return "\n".join(blocks)


def render_exports(entries: dict[str, list[Entry]], columns: dict[str, list[Column]]) -> dict[str, str]:
    """File name → content, for the site's data/ folder and `rvcbench leaderboard export`."""
    overview, conditions = overview_rows(entries, columns), condition_rows(entries)
    return {"leaderboard.csv": to_csv(overview), "conditions.csv": to_csv(conditions),
            "leaderboard.json": to_json(overview, conditions), "leaderboard.tex": to_latex(entries, columns)}
