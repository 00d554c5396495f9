"""Protocols: versioned YAML files (`protocols/<name>.yaml`) that map a benchmark's evaluations to data and tasks.

    name: rvcbench-v2
    version: 2
    description: ...
    source: {paper: "arXiv:2602.00443v2", upstream: "github.com/Nanboy-Ronan/RVCBench@b47908d"}
    reference_profile: rvcbench-paper     # the scorers the published numbers were made with
    published: rvcbench-v2                # protocols/published/<name>.yaml: the paper's numbers, if any
    evaluations:
      - name: noisy-prompts-10db
        family: input                     # input | generation | output | perturbation
        description: ...
        data: rvcbench:Background_noise:noisy   # `demo`, or `rvcbench:<Config>[:<variant>]`
        task: default                     # `default` (the pairs, clean) or a task of tasks/
        conditions: [...]                 # optional: a subset of the task's conditions (clean always runs)
        metrics: [sim, wer_corpus]        # what the evaluation's table shows
        pairs: all                        # or a subset: `per_speaker=1`, `speakers=5` (rvcbench.data.subsets)
        published: {table: cross_dataset, column: BG-noise}   # optional: the paper's numbers to set beside

A v3 of a benchmark is a new file, not new code. A protocol is validated completely before anything runs;
every error names the file and the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from rvcbench.errors import RvcbenchError, UnknownNameError
from rvcbench.tasks import DEFAULT_TASK, FAMILIES

TOP_LEVEL_KEYS = {"name", "version", "description", "source", "reference_profile", "published", "evaluations"}
EVALUATION_KEYS = {"name", "family", "description", "data", "task", "conditions", "metrics", "pairs", "published"}


class ProtocolError(RvcbenchError):
    """A protocol file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class PublishedRef:
    table: str
    column: str | None = None  # None: the table's own metric columns (the leaderboard)


@dataclass(frozen=True)
class Evaluation:
    name: str
    family: str
    description: str
    data: str
    task: str
    conditions: tuple[str, ...] | None
    metrics: tuple[str, ...]
    pairs: str
    published: PublishedRef | None = None


@dataclass(frozen=True)
class Protocol:
    name: str
    version: int
    description: str
    source: dict
    reference_profile: str | None
    published: str | None
    evaluations: tuple[Evaluation, ...]
    path: Path

    def evaluation(self, name: str) -> Evaluation:
        for e in self.evaluations:
            if e.name == name:
                return e
        raise UnknownNameError(f"protocol {self.name} has no evaluation {name!r}; known: "
                               f"{', '.join(e.name for e in self.evaluations)}")

    def select(self, names: str | None) -> tuple[Evaluation, ...]:
        """`None` → every evaluation; `a,b` → those, in the protocol's order."""
        if not names:
            return self.evaluations
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        for name in wanted:
            self.evaluation(name)
        return tuple(e for e in self.evaluations if e.name in wanted)


def protocols_dir() -> Path:
    """The checkout's `protocols/` folder, or the folder named by RVCBENCH_PROTOCOLS_PATH."""
    return Path(os.environ.get("RVCBENCH_PROTOCOLS_PATH") or Path(__file__).resolve().parents[1] / "protocols")


def discover_protocols(root: Path | None = None) -> dict[str, Path]:
    return {p.stem: p for p in sorted((root or protocols_dir()).glob("*.yaml"))}


def load_protocol(name_or_path: str, root: Path | None = None) -> Protocol:
    """A protocol by name (`rvcbench-v2`) or path, validated against the tasks, metrics and datasets known here."""
    path = Path(name_or_path)
    if not (path.suffix == ".yaml" and path.is_file()):
        available = discover_protocols(root)
        if name_or_path not in available:
            raise UnknownNameError(f"unknown protocol {name_or_path!r}; known: {', '.join(available) or '(none)'}")
        path = available[name_or_path]
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProtocolError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(spec, dict):
        raise ProtocolError(f"{path}: a protocol is a mapping with keys {sorted(TOP_LEVEL_KEYS)}")
    extra = set(spec) - TOP_LEVEL_KEYS
    _require(not extra, path, "(top level)", f"unknown key(s) {sorted(extra)}; allowed: {sorted(TOP_LEVEL_KEYS)}")
    _require(spec.get("name") == path.stem, path, "name", f"must equal the file name {path.stem!r}")
    _require(isinstance(spec.get("version"), int), path, "version", "an integer")
    published_name = spec.get("published")
    published = load_published(published_name, path) if published_name else None
    raw = spec.get("evaluations")
    _require(isinstance(raw, list) and raw, path, "evaluations", "a non-empty list")
    checker = _Checker(path, published)
    evaluations = tuple(checker.evaluation(i, e) for i, e in enumerate(raw))
    names = [e.name for e in evaluations]
    twice = sorted({n for n in names if names.count(n) > 1})
    _require(not twice, path, "evaluations", f"name(s) {twice} appear twice")
    reference = spec.get("reference_profile")
    _require(reference is None or isinstance(reference, str), path, "reference_profile", "a profile name")
    return Protocol(spec["name"], spec["version"], str(spec.get("description", "")).strip(),
                    dict(spec.get("source") or {}), reference, published_name, evaluations, path)


def load_published(name: str, protocol_path: Path | None = None) -> dict:
    """The published numbers of a protocol: `protocols/published/<name>.yaml` (see rvcbench.published)."""
    from rvcbench.published import load_published_tables

    try:
        return load_published_tables(name, protocol_path.parent / "published" if protocol_path else None)
    except RvcbenchError as exc:
        where = f"{protocol_path}: key 'published': " if protocol_path else ""
        raise ProtocolError(f"{where}{exc}") from exc


class _Checker:
    """Validates evaluations against what this installation knows: tasks, their conditions, metrics, datasets."""

    def __init__(self, path: Path, published: dict | None) -> None:
        from rvcbench.scoring.registry import PROFILES, SCORERS
        from rvcbench.summary import known_metrics
        from rvcbench.tasks import discover_tasks

        self.path = path
        self.published = published
        metas = [SCORERS.get(n).meta for n in sorted({n for p in PROFILES.values() for n in p})]
        self.known_metrics = set(known_metrics(metas))
        self.task_files = discover_tasks()
        self._tasks: dict = {}

    def task(self, name: str):
        from rvcbench.tasks import load_task

        if name not in self._tasks:
            self._tasks[name] = load_task(self.task_files[name], self.known_metrics)
        return self._tasks[name]

    def evaluation(self, index: int, raw: object) -> Evaluation:
        where = f"evaluations[{index}]"
        _require(isinstance(raw, dict), self.path, where, f"a mapping with keys {sorted(EVALUATION_KEYS)}")
        assert isinstance(raw, dict)
        name = raw.get("name")
        where = f"evaluations[{index}] ({name})" if name else where
        extra = set(raw) - EVALUATION_KEYS
        _require(not extra, self.path, where, f"unknown key(s) {sorted(extra)}; allowed: {sorted(EVALUATION_KEYS)}")
        _require(isinstance(name, str) and name.strip(), self.path, f"{where}: name", "a non-empty string")
        family = raw.get("family")
        _require(family in FAMILIES, self.path, f"{where}: family", f"{family!r} not in {list(FAMILIES)}")
        data = raw.get("data")
        _require(isinstance(data, str), self.path, f"{where}: data", "`demo` or `rvcbench:<Config>[:<variant>]`")
        self._check_data(data, f"{where}: data")
        task = raw.get("task", DEFAULT_TASK)
        known_tasks = [DEFAULT_TASK, *self.task_files]
        _require(task in known_tasks, self.path, f"{where}: task", f"unknown task {task!r}; known: {known_tasks}")
        conditions = raw.get("conditions")
        if conditions is not None:
            _require(task != DEFAULT_TASK and isinstance(conditions, list) and conditions, self.path,
                     f"{where}: conditions", "a non-empty list of condition names of the evaluation's task")
            known = [c.name for c in self.task(task).conditions]
            unknown = [c for c in conditions if c not in known]
            _require(not unknown, self.path, f"{where}: conditions",
                     f"task {task} has no condition(s) {unknown}; known: {known}")
        metrics = raw.get("metrics")
        _require(isinstance(metrics, list) and metrics, self.path, f"{where}: metrics", "a non-empty list")
        bad = [m for m in metrics if m not in self.known_metrics]
        _require(not bad, self.path, f"{where}: metrics", f"unknown {bad}; allowed: {sorted(self.known_metrics)}")
        pairs = str(raw.get("pairs", "all"))
        from rvcbench.data.subsets import PairSubsetError, parse_pairs

        try:
            parse_pairs(pairs)
        except PairSubsetError as exc:
            raise ProtocolError(f"{self.path}: key '{where}: pairs': {exc}") from exc
        return Evaluation(name, family, str(raw.get("description", "")).strip(), data, task,
                          tuple(conditions) if conditions else None, tuple(metrics), pairs,
                          self._published_ref(raw.get("published"), f"{where}: published"))

    def _check_data(self, data: str, where: str) -> None:
        from rvcbench.data.hub import HF_PREFIX, parse_hub_spec

        if data == "demo":
            return
        _require(data.startswith(HF_PREFIX), self.path, where,
                 f"{data!r}: a protocol names its data as `demo` or `{HF_PREFIX}<Config>[:<variant>]`")
        try:
            parse_hub_spec(data)
        except UnknownNameError as exc:
            raise ProtocolError(f"{self.path}: key '{where}': {exc}") from exc

    def _published_ref(self, raw: object, where: str) -> PublishedRef | None:
        if raw is None:
            return None
        _require(isinstance(raw, dict) and set(raw) <= {"table", "column"} and "table" in raw, self.path, where,
                 "{table: NAME, column: NAME (optional)}")
        assert isinstance(raw, dict)
        _require(self.published is not None, self.path, where, "the protocol names no `published` file")
        assert self.published is not None
        tables = self.published["tables"]
        _require(raw["table"] in tables, self.path, where, f"unknown table {raw['table']!r}; known: {list(tables)}")
        column = raw.get("column")
        columns = tables[raw["table"]]["columns"]
        _require(column is None or column in columns, self.path, where,
                 f"table {raw['table']} has no column {column!r}; known: {list(columns)}")
        return PublishedRef(raw["table"], column)


def _require(ok: bool, path: Path, key: str, message: str) -> None:
    if not ok:
        raise ProtocolError(f"{path}: key {key!r}: {message}")
