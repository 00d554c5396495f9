"""The site's one Jinja2 environment and the small filters its templates use (number formatting, CI hover text).

Templates live in `templates/`. Autoescaping is on for every .html template and undefined names fail the build
(StrictUndefined), so a string from a result file is always escaped and a typo never renders as an empty cell.
Links go through the `link` macro (templates/macros.html), which renders only http(s) URLs. The
Content-Security-Policy allows nothing but the site's own files. Nothing here marks text from a result file safe;
the only Markup built in Python is the SVG of rvcbench.leaderboard.plots, whose every string is html-escaped there.
"""

from __future__ import annotations

import json
import math

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from rvcbench.leaderboard.estimate import Estimate, number_or_nan
from rvcbench.leaderboard.schema import is_http_url

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "base-uri 'none'; form-action 'none'")
NAV = (("index.html", "Overview"), ("compare.html", "Compare"), ("robustness.html", "Robustness"),
       ("paper.html", "Published"), ("method.html", "Method"))


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if value != 0 and abs(value) < 10 ** -(digits - 1):
        return f"{value:.2e}"
    return f"{value:.{digits}f}" if abs(value) < 100 else f"{value:.1f}"


def tip(est: Estimate) -> str:
    return f"95% CI [{fmt(est.ci_low, 4)}, {fmt(est.ci_high, 4)}]; n={est.n}; failures={est.failures}"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("rvcbench.leaderboard", "templates"),
                      autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(fmt=fmt, tip=tip, pyrepr=repr, estimate=Estimate.of, number=number_or_nan,
                       tojson_sorted=lambda v: json.dumps(v, sort_keys=True))
    env.tests["http_url"] = is_http_url
    env.globals.update(csp=CSP, nav=NAV)
    return env


ENV = _environment()


def render(template: str, **context: object) -> str:
    """A whole page (a template extending base.html); `depth` folders below the site root (models/ pages: 1)."""
    depth = int(context.pop("depth", 0))  # type: ignore[call-overload]
    return ENV.get_template(template).render(root="../" * depth, current=context.pop("current", ""), **context)


def macro(template: str, name: str):
    """A macro of a template, callable from Python (fragments tests and other modules render on their own)."""
    return getattr(ENV.get_template(template).module, name)
