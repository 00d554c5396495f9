"""Run every evaluation of a protocol, and report one table per evaluation plus the robustness headline.

Evaluations on the same data and pair subset share one run directory (one `rvcbench run` with several tasks),
so their common `clean` items are synthesized and scored once. Each run directory resumes like any run; the
protocol's folder holds one per data × pairs and `protocol.json`, the evaluation → results mapping.
Every dataset is loaded and validated before anything runs: a missing config or a broken folder stops the
protocol with one error listing every problem.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rvcbench.errors import RvcbenchError
from rvcbench.leaderboard.schema import slug
from rvcbench.protocols import Evaluation, Protocol, load_published
from rvcbench.published import table_rows
from rvcbench.results import write_json_atomic
from rvcbench.runner import RunConfig, load_run_dataset, run_benchmark
from rvcbench.tasks import CLEAN, DEFAULT_TASK

PROTOCOL_FILE = "protocol.json"
HEADLINE_METRICS = ("sim", "wer_corpus")


@dataclass(frozen=True)
class RunGroup:
    """One run directory: the evaluations on the same data and pairs."""

    data: str
    pairs: str
    evaluations: tuple[Evaluation, ...]

    @property
    def tasks(self) -> list[str]:
        return list(dict.fromkeys(e.task for e in self.evaluations if e.task != DEFAULT_TASK))

    @property
    def conditions(self) -> dict[str, list[str]] | None:
        """Per task, the union of its evaluations' condition subsets (a task any evaluation runs whole is whole)."""
        out: dict[str, list[str]] = {}
        for task in self.tasks:
            subsets = [e.conditions for e in self.evaluations if e.task == task]
            if all(subsets):
                out[task] = list(dict.fromkeys(c for s in subsets for c in s))
        return out or None

    @property
    def folder(self) -> str:
        return slug(self.data) + ("" if self.pairs == "all" else f"__{slug(self.pairs)}")


def plan_groups(evaluations: tuple[Evaluation, ...]) -> list[RunGroup]:
    keys = list(dict.fromkeys((e.data, e.pairs) for e in evaluations))
    return [RunGroup(d, p, tuple(e for e in evaluations if (e.data, e.pairs) == (d, p))) for d, p in keys]


def default_protocol_dir(protocol: Protocol, config: RunConfig) -> Path:
    return Path("runs") / f"{config.model}__{protocol.name}__{config.profile}__seed{config.seed}"


@dataclass(frozen=True)
class ProtocolOutcome:
    out_dir: Path
    report: dict
    synthesized: int
    scored: int


def run_protocol(protocol: Protocol, base: RunConfig, out_dir: Path | None = None, *,
                 evaluations: str | None = None, progress: bool = True) -> ProtocolOutcome:
    selected = protocol.select(evaluations)
    groups = plan_groups(selected)
    out_dir = out_dir or default_protocol_dir(protocol, base)
    configs = {g: dataclasses.replace(base, data=g.data, pairs=None if g.pairs == "all" else g.pairs,
                                      task=",".join(g.tasks) or DEFAULT_TASK, conditions=g.conditions)
               for g in groups}
    datasets, problems = {}, []
    for group, config in configs.items():
        try:
            datasets[group] = load_run_dataset(config)
        except RvcbenchError as exc:
            names = ", ".join(e.name for e in group.evaluations)
            problems.append(f"{group.data} (evaluations {names}): {exc}")
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise RvcbenchError(f"protocol {protocol.name}: {len(problems)} of {len(groups)} dataset(s) cannot be "
                            f"used; nothing was run:\n{listing}")
    report = {"protocol": {"name": protocol.name, "version": protocol.version, "source": protocol.source,
                           "reference_profile": protocol.reference_profile, "path": str(protocol.path)},
              "model": base.model, "profile": base.profile, "seed": base.seed, "evaluations": {}}
    synthesized = scored = 0
    for group in groups:
        outcome = run_benchmark(configs[group], out_dir / group.folder, progress=progress, dataset=datasets[group])
        synthesized += outcome.synthesized
        scored += outcome.scored
        report.setdefault("clean", {})[group.folder] = {
            "data": group.data, "pairs": group.pairs,
            **{m: outcome.summary["metrics"][m] for m in HEADLINE_METRICS if m in outcome.summary["metrics"]}}
        for evaluation in group.evaluations:
            report["evaluations"][evaluation.name] = evaluation_result(evaluation, outcome.summary,
                                                                       outcome.run_dir)
    report["headline"] = robustness_headline(report["evaluations"])
    if protocol.published:
        report["published"] = published_beside(protocol, base, selected)
    write_json_atomic(out_dir / PROTOCOL_FILE, report)
    return ProtocolOutcome(out_dir, report, synthesized, scored)


def evaluation_result(evaluation: Evaluation, summary: dict, run_dir: Path) -> dict:
    """One evaluation's numbers, read from its run's summary: metrics per condition (clean only for `default`)."""
    base = {"family": evaluation.family, "data": evaluation.data, "task": evaluation.task,
            "pairs": evaluation.pairs, "metrics": list(evaluation.metrics), "run_dir": str(run_dir),
            "dataset_fingerprint": summary["run"]["dataset"]["fingerprint"],
            "description": evaluation.description}
    if evaluation.task == DEFAULT_TASK:
        counts = next((dict(t["conditions"][CLEAN]) for t in summary.get("tasks", {}).values()), summary)
        return {**base, "conditions": {CLEAN: {"available": True, **_counts(counts),
                                               "metrics": {m: summary["metrics"][m] for m in evaluation.metrics
                                                           if m in summary["metrics"]}}}}
    task = summary["tasks"][evaluation.task]
    wanted = [CLEAN, *(evaluation.conditions or [c for c in task["conditions"] if c != CLEAN])]
    conditions = {}
    for name in wanted:
        c = task["conditions"][name]
        entry = {"available": c["available"], **_counts(c)}
        if not c["available"]:
            entry["reason"] = c["reason"]
        else:
            entry["metrics"] = {m: c["metrics"][m] for m in evaluation.metrics if m in c["metrics"]}
            entry["headline"] = c["headline"]
        conditions[name] = entry
    return {**base, "conditions": conditions, **({"groups": task["groups"]} if "groups" in task else {})}


def _counts(entry: dict) -> dict:
    return {k: entry.get(k, 0) for k in ("ok", "failed", "unavailable")}


def robustness_headline(evaluations: dict) -> dict:
    """Per family: mean SIM retention and ΔWER over its perturbed conditions, and the worst condition of each."""
    per_family: dict[str, list[tuple[str, float, float]]] = {}
    for name, ev in evaluations.items():
        for condition, c in ev["conditions"].items():
            if condition == CLEAN or not c["available"]:
                continue
            ret = c["headline"]["sim_retention"]["mean"]
            dwer = c["headline"]["wer_increase_points"]["mean"]
            per_family.setdefault(ev["family"], []).append((f"{name}: {condition}", ret, dwer))
    out = {}
    for family, rows in per_family.items():
        rets = [(label, r) for label, r, _ in rows if np.isfinite(r)]
        dwers = [(label, d) for label, _, d in rows if np.isfinite(d)]
        out[family] = {
            "conditions": len(rows),
            "mean_sim_retention": float(np.mean([r for _, r in rets])) if rets else float("nan"),
            "worst_sim_retention": min(rets, key=lambda x: x[1]) if rets else None,
            "mean_wer_increase_points": float(np.mean([d for _, d in dwers])) if dwers else float("nan"),
            "worst_wer_increase_points": max(dwers, key=lambda x: x[1]) if dwers else None,
        }
    return out


def published_beside(protocol: Protocol, base: RunConfig, evaluations: tuple[Evaluation, ...]) -> dict:
    """For each evaluation that names a published table: the paper's row for this model (if it has one), and
    whether the numbers are comparable (the run's scorer profile is the one the paper's numbers were made with)."""
    published = load_published(protocol.published, protocol.path)
    comparable = base.profile == published["scorer_profile"]
    out = {"scorer_profile": published["scorer_profile"], "comparable": comparable, "evaluations": {}}
    for evaluation in evaluations:
        ref = evaluation.published
        if ref is None:
            continue
        table = published["tables"][ref.table]
        row = next((r for r in table_rows(table) if r["key"] == base.model), None)
        values = None
        if row is not None:
            values = {ref.column: row[ref.column]} if ref.column else {c: row[c] for c in table["columns"]}
        out["evaluations"][evaluation.name] = {"table": ref.table, "column": ref.column, "model_row": values,
                                               "models": len(table["rows"])}
    return out


def format_protocol(report: dict) -> str:
    """One table per evaluation, then the per-family robustness headline beside clean SIM/WER."""
    p = report["protocol"]
    lines = [f"protocol {p['name']} v{p['version']}: model {report['model']}, scorer profile {report['profile']}, "
             f"seed {report['seed']}"]
    for name, ev in report["evaluations"].items():
        lines += ["", f"== {name} [{ev['family']}] data {ev['data']}, task {ev['task']}, pairs {ev['pairs']}"]
        metrics = ev["metrics"]
        head = f"{'condition':<34}" + "".join(f"{m[:12]:>24}" for m in metrics) + f"{'ok':>6}{'failed':>7}{'n/a':>5}"
        lines += [head, "-" * len(head)]
        for condition, c in ev["conditions"].items():
            if not c["available"]:
                lines.append(f"{condition[:33]:<34}unavailable: {c['reason']}")
                continue
            cells = "".join(f"{_cell(c['metrics'].get(m)):>24}" for m in metrics)
            lines.append(f"{condition[:33]:<34}{cells}{c['ok']:>6}{c['failed']:>7}{c['unavailable']:>5}")
        published = report.get("published", {}).get("evaluations", {}).get(name)
        if published:
            label = "comparable" if report["published"]["comparable"] else (
                f"made with the {report['published']['scorer_profile']} scorers, not comparable with this "
                f"{report['profile']} run")
            row = published["model_row"]
            shown = ", ".join(f"{k} {v}" for k, v in row.items()) if row else "this model is not in the table"
            lines.append(f"published ({published['table']}, {label}): {shown}")
    lines += ["", "clean, per dataset (what the headline's retentions and increases are relative to):"]
    for clean in report.get("clean", {}).values():
        cells = "  ".join(f"{m} {_cell(clean.get(m))}" for m in HEADLINE_METRICS)
        lines.append(f"  {clean['data']} (pairs {clean['pairs']}): {cells}")
    lines += ["", "robustness headline per family (perturbed conditions vs clean, same pairs):"]
    head = (f"{'family':<14}{'conds':>6}{'SIM ret.':>10}  {'worst condition (SIM ret.)':<66}{'ΔWER pts':>9}  "
            "worst (ΔWER)")
    lines += [head, "-" * len(head)]
    for family, h in report["headline"].items():
        worst = (f"{h['worst_sim_retention'][0]} ({h['worst_sim_retention'][1]:.3f})"
                 if h["worst_sim_retention"] else "-")
        wworst = (f"{h['worst_wer_increase_points'][0]} ({h['worst_wer_increase_points'][1]:+.1f})"
                  if h["worst_wer_increase_points"] else "-")
        lines.append(f"{family:<14}{h['conditions']:>6}{_num(h['mean_sim_retention']):>10}  {worst[:65]:<66}"
                     f"{_num(h['mean_wer_increase_points']):>9}  {wworst}")
    return "\n".join(lines)


def _cell(m: dict | None) -> str:
    if m is None:
        return "not scored"
    if not np.isfinite(m["mean"]):
        return f"- (n={m['n']})"
    return f"{m['mean']:.3f} [{m['ci_low']:.3f},{m['ci_high']:.3f}]"


def _num(value: float) -> str:
    return f"{value:.3f}" if np.isfinite(value) else "-"
