"""The site's pages: the data each page shows, prepared from the entries and rendered by its Jinja2 template
(templates/*.html, through rvcbench.leaderboard.render). No I/O here."""

from __future__ import annotations

import math

from markupsafe import Markup

from rvcbench.leaderboard.aggregate import Column, Entry, TaskGrid, task_grids
from rvcbench.leaderboard.analyses import DetectGrid, detect_conditions, detect_grids, detectability_of
from rvcbench.leaderboard.costs import clean_spread, cost_rows, cost_summary, seed_variation, spread_rows
from rvcbench.leaderboard.estimate import Estimate
from rvcbench.leaderboard.plots import has_points, legend, line_plot
from rvcbench.leaderboard.render import render
from rvcbench.tasks import CLEAN

HEAT_LOW, HEAT_HIGH, HEAT_BUCKETS = 0.5, 1.0, 10
EER_LOW, EER_HIGH = 0.0, 0.5  # detectability heatmap: red = always detected, blue = undetectable (chance)
EER_CAPTION = ("EER 0.5 (blue) = the detector does no better than chance: the clones pass as real speech, the best a "
               "cloner can do and, for a VC model's robustness, the better end; EER 0 (red) = every clone is "
               "detected. Higher EER = harder to detect.")
COST_HINT = ("synthesis seconds per hour of generated audio: GPU-seconds when synthesis ran on a GPU, wall-clock "
             "seconds otherwise (hover for RTF and peak memory)")
EXAMPLE_ROLES = (("prompt", "Prompt as the model received it"), ("clone", "Clone"), ("target", "Real target"))


def overview_page(entries: dict[str, list[Entry]], columns: dict[str, list[Column]],
                  published: list[dict] | None = None, calibrations: list[dict] | None = None) -> str:
    """One ranking per profile; the papers' published rows ranked in where comparable, else shown beside;
    the profile's calibration on real recordings under it; cost and between-seed SD where recorded."""
    from rvcbench.leaderboard.calibration import calibration_view
    from rvcbench.leaderboard.published import beside_view, comparable, ranked_views

    rankings = []
    for label, rows in entries.items():
        cols = columns[label]
        profile = rows[0].data["profile"]
        joined = [p for p in published or [] if comparable(p, profile, rows)]
        rankings.append({
            "label": label, "profile": profile, "columns": cols,
            "scorers": ", ".join(f"{s['name']} {s['version']}" for s in rows[0].data["scorers"])
            or "none (synthesis only)",
            "rows": [overview_row(entry, cols) for entry in rows],
            "published_rows": [row for p in joined for row in ranked_views(p, cols)],
            "beside": [beside_view(p, profile) for p in published or [] if p not in joined],
            "calibration": calibration_view(calibrations or [], profile, rows, cols),
        })
    any_seeds = any(seed_variation(x.data) for xs in entries.values() for x in xs)
    return render("overview.html", title="Overview", rankings=rankings, any_seeds=any_seeds, COST_HINT=COST_HINT,
                  current="index.html")


def overview_row(entry: Entry, columns: list[Column]) -> dict:
    sim = entry.cells.get("sim")
    summary = entry.data["summary"]
    return {"name": entry.name, "slug": entry.slug, "dataset": entry.data["dataset"]["name"],
            "cells": [(entry.cells.get(c.key), None if c.key.startswith("robust:") else clean_spread(entry.data, c.key))
                      for c in columns],
            "n": sim.n + sim.failures if sim is not None else summary["items"], "failed": summary["failed"],
            "cost": cost_summary(entry.data)}


def _heat_class(est: Estimate | None, low: float = HEAT_LOW, high: float = HEAT_HIGH) -> str:
    if est is None or not est.finite:
        return "h-none"
    level = (est.mean - low) / (high - low) * HEAT_BUCKETS
    return f"h{min(max(int(math.floor(level)), 0), HEAT_BUCKETS)}"


def _heat_view(caption: str, label: str, conditions: list[str], values: dict[str, dict[str, Estimate | None]],
               entries: list[Entry], low: float, high: float, css: str = "heatmap") -> dict:
    """Model × condition table of estimates, coloured from ≤low (red, h0) to ≥high (blue, h10)."""
    rows = []
    for entry in entries:
        if entry.slug not in values:
            continue
        cells = []
        for c in conditions:
            est = values[entry.slug].get(c)
            cells.append({"css": _heat_class(est, low, high), "est": est if est is not None and est.finite else None})
        rows.append({"slug": entry.slug, "name": entry.name, "cells": cells})
    return {"caption": caption, "label": label, "conditions": conditions, "rows": rows, "css": css}


def heatmap(grid: TaskGrid, entries: list[Entry]) -> dict:
    """Model × condition table of SIM retention, coloured from ≤0.5 (red) to ≥1.0 (blue)."""
    return _heat_view(f"SIM retention vs clean, task {grid.name}", f"heatmap {grid.name}", grid.conditions,
                      grid.retention, entries, HEAT_LOW, HEAT_HIGH)


def detect_heatmap(grid: DetectGrid, entries: list[Entry]) -> dict:
    """Model × condition table of spoof-detection EER, coloured from 0 (red, detected) to ≥0.5 (blue, chance)."""
    detectors = sorted(set(grid.detectors.values()))
    caption = (f"Spoof-detection EER, task {grid.task} (detector {', '.join(detectors)}). {EER_CAPTION} "
               "Hover a cell for its 95% CI, trials (n) and clone failures.")
    return _heat_view(caption, f"detectability heatmap {grid.task}", grid.conditions, grid.eer, entries, EER_LOW,
                      EER_HIGH, css="heatmap detectability")


def curves(grid: TaskGrid, entries: list[Entry], only: str | None = None) -> Markup:
    """One plot per metric that has at least one number; each model keeps its colour (its position among all the
    profile's models, as in the legend), and a plot with nothing to show is left out.

    The SVG is built in rvcbench.leaderboard.plots, which html-escapes every string in it (model names,
    conditions, titles); that is why it may be inserted as Markup."""
    colours = {x.slug: i for i, x in enumerate(entries)}
    shown = [x for x in entries if only is None or x.slug == only]
    plots, drawn = [], set()
    for metric in grid.metrics:
        per_model = grid.values.get(metric, {})
        series = [(x.name, [per_model.get(x.slug, {}).get(c) for c in grid.conditions], colours[x.slug])
                  for x in shown if x.slug in per_model]
        if has_points(series):
            plots.append(f'<figure>{line_plot(f"{metric} · {grid.name}", grid.conditions, series)}</figure>')
            drawn |= {name for name, points, _ in series if any(p is not None and p.finite for p in points)}
    names = legend([(x.name, colours[x.slug]) for x in shown if x.name in drawn]) if only is None else ""
    return Markup(f'<div class="plots">{"".join(plots)}</div>{names}' if plots else "")  # escaped in plots.py


def robustness_page(entries: dict[str, list[Entry]]) -> str:
    rankings = []
    for label, rows in entries.items():
        tasks = []
        detect = {g.task: g for g in detect_grids(rows)}
        for grid in task_grids(rows):
            found = detect.pop(grid.name, None)
            tasks.append({"name": grid.name, "family": grid.family, "heat": heatmap(grid, rows),
                          "detect": detect_heatmap(found, rows) if found else None, "curves": curves(grid, rows)})
        for task, grid in detect.items():  # an analysis whose task has no condition table (not written today)
            tasks.append({"name": task, "family": None, "heat": None, "detect": detect_heatmap(grid, rows),
                          "curves": ""})
        rankings.append({"label": label, "tasks": tasks})
    return render("robustness.html", title="Robustness", rankings=rankings, current="robustness.html")


def model_page(entry: Entry, profile_entries: list[Entry]) -> str:
    d = entry.data
    grids = {g.name: g for g in task_grids([entry])}
    detect = detectability_of(d)
    tasks = []
    for name, task in d["summary"].get("tasks", {}).items():
        found = detect.get(name)
        tasks.append({"name": name, "task": task, "detect": found,
                      "detect_conditions": detect_conditions(found) if found else [],
                      "curves": curves(grids[name], [entry], only=entry.slug)
                      if name in grids and len(grids[name].conditions) > 1 else "",
                      "examples": [(i, x) for i, x in enumerate(d["examples"]) if x.get("task") == name]})
    scores = [(k[len("robust:"):], v) for k, v in entry.cells.items() if k.startswith("robust:")]
    return render("model.html", entry=entry, scores=scores, tasks=tasks, roles=EXAMPLE_ROLES,
                  cost_rows=cost_rows(d), spreads=spread_rows(d), seed_list=seed_variation(d).get("seeds") or [],
                  clean_spread=lambda metric: clean_spread(d, metric), title=d["model"]["name"], depth=1)


def method_page(task_specs: list[dict], metrics: dict[str, tuple[bool, str]], scorers: list[dict],
                profiles: dict[str, tuple[str, ...]], detectors: list[dict] | None = None) -> str:
    from rvcbench.leaderboard.matrix import SETTINGS

    return render("method.html", title="Method", task_specs=task_specs, metrics=metrics, scorers=scorers,
                  profiles=profiles, detectors=detectors or [], clean=CLEAN, compare_settings=SETTINGS,
                  current="method.html")


def compare_page(entries: dict[str, list[Entry]], columns: dict[str, list[Column]]) -> str:
    """Per ranking, the model × model matrices of rvcbench.leaderboard.matrix (computed here, at build time)."""
    from rvcbench.leaderboard.matrix import SETTINGS, ranking_matrices

    rankings = []
    for label, rows in entries.items():
        matrices = ranking_matrices(rows, columns[label])
        counts = [c.n for x in matrices for line in x.cells for c in line if c is not None and c.p_holm is not None]
        rankings.append({"label": label, "models": len(rows), "matrices": matrices,
                         "fewest_pairs": min(counts) if counts else None})
    return render("compare.html", title="Compare", rankings=rankings, settings=SETTINGS, current="compare.html")
