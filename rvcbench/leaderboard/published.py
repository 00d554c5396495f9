"""Published numbers on the site: the paper's tables on their own page, and its leaderboard rows beside the runs.

A published row joins a profile's ranking only when that profile is the one the paper's numbers were made with
and every run in it is on the table's dataset; otherwise the rows are shown beside the ranking, labelled, and
never sorted in with it. No I/O here beyond reading the stored reference data.
"""

from __future__ import annotations

from rvcbench.leaderboard.aggregate import Column, Entry
from rvcbench.leaderboard.render import e, page, scroll_table
from rvcbench.published import table_rows

LEADERBOARD_TABLE = "leaderboard"


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


def ranked_rows(published: dict, columns: list[Column]) -> str:
    """Published leaderboard rows for a ranking table whose profile matches: cells where the metric is the same."""
    table = published["tables"][LEADERBOARD_TABLE]
    by_metric = {spec["metric"]: name for name, spec in table["columns"].items()}
    lines = []
    for row in table_rows(table):
        cells = "".join(_value_cell(row.get(by_metric[c.key]) if c.key in by_metric else None) for c in columns)
        lines.append(f'<tr class="published"><th scope="row" data-v="{e(row["model"])}">{e(row["model"])} '
                     f'<span class="badge">published</span></th><td data-v="{e(table.get("data", ""))}">'
                     f'{e(table.get("data", ""))}</td>{cells}<td class="num" data-v="">–</td>'
                     '<td class="num" data-v="">–</td></tr>')
    return "".join(lines)


def beside_table(published: dict, profile: str) -> str:
    """The paper's leaderboard beside a profile's ranking that it cannot be ranked with, and why."""
    table = published["tables"][LEADERBOARD_TABLE]
    why = (f"made with the {published['scorer_profile']} scorers on {table.get('data', '')}; this ranking uses "
           f"profile {profile}: shown beside, not ranked together")
    return (f'<h3>Published: {e(table.get("title", ""))}</h3><p class="note">{e(why)}. Source: '
            f'{e(published["source"].get("paper", ""))}; {e(published["source"].get("upstream", ""))}. '
            '<a href="paper.html">All published tables</a>.</p>'
            + scroll_table(_plain_table(table, f"published ({published['name']})"), "published leaderboard"))


def paper_page(sets: list[dict]) -> str:
    body = ["<h1>Published numbers</h1>",
            "<p>Numbers as the papers print them, stored once in <code>protocols/published/</code> with their "
            "source; shown by <code>rvcbench paper</code>. They are ranked with runs only when a run uses the same "
            "scorer profile on the same data.</p>"]
    if not sets:
        body.append('<p class="empty">No published numbers are stored.</p>')
    for published in sets:
        source = published["source"]
        body.append(f"<h2>{e(published['name'])}</h2><p>{e(source.get('paper', ''))}. Source: "
                    f"<code>{e(source.get('upstream', ''))}</code> {e(source.get('file', ''))}. Scorer profile: "
                    f"<code>{e(published['scorer_profile'])}</code>. Scorers: {e(published.get('scorers', ''))}</p>")
        for name, table in published["tables"].items():
            notes = "".join(f"<li>{e(c)}: {e(spec['note'])}</li>" for c, spec in table["columns"].items()
                            if isinstance(spec, dict) and spec.get("note"))
            body.append(f'<h3 id="{e(name)}">{e(table.get("title", name))}</h3>'
                        f'<p class="note">{e(table.get("section", ""))}</p>'
                        + scroll_table(_plain_table(table, name), name)
                        + (f"<ul class=\"note\">{notes}</ul>" if notes else ""))
    return page("Published", "".join(body), current="paper.html")


def _plain_table(table: dict, caption: str) -> str:
    columns = list(table["columns"])
    head = '<th scope="col">Model</th>' + "".join(f'<th scope="col">{e(c)}</th>' for c in columns)
    body = "".join(f'<tr class="published"><th scope="row">{e(r["model"])}</th>'
                   + "".join(_value_cell(r[c]) for c in columns) + "</tr>" for r in table_rows(table))
    return (f'<table class="published"><caption>{e(caption)}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _value_cell(value: float | None) -> str:
    if value is None:
        return '<td class="num" data-v="">–</td>'
    return f'<td class="num" data-v="{value!r}">{e(format(value, "g"))}</td>'
