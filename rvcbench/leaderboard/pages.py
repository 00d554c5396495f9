"""The site's pages as HTML strings: overview, robustness, one page per model, method. No I/O here."""

from __future__ import annotations

import json
import math

from rvcbench.leaderboard.aggregate import Column, Entry, TaskGrid, task_grids
from rvcbench.leaderboard.analyses import DetectGrid, detect_conditions, detect_grids, detectability_of
from rvcbench.leaderboard.estimate import Estimate
from rvcbench.leaderboard.plots import has_points, legend, line_plot
from rvcbench.leaderboard.render import e, estimate_cell, fmt, link, page, scroll_table, sort_header, tip
from rvcbench.tasks import CLEAN

HEAT_LOW, HEAT_HIGH, HEAT_BUCKETS = 0.5, 1.0, 10
EER_LOW, EER_HIGH = 0.0, 0.5  # detectability heatmap: red = always detected, blue = undetectable (chance)
EER_CAPTION = ("EER 0.5 (blue) = the detector does no better than chance: the clones pass as real speech, the best a "
               "cloner can do and, for a VC model's robustness, the better end; EER 0 (red) = every clone is "
               "detected. Higher EER = harder to detect.")


def profile_selector(profiles: list[str]) -> str:
    options = "".join(f'<option value="{e(p)}">{e(p)}</option>' for p in profiles)
    return (f'<p class="selector"><label for="profile">Ranking (scorer profile · data · pair set)</label> '
            f'<select id="profile">{options}</select> <span class="note">Results of different profiles or pair sets '
            "are never ranked together.</span></p>")


def profile_section(profile: str, first: bool, body: str) -> str:
    hidden = "" if first else " hidden"
    return (f'<section class="profile" data-profile="{e(profile)}"{hidden}>'
            f"<h2>Ranking <code>{e(profile)}</code></h2>{body}</section>")


def overview_page(entries: dict[str, list[Entry]], columns: dict[str, list[Column]],
                  published: list[dict] | None = None, calibrations: list[dict] | None = None) -> str:
    """One ranking per profile; the papers' published rows ranked in where comparable, else shown beside;
    the profile's calibration on real recordings under it."""
    from rvcbench.leaderboard.calibration import calibration_table
    from rvcbench.leaderboard.published import beside_table, comparable, ranked_rows

    body = ["<h1>Voice-cloning robustness leaderboard</h1>",
            "<p>One row per model. Click (or focus and press Enter on) a column header to sort. Each mean shows "
            "its 95% confidence interval beside it; hover for n and failures. Robustness scores are the mean SIM "
            'retention over a task family\'s perturbed conditions (<a href="method.html#scores">how</a>). '
            'Download: <a href="data/leaderboard.csv">CSV</a> · <a href="data/leaderboard.json">JSON</a> · '
            '<a href="data/leaderboard.tex">LaTeX</a>.</p>']
    if not entries:
        body.append('<p class="empty">No results yet: add runs with <code>rvcbench leaderboard add RUN_DIR</code>.'
                    "</p>")
        return page("Overview", "".join(body), current="index.html")
    body.append(profile_selector(list(entries)))
    for i, (profile, rows) in enumerate(entries.items()):
        cols = columns[profile]
        head = (sort_header("Model", None, "model name", numeric=False) + sort_header("Dataset", None, "dataset",
                numeric=False) + "".join(sort_header(c.label, c.higher_is_better, c.description) for c in cols)
                + sort_header("n", True, "pairs behind the clean metrics") + sort_header("Failures", False,
                "items that failed (synthesis or output check), all tasks"))
        lines = []
        for entry in rows:
            summary = entry.data["summary"]
            sim = entry.cells.get("sim")
            n = sim.n + sim.failures if sim is not None else summary["items"]
            lines.append(f'<tr><th scope="row" data-v="{e(entry.name)}"><a href="models/{e(entry.slug)}.html">'
                         f"{e(entry.name)}</a></th><td data-v=\"{e(entry.data['dataset']['name'])}\">"
                         f"{e(entry.data['dataset']['name'])}</td>"
                         + "".join(estimate_cell(entry.cells.get(c.key)) for c in cols)
                         + f'<td class="num" data-v="{n}">{n}</td>'
                         f'<td class="num" data-v="{summary["failed"]}">{summary["failed"]}</td></tr>')
        scorer_profile = rows[0].data["profile"]
        joined = [p for p in published or [] if comparable(p, scorer_profile, rows)]
        lines += [ranked_rows(p, cols) for p in joined]
        beside = "".join(beside_table(p, scorer_profile) for p in published or [] if p not in joined)
        table = (f'<table class="sortable overview"><caption>Models scored with profile {e(scorer_profile)} on the '
                 f"same pairs ({e(profile)})</caption>"
                 f"<thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>")
        scorers = ", ".join(f"{s['name']} {s['version']}" for s in rows[0].data["scorers"]) or "none (synthesis only)"
        body.append(profile_section(profile, i == 0, f"<p>Scorers: {e(scorers)}.</p>"
                                    + scroll_table(table, f"overview, profile {profile}")
                                    + '<p class="note">↑ higher is better, ↓ lower is better; ▲ ▼ the current '
                                    "sort.</p>" + calibration_table(calibrations or [], scorer_profile, rows, cols)
                                    + beside))
    return page("Overview", "".join(body), current="index.html")


def _heat_class(est: Estimate | None, low: float = HEAT_LOW, high: float = HEAT_HIGH) -> str:
    if est is None or not est.finite:
        return "h-none"
    level = (est.mean - low) / (high - low) * HEAT_BUCKETS
    return f"h{min(max(int(math.floor(level)), 0), HEAT_BUCKETS)}"


def _heat_table(caption: str, label: str, conditions: list[str], values: dict[str, dict[str, Estimate | None]],
                entries: list[Entry], low: float, high: float, css: str = "heatmap") -> str:
    """Model × condition table of estimates, coloured from ≤low (red, h0) to ≥high (blue, h10)."""
    head = "".join(f'<th scope="col">{e(c)}</th>' for c in conditions)
    rows = []
    for entry in entries:
        if entry.slug not in values:
            continue
        cells = []
        for c in conditions:
            est = values[entry.slug].get(c)
            text = fmt(est.mean, 2) if est is not None and est.finite else "–"
            title = f' title="{e(tip(est))}"' if est is not None and est.finite else ""
            cells.append(f'<td class="heat {_heat_class(est, low, high)}"{title}>{text}</td>')
        rows.append(f'<tr><th scope="row"><a href="models/{e(entry.slug)}.html">{e(entry.name)}</a></th>'
                    f"{''.join(cells)}</tr>")
    table = (f'<table class="{css}"><caption>{caption}</caption>'
             f'<thead><tr><th scope="col">Model</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return scroll_table(table, label)


def heatmap(grid: TaskGrid, entries: list[Entry]) -> str:
    """Model × condition table of SIM retention, coloured from ≤0.5 (red) to ≥1.0 (blue)."""
    return _heat_table(f"SIM retention vs clean, task {e(grid.name)}", f"heatmap {grid.name}", grid.conditions,
                       grid.retention, entries, HEAT_LOW, HEAT_HIGH)


def detect_heatmap(grid: DetectGrid, entries: list[Entry]) -> str:
    """Model × condition table of spoof-detection EER, coloured from 0 (red, detected) to ≥0.5 (blue, chance)."""
    detectors = sorted(set(grid.detectors.values()))
    caption = (f"Spoof-detection EER, task {e(grid.task)} (detector {e(', '.join(detectors))}). {e(EER_CAPTION)} "
               "Hover a cell for its 95% CI, trials (n) and clone failures.")
    return _heat_table(caption, f"detectability heatmap {grid.task}", grid.conditions, grid.eer, entries, EER_LOW,
                       EER_HIGH, css="heatmap detectability")


def curves(grid: TaskGrid, entries: list[Entry], only: str | None = None) -> str:
    """One plot per metric that has at least one number; each model keeps its colour (its position among all the
    profile's models, as in the legend), and a plot with nothing to show is left out."""
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
    return f'<div class="plots">{"".join(plots)}</div>{names}' if plots else ""


def robustness_page(entries: dict[str, list[Entry]]) -> str:
    body = ["<h1>Robustness</h1>", "<p>Per task: SIM retention (mean SIM in the condition ÷ mean SIM clean, same "
            "pairs) for every model and condition, then each metric across the conditions, with 95% CIs. Tasks with "
            "a detectability analysis also get a model × condition heatmap of the spoof-detection EER "
            '(<a href="method.html#detectability">how</a>).</p>']
    if not entries:
        return page("Robustness", "".join(body) + '<p class="empty">No results yet.</p>', current="robustness.html")
    body.append(profile_selector(list(entries)))
    for i, (profile, rows) in enumerate(entries.items()):
        parts = []
        detect = {g.task: g for g in detect_grids(rows)}
        for grid in task_grids(rows):
            parts.append(f'<h3 id="{e(profile)}-{e(grid.name)}">Task {e(grid.name)} <small>({e(grid.family)})</small>'
                         f"</h3>{heatmap(grid, rows)}")
            if grid.name in detect:
                parts.append(f'<h4 id="{e(profile)}-{e(grid.name)}-detectability">Detectability</h4>'
                             f"{detect_heatmap(detect.pop(grid.name), rows)}")
            parts.append(curves(grid, rows))
        for task, grid in detect.items():  # an analysis whose task has no condition table (not written today)
            parts.append(f'<h3 id="{e(profile)}-{e(task)}">Task {e(task)}</h3>{detect_heatmap(grid, rows)}')
        body.append(profile_section(profile, i == 0, "".join(parts) or '<p class="empty">No task runs.</p>'))
    return page("Robustness", "".join(body), current="robustness.html")


def _dl(items: dict) -> str:
    return "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in items.items()) + "</dl>"


def _text(value: object) -> str:
    if isinstance(value, (dict, list)):
        return f"<code>{e(json.dumps(value, sort_keys=True))}</code>"
    return e("–" if value in (None, "") else value)


def model_page(entry: Entry, profile_entries: list[Entry]) -> str:
    d = entry.data
    model, adapter = d["model"], d["model"]["adapter"]
    weights = adapter.get("weights") or "–"
    facts = {
        "Adapter": e(f"{adapter.get('name', model['name'])} v{d['versions']['adapter']} ({model['adapter_origin']})"),
        "Weights": link(model["links"].get("weights"), weights),
        "Licence": _text(adapter.get("license")),
        "Dataset": e(f"{d['dataset']['name']} ({d['dataset']['source']}, {d['dataset']['pairs']} pairs, "
                     f"fingerprint {d['dataset']['fingerprint']})"),
        "Scorer profile": f"<code>{e(d['profile'])}</code>",
        "Seeds": e(f"run {d['seeds']['run']}, bootstrap {d['seeds']['bootstrap']}"),
        "Settings": _dl({k: _text(v) for k, v in d["settings"].items()}),
        "Hardware": _dl({k: _text(v) for k, v in d["hardware"].items()}),
        "Versions": _dl({"rvcbench": _text(d["versions"]["rvcbench"]),
                         **{f"scorer {k}": _text(v) for k, v in d["versions"]["scorers"].items()}}),
        "Per-utterance table": e(f"{d['table']['file']}, {d['table']['rows']} rows, sha256 {d['table']['sha256']}"),
        "Recorded": e(d["created"]),
    }
    body = [f"<h1>{e(model['name'])}</h1>", f"<p>{e(model['description'])}</p>" if model["description"] else "",
            _dl(facts), "<h2>Clean metrics</h2>", _metric_table(d["summary"]["metrics"])]
    scores = {k[len("robust:"):]: v for k, v in entry.cells.items() if k.startswith("robust:")}
    if scores:
        rows = "".join(f"<tr><th scope=\"row\">{e(f)}</th>{estimate_cell(v)}</tr>" for f, v in scores.items())
        body.append('<h2>Robustness scores</h2><table class="compact"><thead><tr><th scope="col">Family</th>'
                    f'<th scope="col">Mean SIM retention [95% CI]</th></tr></thead><tbody>{rows}</tbody></table>')
    grids = {g.name: g for g in task_grids([entry])}
    detect = detectability_of(d)
    for name, task in d["summary"].get("tasks", {}).items():
        body.append(f'<h2 id="task-{e(name)}">Task {e(name)} <small>({e(task.get("family", ""))}, transforms the '
                    f'{e(task.get("applies_to", ""))})</small></h2>{_task_table(task)}{_groups(task)}')
        if name in detect:
            body.append(detect_table(name, detect[name]))
        if name in grids and len(grids[name].conditions) > 1:
            body.append(curves(grids[name], [entry], only=entry.slug))
        body.append(_examples(entry, name))
    return page(model["name"], "".join(body), depth=1)


def _metric_table(metrics: dict) -> str:
    rows = []
    for name, m in metrics.items():
        est = Estimate.of(m)
        better = "higher" if m.get("higher_is_better", True) else "lower"
        rows.append(f'<tr><th scope="row">{e(name)}</th>{estimate_cell(est)}<td class="num">'
                    f"{est.n if est else '–'}</td><td class=\"num\">{est.failures if est else '–'}</td>"
                    f"<td>{e(better)}</td><td>{e(m.get('description', ''))}</td></tr>")
    table = ('<table class="sortable"><thead><tr>' + sort_header("Metric", None, "", numeric=False)
             + sort_header("Mean [95% CI]", None, "") + sort_header("n", None, "") + sort_header("Failures", None, "")
             + "<th scope=\"col\">Better</th><th scope=\"col\">Meaning</th></tr></thead><tbody>" + "".join(rows)
             + "</tbody></table>")
    return scroll_table(table, "clean metrics")


def _task_table(task: dict) -> str:
    metrics = list(task.get("metrics", []))
    head = "".join(f'<th scope="col">{e(m)}</th>' for m in metrics)
    rows = []
    for name, c in task.get("conditions", {}).items():
        if not c.get("available", True):
            rows.append(f'<tr><th scope="row">{e(name)}</th><td colspan="{len(metrics) + 4}">unavailable: '
                        f"{e(c.get('reason', ''))}</td></tr>")
            continue
        headline = c.get("headline", {})
        cells = "".join(estimate_cell(Estimate.of(c.get("metrics", {}).get(m))) for m in metrics)
        rows.append(f'<tr><th scope="row">{e(name)}</th>{cells}'
                    f"{estimate_cell(Estimate.of(headline.get('sim_retention')))}"
                    f"{estimate_cell(Estimate.of(headline.get('wer_increase_points')))}"
                    f"<td class=\"num\">{e(c.get('items', ''))}</td><td class=\"num\">{e(c.get('failed', ''))}</td>"
                    "</tr>")
    table = (f'<table><thead><tr><th scope="col">Condition</th>{head}<th scope="col">SIM retention</th>'
             '<th scope="col">ΔWER (points)</th><th scope="col">Items</th><th scope="col">Failed</th></tr></thead>'
             f"<tbody>{''.join(rows)}</tbody></table>")
    return scroll_table(table, "conditions")


def detect_table(task: str, result: dict) -> str:
    """The detectability analysis of one task: per condition EER, ΔEER vs clean (95% CIs) and the trial counts."""
    detector, protocol = result["detector"], result.get("protocol", {})
    folds = protocol.get("folds", 0)
    how = (f"trained and tested with speaker-disjoint cross-validation (up to {e(folds)} folds: k = min(folds, "
           "speakers))" if folds
           else "pretrained, not trained on these clips")
    rows = []
    for c in detect_conditions(result):
        if not c.available:
            rows.append(f'<tr><th scope="row">{e(c.name)}</th><td colspan="6">unavailable: {e(c.reason)}</td>'
                        f'<td class="num">{c.clone_failures}</td></tr>')
            continue
        rows.append(f'<tr><th scope="row">{e(c.name)}</th>{estimate_cell(c.eer)}{estimate_cell(c.delta)}'
                    f'<td class="num">{c.n_bona_fide}</td><td class="num">{c.n_spoof}</td>'
                    f'<td class="num">{c.n_speakers}</td><td class="num">{c.folds}</td>'
                    f'<td class="num">{c.clone_failures}</td></tr>')
    table = ('<table class="detectability"><caption>Detectability: spoof-detection EER of the clones vs the real '
             "recordings of the same pairs (0.5 = undetectable, 0 = always detected; higher = harder to detect)"
             '</caption><thead><tr><th scope="col">Condition</th><th scope="col">EER [95% CI]</th>'
             '<th scope="col">ΔEER vs clean [95% CI]</th><th scope="col">Bona fide</th><th scope="col">Spoof</th>'
             '<th scope="col">Speakers</th><th scope="col">Folds</th><th scope="col">Clone failures</th></tr>'
             f"</thead><tbody>{''.join(rows)}</tbody></table>")
    return (f'<h3 id="detectability-{e(task)}">Detectability</h3><p>Detector <code>{e(detector["name"])}</code> '
            f'v{e(detector["version"])}, {how}; 95% CIs resample speakers '
            '(<a href="../method.html#detectability">method</a>).</p>'
            + scroll_table(table, f"detectability {task}"))


def _groups(task: dict) -> str:
    parts = []
    for column, grouping in task.get("groups", {}).items():
        if not grouping.get("available", False):
            parts.append(f"<p>Groups by {e(column)}: unavailable ({e(grouping.get('reason', ''))}).</p>")
            continue
        metrics = list(task.get("metrics", []))
        rows = "".join(f'<tr><th scope="row">{e(g)}</th>'
                       + "".join(estimate_cell(Estimate.of(v.get(m))) for m in metrics) + "</tr>"
                       for g, v in grouping.get("groups", {}).items())
        gaps = "; ".join(f"{m}: {fmt(float(gap.get('gap', float('nan'))))} (best {gap.get('best_group')}, worst "
                         f"{gap.get('worst_group')})" for m, gap in grouping.get("worst_group_gap", {}).items())
        head = "".join(f'<th scope="col">{e(m)}</th>' for m in metrics)
        parts.append(scroll_table(f'<table><caption>Clean metrics by {e(column)}</caption><thead><tr>'
                                  f'<th scope="col">{e(column)}</th>{head}</tr></thead><tbody>{rows}</tbody></table>',
                                  f"groups by {column}") + (f"<p>Worst-group gap: {e(gaps)}</p>" if gaps else ""))
    return "".join(parts)


def _examples(entry: Entry, task: str) -> str:
    labels = {"prompt": "Prompt as the model received it", "clone": "Clone", "target": "Real target"}
    figures = []
    for i, example in enumerate(entry.data["examples"]):
        if example.get("task") != task:
            continue
        players = "".join(
            f'<div class="player"><span>{labels[role]}</span><audio controls preload="none" '
            f'src="../audio/{e(entry.slug)}/{e(example[role].rsplit("/", 1)[-1])}"></audio></div>'
            if example.get(role) else f'<div class="player"><span>{labels[role]}</span> not available</div>'
            for role in labels)
        figures.append(f'<figure class="example" id="example-{i}"><figcaption>{e(example["condition"])} · pair '
                       f'{e(example["pair_id"])} · “{e(example["text"])}”</figcaption>{players}</figure>')
    return ("<h3>Listen</h3>" + "".join(figures)) if figures else ""


def _detectors_section(detectors: list[dict]) -> str:
    parts = []
    for d in detectors:
        facts = {"Version": e(d["version"]), "Tasks": e(", ".join(d["tasks"])),
                 "Description": _text(d.get("description")), "Reference": _text(d.get("reference")),
                 "Origin": _text(d.get("origin")),
                 "Trained here": e({True: "yes, per cross-validation fold", False: "no (pretrained)"}
                                   .get(d.get("trainable"), "–")),
                 "Settings": _text(d.get("settings", {}))}
        for i, protocol in enumerate(d["protocols"]):
            facts[f"Protocol {i + 1}" if len(d["protocols"]) > 1 else "Protocol"] = _dl(
                {k: _text(v) for k, v in protocol.items()}) if isinstance(protocol, dict) else "–"
        parts.append(f'<h3 class="detector">Detector <code>{e(d["name"])}</code></h3>{_dl(facts)}')
    return "".join(parts) or "<p>No result records a detectability analysis yet.</p>"


def method_page(task_specs: list[dict], metrics: dict[str, tuple[bool, str]], scorers: list[dict],
                profiles: dict[str, tuple[str, ...]], detectors: list[dict] | None = None) -> str:
    metric_rows = "".join(f'<tr><th scope="row"><code>{e(n)}</code></th><td>{"higher" if h else "lower"}</td>'
                          f"<td>{e(d)}</td></tr>" for n, (h, d) in metrics.items())
    scorer_rows = "".join(f'<tr><th scope="row">{e(s["name"])}</th><td>{e(s["version"])}</td><td>{e(s["model"])}</td>'
                          f'<td>{e(", ".join(s["metrics"]))}</td><td>{_text(s.get("settings", {}))}</td></tr>'
                          for s in scorers)
    profile_rows = "".join(f"<li><code>{e(p)}</code>: {e(', '.join(names) or 'no scorer (synthesis only)')}</li>"
                           for p, names in profiles.items())
    task_parts = []
    for spec in task_specs:
        conditions = "".join(
            f"<li><code>{e(c['name'])}</code>: "
            + (e(" → ".join(json.dumps(s, sort_keys=True) for s in c["steps"])) if c["steps"] else "no transform")
            + "</li>" for c in spec["conditions"])
        task_parts.append(f'<h3 id="task-{e(spec["name"])}">{e(spec["name"])} <small>({e(spec["family"])}, '
                          f'transforms the {e(spec["applies_to"])})</small></h3><p>{e(spec["description"])}</p>'
                          f'<p>Metrics: {e(", ".join(spec["metrics"]))}. Source: <code>{e(spec["source"])}</code>.</p>'
                          f"<ul class=\"conditions\">{conditions}</ul>")
    body = f"""<h1>Method</h1>
<h2 id="metrics">Metrics</h2>
<p>Each clone is scored per utterance; a metric's mean is over the items with a value, <em>n</em> counts them and
<em>failures</em> counts the planned items without one (synthesis failed, output rejected, scorer failed), so
n + failures = items planned. Corpus-level WER = Σ word errors / Σ reference words.</p>
{scroll_table(f'<table><thead><tr><th scope="col">Metric</th><th scope="col">Better</th><th scope="col">Meaning'
              f'</th></tr></thead><tbody>{metric_rows}</tbody></table>', "metrics")}
<h2 id="ci">Confidence intervals</h2>
<p>95% percentile bootstrap over utterances (2000 resamples, seeded by the run seed); corpus-level ratios resample
utterances and recompute the ratio; differences to clean resample pairs.</p>
<h2 id="scores">Robustness scores</h2>
<p>Per condition, <strong>SIM retention</strong> = mean SIM(condition) ÷ mean SIM(clean) over the pairs scored in
both, and <strong>WER increase</strong> = 100 × (corpus WER(condition) − corpus WER(clean)) in points, same pairs.</p>
<p>The <strong>robustness score of a task family</strong> (input, generation, output, perturbation) is the mean SIM
retention over the perturbed, available conditions of every task of that family:
<code>score = (1/K) Σ<sub>k</sub> Σ<sub>p</sub> SIM<sub>k</sub>(p) / Σ<sub>p</sub> SIM<sub>clean</sub>(p)</code>.
1.0 means nothing was lost. Its 95% CI resamples pairs (the same draw for every condition) and recomputes the score.
Its n counts the (pair, condition) cells scored in both, failures the cells without a value.</p>
<h2 id="scorers">Scorers and profiles</h2>
<p>Results from different scorer profiles are never ranked in one table.</p><ul>{profile_rows}</ul>
{scroll_table(f'<table><thead><tr><th scope="col">Scorer</th><th scope="col">Version</th><th scope="col">Model'
              f'</th><th scope="col">Metrics</th><th scope="col">Settings</th></tr></thead><tbody>{scorer_rows}'
              "</tbody></table>", "scorers")}
<h2 id="detectability">Detectability (spoof-detection EER)</h2>
<p>A task with a <code>detectability</code> analysis asks whether a spoof detector (countermeasure) can tell a
model's clones from real speech. Per condition, the <em>spoof</em> trials are the successful clones and the
<em>bona fide</em> trials are the real target recordings of the same pairs, resampled to the model's output rate
and passed through the condition's output transforms with the clone's seed; pairs whose clone failed are left out
of both classes (counted as clone failures). A trainable detector is trained and scored with speaker-disjoint
k-fold cross-validation (no speaker is in both the training and the test set of a fold); the out-of-fold scores
are pooled.</p>
<p>With acceptance when a score s ≥ t, FRR(t) = #{{bona fide with s &lt; t}} / #bona fide and
FAR(t) = #{{spoof with s ≥ t}} / #spoof; the <strong>equal error rate (EER)</strong> is where the piecewise-linear
curve through these points crosses FAR = FRR. <strong>EER 0.5</strong> = the detector does no better than chance
(the clones are undetectable, the best case for a cloner, shown blue); <strong>EER 0</strong> = every clone is
detected (red). For a VC model's robustness, a higher EER means harder to detect. Its 95% CI is a percentile
bootstrap over <em>speakers</em> (2000 draws, each trial weighted by how often its speaker was drawn), so it covers
which speakers were tested, not retraining the detector. <strong>ΔEER vs clean</strong> = EER(condition) −
EER(clean), with a paired CI from the same draws. The detectors recorded in the results:</p>
{_detectors_section(detectors or [])}
<h2 id="tasks">Tasks</h2>
<p>Generated from the task specs (<code>tasks/&lt;family&gt;/&lt;name&gt;.yaml</code>) and the configuration
recorded in the result files. Every task also runs <code>{CLEAN}</code>, the untransformed pair.</p>
{"".join(task_parts)}"""
    return page("Method", body, current="method.html")
