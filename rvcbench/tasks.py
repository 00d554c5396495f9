"""Task specs: `tasks/<family>/<name>.yaml` files that compose transforms into a grid of conditions.

    name: noisy-reference
    family: input                 # input | generation | output | perturbation
    description: ...
    applies_to: prompt            # what the transforms change: prompt | output | text | prompt_text | target
    metrics: [sim, wer_corpus]    # the metrics this task reports (headline first)
    group_by: [accent, gender]    # optional: per-group means of the metrics and the worst-group gap
    analysis: detectability       # optional: a set-level analysis after scoring (rvcbench/analyses), by name or
                                  # {name: detectability, detector: lfcc_gmm, folds: 5}
    conditions:
      - grid:                     # every combination of the listed values
          transform: add_noise
          params: {noise: [white, pink], snr_db: [20, 10]}
      - name: mp3-32kbps          # or one named chain of steps
        steps:
          - {transform: mp3, bitrate_kbps: 32}
      - grid:                     # a condition may change something else than the task's applies_to:
          transform: wrong_transcript
          applies_to: prompt_text

What each `applies_to` changes:
- prompt: the reference audio the model clones from (audio transforms);
- output: the clone, after synthesis, before scoring (audio transforms);
- text: the text the model reads, while WER keeps the intended text as reference (typos);
- prompt_text: the prompt's transcript, for models that read it (others: the condition is unavailable);
- target: what the model is asked to say, text and language, decided when the run is planned (hard texts,
  long-form, cross-lingual): WER is scored against the new text.

Every task also runs the `clean` condition (no transform), so degradation is measured on the same
pairs. A spec is validated completely before anything runs; every error names the file and the key.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rvcbench.analyses.spec import AnalysisSpec, AnalysisSpecError, parse_analysis
from rvcbench.errors import RvcbenchError, UnknownNameError

FAMILIES = ("input", "generation", "output", "perturbation")
APPLIES_TO = ("prompt", "output", "text", "prompt_text", "target")
KIND_OF = {"prompt": "audio", "output": "audio", "text": "text", "prompt_text": "text", "target": "target"}
CLEAN = "clean"
DEFAULT_TASK = "default"  # every pair, clean only: what `rvcbench run` does without --task
TOP_LEVEL_KEYS = {"name", "family", "description", "applies_to", "metrics", "conditions", "group_by", "analysis"}


class TaskSpecError(RvcbenchError):
    """A task spec is malformed; the message names the file, the key and the allowed values."""


@dataclass(frozen=True)
class Step:
    transform: str
    params: tuple[tuple[str, object], ...]  # sorted (name, value) pairs: hashable, ordered
    applies_to: str = ""  # what it changes, when not the task's `applies_to`

    def as_dict(self) -> dict:
        where = {"applies_to": self.applies_to} if self.applies_to else {}
        return {"transform": self.transform, **where, **dict(self.params)}

    def target(self, task_default: str) -> str:
        return self.applies_to or task_default


@dataclass(frozen=True)
class Condition:
    name: str
    steps: tuple[Step, ...] = ()

    @property
    def is_clean(self) -> bool:
        return not self.steps


@dataclass(frozen=True)
class Task:
    name: str
    family: str
    description: str
    applies_to: str
    metrics: tuple[str, ...]
    conditions: tuple[Condition, ...]  # `clean` first
    group_by: tuple[str, ...] = ()  # manifest columns (accent, gender): per-group means and worst-group gap
    source: Path | None = field(default=None, compare=False)
    analysis: AnalysisSpec | None = None  # a set-level analysis run after scoring (rvcbench.analyses)


def default_task() -> Task:
    return Task(DEFAULT_TASK, "input", "every pair of the dataset, clean", "prompt", (), (Condition(CLEAN),))


def tasks_dir() -> Path:
    """The checkout's `tasks/` folder, or the folder named by RVCBENCH_TASKS_PATH."""
    return Path(os.environ.get("RVCBENCH_TASKS_PATH") or Path(__file__).resolve().parents[1] / "tasks")


def discover_tasks(root: Path | None = None) -> dict[str, Path]:
    """Task name → spec file, from `<root>/<family>/<name>.yaml`."""
    root = root or tasks_dir()
    return {p.stem: p for p in sorted(root.glob("*/*.yaml"))}


def with_noise_dir(task: Task, noise_dir: Path) -> Task:
    """Add conditions mixing recordings from the user's noise folder (e.g. DEMAND, MUSAN) into the prompt,
    at every SNR the task's `add_noise` grid already uses; tasks without `add_noise` are unchanged."""
    snrs = sorted({dict(step.params)["snr_db"] for c in task.conditions for step in c.steps
                   if step.transform == "add_noise"}, reverse=True)
    extra = tuple(
        Condition(f"add_noise noise=file:{noise_dir.name} snr_db={snr}",
                  (Step("add_noise", (("noise", "file"), ("noise_dir", str(noise_dir)), ("snr_db", snr))),))
        for snr in snrs
    )
    return dataclasses.replace(task, conditions=task.conditions + extra)


def load_tasks(selection: str, known_metrics: set[str], root: Path | None = None,
               noise_dir: Path | None = None) -> list[Task]:
    """`default`, `all`, or comma-separated task names → validated tasks (plus `--noise-dir` conditions)."""
    if selection == DEFAULT_TASK:
        return [default_task()]
    available = discover_tasks(root)
    names = list(available) if selection == "all" else [n.strip() for n in selection.split(",") if n.strip()]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise UnknownNameError(f"unknown task(s) {', '.join(unknown)}; known: {', '.join(available) or '(none)'}")
    tasks = [load_task(available[n], known_metrics) for n in names]
    return [with_noise_dir(t, noise_dir) for t in tasks] if noise_dir else tasks


def select_conditions(tasks: list[Task], conditions: dict[str, list[str]] | None,
                      where: str = "conditions") -> list[Task]:
    """Keep only the named conditions (and `clean`, which every comparison needs) of the tasks named in
    `conditions`; other tasks keep all of theirs."""
    if not conditions:
        return tasks
    by_name = {t.name: t for t in tasks}
    unknown_tasks = [n for n in conditions if n not in by_name]
    if unknown_tasks:
        raise TaskSpecError(f"{where}: task(s) {unknown_tasks} are not part of this run ({list(by_name)})")
    out = []
    for task in tasks:
        names = conditions.get(task.name)
        if not names:
            out.append(task)
            continue
        known = [c.name for c in task.conditions]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise TaskSpecError(f"{where}: task {task.name} has no condition(s) {unknown}; known: {known}")
        wanted = {CLEAN, *names}
        out.append(dataclasses.replace(task, conditions=tuple(c for c in task.conditions if c.name in wanted)))
    return out


def load_task(path: Path, known_metrics: set[str]) -> Task:
    import rvcbench.transforms.library  # noqa: F401 — registers every transform
    from rvcbench.transforms.base import TRANSFORMS

    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TaskSpecError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(spec, dict):
        raise TaskSpecError(f"{path}: a task spec is a mapping with keys {sorted(TOP_LEVEL_KEYS)}")
    where = str(path)
    extra = set(spec) - TOP_LEVEL_KEYS
    if extra:
        raise TaskSpecError(f"{where}: unknown key(s) {sorted(extra)}; allowed: {sorted(TOP_LEVEL_KEYS)}")
    _require(spec.get("name") == path.stem, where, "name", f"must equal the file name {path.stem!r}")
    family = spec.get("family")
    _require(family in FAMILIES and path.parent.name == family, where, "family",
             f"{family!r} must be one of {list(FAMILIES)} and match the folder {path.parent.name!r}")
    applies_to = spec.get("applies_to")
    _require(applies_to in APPLIES_TO, where, "applies_to", f"{applies_to!r} not in {list(APPLIES_TO)}")
    metrics = spec.get("metrics") or []
    _require(isinstance(metrics, list) and metrics, where, "metrics", "a non-empty list")
    bad = [m for m in metrics if m not in known_metrics]
    _require(not bad, where, "metrics", f"unknown {bad}; allowed: {sorted(known_metrics)}")
    group_by = spec.get("group_by") or []
    _require(isinstance(group_by, list) and all(isinstance(g, str) for g in group_by), where, "group_by",
             "a list of manifest column names")
    raw_conditions = spec.get("conditions") or []
    _require(isinstance(raw_conditions, list) and (raw_conditions or group_by), where, "conditions",
             "a non-empty list (it may be empty only for a task with group_by)")
    conditions = [Condition(CLEAN)]
    for i, raw in enumerate(raw_conditions):
        key = f"conditions[{i}]"
        for condition in _expand(raw, f"{where}: {key}"):
            for step in condition.steps:
                _require(step.target(applies_to) in APPLIES_TO, where, f"{key}: applies_to",
                         f"{step.applies_to!r} not in {list(APPLIES_TO)}")
                _check_step(step, TRANSFORMS, KIND_OF[step.target(applies_to)], f"{where}: {key}")
            if condition.name in {c.name for c in conditions}:
                raise TaskSpecError(f"{where}: {key}: condition name {condition.name!r} appears twice")
            conditions.append(condition)
    return Task(spec["name"], family, str(spec.get("description", "")).strip(), applies_to, tuple(metrics),
                tuple(conditions), tuple(group_by), source=path, analysis=_analysis(spec, where))


def _analysis(spec: dict, where: str) -> AnalysisSpec | None:

    if "analysis" not in spec:
        return None
    try:
        return parse_analysis(spec["analysis"])
    except AnalysisSpecError as exc:
        raise TaskSpecError(f"{where}: key 'analysis': {exc}") from exc


def _require(ok: bool, where: str, key: str, message: str) -> None:
    if not ok:
        raise TaskSpecError(f"{where}: key {key!r}: {message}")


def _expand(raw: object, where: str) -> list[Condition]:
    if not isinstance(raw, dict) or not ({"grid"} == set(raw) or {"name", "steps"} == set(raw)):
        raise TaskSpecError(f"{where}: a condition is either {{grid: {{transform, params}}}} or {{name, steps}}")
    if "grid" in raw:
        grid = raw["grid"]
        if not isinstance(grid, dict) or set(grid) - {"transform", "params", "applies_to"} or "transform" not in grid:
            raise TaskSpecError(f"{where}: grid takes keys transform, params and (optionally) applies_to")
        params = grid.get("params") or {}
        names = sorted(params)
        values = [v if isinstance(v, list) else [v] for v in (params[n] for n in names)]
        out = []
        for combo in itertools.product(*values):
            step = Step(grid["transform"], tuple(zip(names, combo, strict=True)), str(grid.get("applies_to", "")))
            label = " ".join(f"{n}={v}" for n, v in step.params)
            out.append(Condition(f"{grid['transform']} {label}".strip(), (step,)))
        return out
    steps = raw["steps"]
    if not isinstance(steps, list) or not steps or not all(isinstance(s, dict) and "transform" in s for s in steps):
        raise TaskSpecError(f"{where}: steps is a list of {{transform: NAME, <param>: value}}")
    return [Condition(str(raw["name"]), tuple(
        Step(s["transform"], tuple(sorted((k, v) for k, v in s.items() if k not in ("transform", "applies_to"))),
             str(s.get("applies_to", ""))) for s in steps))]


def _check_step(step: Step, transforms: dict, expected_kind: str, where: str) -> None:
    spec = transforms.get(step.transform)
    if spec is None:
        allowed = sorted(n for n, t in transforms.items() if t.kind == expected_kind)
        raise TaskSpecError(f"{where}: unknown transform {step.transform!r}; allowed: {allowed}")
    if spec.kind != expected_kind:
        raise TaskSpecError(f"{where}: transform {step.transform!r} changes {spec.kind}, not {expected_kind}")
    unknown = [k for k, _ in step.params if k not in spec.parameters]
    if unknown:
        raise TaskSpecError(f"{where}: transform {step.transform!r} has no parameter(s) {unknown}; "
                            f"allowed: {list(spec.parameters)}")
