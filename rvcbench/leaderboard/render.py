"""HTML building blocks shared by every page: the page shell, escaping, number cells, sortable tables.

Every string that comes from a result file goes through `e()` (html.escape, quotes included); links go through
`link()`, which renders only http(s) URLs. The Content-Security-Policy allows nothing but the site's own files.
"""

from __future__ import annotations

import math
from html import escape

from rvcbench.leaderboard.estimate import Estimate
from rvcbench.leaderboard.schema import is_http_url

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "base-uri 'none'; form-action 'none'")
NAV = (("index.html", "Overview"), ("robustness.html", "Robustness"), ("paper.html", "Published"),
       ("method.html", "Method"))


def e(value: object) -> str:
    return escape(str(value), quote=True)


def link(url: object, text: object) -> str:
    """An external link when `url` is http(s); otherwise the text alone (javascript:, data:, file: dropped)."""
    if not is_http_url(url):
        return e(text)
    return f'<a href="{e(str(url).strip())}" rel="noopener noreferrer nofollow">{e(text)}</a>'


def fmt(value: float, digits: int = 3) -> str:
    if not math.isfinite(value):
        return "–"
    if value != 0 and abs(value) < 10 ** -(digits - 1):
        return f"{value:.2e}"
    return f"{value:.{digits}f}" if abs(value) < 100 else f"{value:.1f}"


def tip(est: Estimate) -> str:
    return f"95% CI [{fmt(est.ci_low, 4)}, {fmt(est.ci_high, 4)}]; n={est.n}; failures={est.failures}"


def estimate_cell(est: Estimate | None) -> str:
    """A sortable cell: the mean, its CI beside it (and on hover), n and failures in the tooltip."""
    if est is None or not est.finite:
        return '<td class="num" data-v="">–</td>'
    return (f'<td class="num" data-v="{est.mean!r}" title="{e(tip(est))}">{fmt(est.mean)}'
            f'<span class="ci"> [{fmt(est.ci_low)}, {fmt(est.ci_high)}]</span></td>')


def sort_header(label: str, higher_is_better: bool | None, description: str = "", numeric: bool = True) -> str:
    """A column header whose button sorts the table (keyboard: Tab to it, Enter or Space)."""
    first = "descending" if higher_is_better else "ascending"
    arrow = "" if higher_is_better is None else (" ↑" if higher_is_better else " ↓")
    hint = f"{description} ({'higher' if higher_is_better else 'lower'} is better)" if higher_is_better is not None \
        else description
    kind = "num" if numeric else "text"
    return (f'<th scope="col" aria-sort="none" data-kind="{kind}" data-first="{first}" title="{e(hint)}">'
            f'<button type="button">{e(label)}{arrow}</button></th>')


def page(title: str, body: str, depth: int = 0, current: str = "") -> str:
    root = "../" * depth
    here = ' aria-current="page"'
    nav = " ".join(f'<a href="{root}{href}"{here if href == current else ""}>{e(text)}</a>' for href, text in NAV)
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{e(title)} · rvcbench leaderboard</title>"
        f'<link rel="stylesheet" href="{root}assets/site.css">'
        f'<script defer src="{root}assets/site.js"></script></head><body>'
        f'<header><a class="brand" href="{root}index.html">rvcbench</a><nav>{nav}</nav></header>'
        f"<main>{body}</main>"
        '<footer>Every number on this site is computed from result files under <code>leaderboard/results/</code>; '
        'each records the sha256 of its per-utterance table. Built by <code>rvcbench leaderboard build</code>.'
        "</footer></body></html>\n"
    )


def scroll_table(table_html: str, label: str) -> str:
    """Wide tables scroll sideways on a phone instead of squeezing the page."""
    return f'<div class="scroll" role="region" aria-label="{e(label)}" tabindex="0">{table_html}</div>'
