"""Published numbers on the site: the paper's tables on their own page, and its leaderboard rows beside the runs.

A published row joins a profile's ranking only when that profile is the one the paper's numbers were made with
and every run in it is on the table's dataset; otherwise the rows are shown beside the ranking, labelled, and
never sorted in with it. No I/O here beyond reading the stored reference data.
"""

from __future__ import annotations

from rvcbench.leaderboard.aggregate import Column, Entry
from rvcbench.leaderboard.render import macro, render
from rvcbench.published import table_rows

LEADERBOARD_TABLE = "leaderboard"
TRAILING_CELLS = 3  # the ranking's n, failures and cost columns, which a paper does not have


def published_sets() -> list[dict]:
    """Every protocol's published numbers stored in this checkout."""
    from rvcbench.protocols import discover_protocols, load_protocol, load_published

    out = []
    for name in discover_protocols():
        protocol = load_protocol(name)
        if protocol.published:
            out.append(load_published(protocol.published, protocol.path))
    return out


def comparable(published: dict, profile: str, rows: list[Entry]) -> bool:
    """Ranked together only with the paper's scorers and on the paper's data."""
    data = published["tables"][LEADERBOARD_TABLE].get("data")
    return (published["scorer_profile"] == profile and bool(rows)
            and all(r.data["dataset"]["name"] == data for r in rows))


def ranked_views(published: dict, columns: list[Column]) -> list[dict]:
    """Published leaderboard rows for a ranking whose profile matches: values where the metric is the same."""
    table = published["tables"][LEADERBOARD_TABLE]
    by_metric = {spec["metric"]: name for name, spec in table["columns"].items()}
    return [{"model": row["model"], "data": table.get("data", ""),
             "values": [row.get(by_metric[c.key]) if c.key in by_metric else None for c in columns]}
            for row in table_rows(table)]


def ranked_rows(published: dict, columns: list[Column]) -> str:
    """The rows of `ranked_views` as HTML, with the ranking's n, failures and cost cells empty."""
    row = macro("fragments.html", "published_row")
    return "".join(row(p, TRAILING_CELLS) for p in ranked_views(published, columns))


def beside_view(published: dict, profile: str) -> dict:
    """The paper's leaderboard beside a profile's ranking that it cannot be ranked with, and why."""
    table = published["tables"][LEADERBOARD_TABLE]
    why = (f"made with the {published['scorer_profile']} scorers on {table.get('data', '')}; this ranking uses "
           f"profile {profile}: shown beside, not ranked together")
    return {"title": table.get("title", ""), "why": why, "paper": published["source"].get("paper", ""),
            "upstream": published["source"].get("upstream", ""), "name": published["name"],
            "table": plain_view(table)}


def plain_view(table: dict) -> dict:
    columns = list(table["columns"])
    return {"columns": columns, "rows": [{"model": r["model"], "values": [r[c] for c in columns]}
                                         for r in table_rows(table)]}


def paper_page(sets: list[dict]) -> str:
    views = []
    for published in sets:
        tables = [{"name": name, "title": table.get("title", name), "section": table.get("section", ""),
                   "table": plain_view(table),
                   "notes": [(c, spec["note"]) for c, spec in table["columns"].items()
                             if isinstance(spec, dict) and spec.get("note")]}
                  for name, table in published["tables"].items()]
        views.append({"name": published["name"], "source": published["source"],
                      "scorer_profile": published["scorer_profile"], "scorers": published.get("scorers", ""),
                      "tables": tables})
    return render("paper.html", title="Published", sets=views, current="paper.html")
