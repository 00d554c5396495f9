"""What the method page documents, gathered from the code itself so the page cannot drift from it:
task specs (`tasks/**.yaml`, plus tasks recorded in result files), scorer declarations, metric definitions, and
the spoof detectors recorded by the results' detectability analyses."""

from __future__ import annotations

from rvcbench.leaderboard.validate import LoadedResult


def method_inputs(results: list[LoadedResult]) -> tuple[list[dict], dict, list[dict], dict, list[dict]]:
    from rvcbench.leaderboard.analyses import detectors_of
    from rvcbench.scoring.registry import PROFILES, SCORERS
    from rvcbench.summary import known_metrics
    from rvcbench.tasks import discover_tasks, load_task

    metas = [SCORERS.get(n).meta for n in sorted({n for p in PROFILES.values() for n in p})]
    metrics = dict(known_metrics(metas))
    scorers = {(m.name, m.version): {"name": m.name, "version": m.version, "model": m.model,
                                     "metrics": [x.name for x in m.metrics], "settings": m.settings} for m in metas}
    specs = {}
    for name, path in discover_tasks().items():
        task = load_task(path, set(metrics))
        specs[name] = {"name": name, "family": task.family, "applies_to": task.applies_to,
                       "description": task.description, "metrics": list(task.metrics),
                       "conditions": [{"name": c.name, "steps": [s.as_dict() for s in c.steps]}
                                      for c in task.conditions],
                       "source": f"tasks/{task.family}/{path.name}"}
    for result in results:
        for s in result.data["scorers"]:
            scorers.setdefault((str(s.get("name")), str(s.get("version"))),
                               {"name": str(s.get("name")), "version": str(s.get("version")),
                                "model": str(s.get("model", "")), "metrics": [str(x) for x in s.get("metrics", [])],
                                "settings": s.get("settings", {})})
        for name, m in result.data["summary"]["metrics"].items():
            if isinstance(m, dict):
                metrics.setdefault(name, (bool(m.get("higher_is_better", True)), str(m.get("description", ""))))
        summaries = result.data["summary"].get("tasks", {})
        for name, task in result.data["tasks"].items():
            if name in specs or not isinstance(task, dict):
                continue
            specs[name] = {"name": name, "family": str(task.get("family", "")),
                           "applies_to": str(task.get("applies_to", "")),
                           "description": str(summaries.get(name, {}).get("description", "")),
                           "metrics": [str(m) for m in task.get("metrics", [])],
                           "conditions": [{"name": c, "steps": steps if isinstance(steps, list) else []}
                                          for c, steps in task.get("conditions", {}).items()],
                           "source": f"recorded in result {result.folder.name}"}
    return list(specs.values()), metrics, sorted(scorers.values(), key=lambda s: (s["name"], s["version"])), \
        dict(PROFILES), detectors_of(results)
