"""A paper's published numbers, stored once as reference data (`protocols/published/<name>.yaml`) with their source.

Each table has named columns and one row per model (`values` in column order, null where the paper has none).
`rvcbench paper` prints them; the leaderboard shows them as "published" rows, ranked together with runs only
when the run's scorer profile is the table's `scorer_profile`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from rvcbench.errors import RvcbenchError, UnknownNameError


class PublishedError(RvcbenchError):
    """A published-numbers file is malformed; the message names the file and the key."""


def published_dir() -> Path:
    from rvcbench.protocols import protocols_dir

    return protocols_dir() / "published"


def load_published_tables(name: str, root: Path | None = None) -> dict:
    """The validated reference data: {name, source, scorer_profile, scorers, tables: {table: {...}}}."""
    path = (root or published_dir()) / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (root or published_dir()).glob("*.yaml"))
        raise UnknownNameError(f"no published numbers {name!r} ({path}); known: {', '.join(known) or '(none)'}")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PublishedError(f"{path}: not valid YAML: {exc}") from exc
    for key in ("name", "source", "scorer_profile", "tables"):
        if not isinstance(spec, dict) or key not in spec:
            raise PublishedError(f"{path}: key {key!r} missing")
    for table_name, table in spec["tables"].items():
        where = f"{path}: tables.{table_name}"
        if not isinstance(table, dict) or not isinstance(table.get("columns"), dict) or not table.get("rows"):
            raise PublishedError(f"{where}: a table has `columns` (a mapping) and `rows` (a list)")
        width = len(table["columns"])
        for i, row in enumerate(table["rows"]):
            values = row.get("values") if isinstance(row, dict) else None
            if not isinstance(values, list) or len(values) != width or "model" not in row:
                raise PublishedError(f"{where}.rows[{i}]: needs `model` and {width} `values` (one per column)")
            if not all(v is None or isinstance(v, (int, float)) for v in values):
                raise PublishedError(f"{where}.rows[{i}]: values are numbers or null")
    spec["path"] = str(path)
    return spec


def table_rows(table: dict) -> list[dict]:
    """Rows as {model, key, <column>: value} mappings."""
    columns = list(table["columns"])
    return [{"model": r["model"], "key": r.get("key"), **dict(zip(columns, r["values"], strict=True))}
            for r in table["rows"]]


def format_published(published: dict, tables: list[str] | None = None) -> str:
    """The published tables as fixed-width text, each with its source."""
    source = published["source"]
    lines = [f"published numbers: {source.get('paper', '')}",
             f"source: {source.get('upstream', '')} {source.get('file', '')}".rstrip(),
             f"scorers ({published['scorer_profile']} profile): {published.get('scorers', '')}"]
    for name in tables or list(published["tables"]):
        table = published["tables"][name]
        columns = list(table["columns"])
        lines += ["", f"{name}: {table.get('title', '')}  [{table.get('section', '')}]"]
        head = f"{'model':<16}" + "".join(f"{c:>11}" for c in columns)
        lines += [head, "-" * len(head)]
        for row in table_rows(table):
            cells = "".join(f"{'—' if row[c] is None else format(row[c], 'g'):>11}" for c in columns)
            lines.append(f"{row['model']:<16}{cells}")
        notes = [f"  {c}: {spec['note']}" for c, spec in table["columns"].items()
                 if isinstance(spec, dict) and spec.get("note")]
        if notes:
            lines += ["column notes:", *notes]
    return "\n".join(lines)
