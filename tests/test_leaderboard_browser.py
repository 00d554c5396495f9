"""End to end in a real headless browser (Debian's chromium via Playwright): the built site opened from disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fixtures.leaderboard.fast_scorer import EVIL_NAME, PROFILE, fast_profile, forge_result, make_runs

from rvcbench.leaderboard.results import add_run
from rvcbench.leaderboard.site import build_site
from rvcbench.runner import RunConfig, run_benchmark

CHROMIUM = Path("/usr/bin/chromium")
DETECT_MODEL = "oracle-detect"  # the oracle's detectability run, renamed so it does not replace the scored one
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                "(apt-get install chromium; .ci/run installs it)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lb-browser")
    with fast_profile():
        runs = make_runs(root / "runs")
        results = root / "results"
        scored = add_run(runs["scored"], results).folder
        add_run(runs["unscored"], results)
        forge_result(scored, results / "evil")
        run_benchmark(RunConfig(model="oracle", task="detectability", limit=4, profile=PROFILE),
                      root / "runs" / "detect", progress=False)  # with a detectability analysis (EER 0.5)
        forge_result(add_run(root / "runs" / "detect", root / "detect").folder, results / "detect", DETECT_MODEL)
        build_site(results, root / "site")
    shutil.rmtree(root / "runs")
    return root / "site"


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("dialog", lambda d: problems.append(f"dialog opened: {d.message}"))
    page.on("request", lambda r: problems.append(f"request off disk: {r.url}") if not r.url.startswith("file:")
            else None)
    yield page
    page.close()
    assert problems == []


def select_ranking(page, contains: str) -> None:
    """Pick the ranking (profile · data · pair set) whose label contains `contains`."""
    values = page.locator("#profile option").evaluate_all("os => os.map(o => o.value)")
    page.select_option("#profile", next(v for v in values if contains in v))


def overview_sims(page) -> list[float]:
    section = page.locator("section.profile:not([hidden])")
    return [float(v) for v in section.locator("table.overview tbody tr td:nth-child(3)").evaluate_all(
        "cells => cells.map(c => c.dataset.v)")]


def test_overview_sorts_switches_profile_and_shows_the_injected_name_as_text(site: Path, page, tmp_path: Path) -> None:
    page.goto((site / "index.html").as_uri())
    visible = page.locator("section.profile:not([hidden])")
    assert visible.get_attribute("data-profile").startswith("lbtest · demo · 3 pairs (")
    assert visible.locator("table.overview tbody tr").count() == 2  # oracle, the forged name; 4-pair run apart
    evil = visible.locator("tbody th a", has_text=EVIL_NAME)
    assert evil.count() == 1 and evil.inner_text() == EVIL_NAME  # rendered as text, never run
    assert page.evaluate("document.querySelectorAll('main script').length") == 0
    sim = visible.locator("table.overview thead th", has_text="SIM")
    sim.locator("button").click()
    assert sim.get_attribute("aria-sort") == "descending" and overview_sims(page) == sorted(overview_sims(page),
                                                                                            reverse=True)
    sim.locator("button").focus()
    page.keyboard.press("Enter")  # keyboard sorting
    assert sim.get_attribute("aria-sort") == "ascending" and overview_sims(page) == sorted(overview_sims(page))
    select_ranking(page, "none · ")
    assert page.locator("section.profile:not([hidden])").get_attribute("data-profile").startswith("none · demo")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # wide tables scroll inside their box
    page.screenshot(path=str(tmp_path / "overview-phone.png"), full_page=True)
    assert (tmp_path / "overview-phone.png").stat().st_size > 10_000


def test_model_page_has_audio_players_and_plots(site: Path, page, tmp_path: Path) -> None:
    page.goto((site / "index.html").as_uri())
    page.locator("section.profile:not([hidden]) tbody a", has_text="oracle").first.click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == "oracle"
    players = page.locator("figure.example audio")
    assert players.count() == 12  # 2 examples × 2 tasks × (prompt, clone, target)
    duration = players.first.evaluate(
        "a => new Promise(ok => { a.addEventListener('loadedmetadata', () => ok(a.duration)); a.load(); })")
    assert 0.5 < duration <= 8.0  # the FLAC file is there and the browser decodes it
    assert page.locator("svg.plot").count() == 2  # per task, one curve per scored metric (this profile: SIM)
    assert page.locator("svg.plot circle").count() > 10
    page.screenshot(path=str(tmp_path / "model.png"), full_page=True)


def test_robustness_page_has_heatmaps_and_curves(site: Path, page) -> None:
    page.goto((site / "robustness.html").as_uri())
    visible = page.locator("section.profile:not([hidden])")
    assert visible.locator("table.heatmap:not(.detectability)").count() == 2  # one per task of the 3-pair runs
    assert visible.locator("table.heatmap td.heat").count() > 0
    assert visible.locator("table.heatmap th a", has_text=EVIL_NAME).count() == 2
    assert visible.locator("svg.plot").count() >= 2
    select_ranking(page, "4 pairs")  # the detectability run, on 4 pairs, is its own ranking
    visible = page.locator("section.profile:not([hidden])")
    eer = visible.locator("table.heatmap.detectability")
    assert eer.count() == 1 and eer.locator("caption").inner_text().count("Higher EER = harder to detect") == 1
    assert eer.locator("tbody tr").count() == 1 and eer.locator("td.heat.h10").count() == 5  # 0.5: the blue end


def test_model_page_shows_the_detectability_table(site: Path, page) -> None:
    page.goto((site / "index.html").as_uri())
    select_ranking(page, "4 pairs")
    page.locator("section.profile:not([hidden]) tbody a", has_text=DETECT_MODEL).click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == DETECT_MODEL
    table = page.locator("table.detectability")
    assert table.count() == 1 and table.is_visible()
    assert "0.5 = undetectable" in table.locator("caption").inner_text()
    headers = table.locator("thead th").all_inner_texts()
    assert headers[:4] == ["Condition", "EER [95% CI]", "ΔEER vs clean [95% CI]", "Bona fide"]
    rows = table.locator("tbody tr")
    assert rows.count() == 5
    clean = [" ".join(t.split()) for t in rows.nth(0).locator("th, td").all_inner_texts()]  # the CI wraps below
    assert clean[:3] == ["clean", "0.500 [0.500, 0.500]", "–"] and clean[3:6] == ["4", "4", "2"]
    assert " ".join(rows.nth(4).locator("td").nth(1).inner_text().split()) == "0.000 [0.000, 0.000]"  # ΔEER
    assert "lfcc_gmm" in page.locator("#detectability-detectability + p").inner_text()


def test_compare_page_shows_the_matrices_with_hover_numbers(site: Path, page, tmp_path: Path) -> None:
    page.goto((site / "index.html").as_uri())
    page.locator("nav a", has_text="Compare").click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text().startswith("Is model A really better")
    visible = page.locator("section.profile:not([hidden])")
    assert visible.get_attribute("data-profile").startswith("lbtest · demo · 3 pairs (")
    matrix = visible.locator("table.matrix")
    assert matrix.count() == 3  # SIM (clean), the input family and the output family
    first = matrix.first
    assert first.locator("thead th a", has_text=EVIL_NAME).count() == 1  # the injected name, as text
    cells = first.locator("td.vs:not(.self)")
    assert cells.count() == 2 and set(cells.all_inner_texts()) == {"tie"}  # the forged copy has the same table
    title = cells.first.get_attribute("title")
    assert " − " in title and "95% CI [" in title and "Holm over 1 test" in title and "n = 3 pairs" in title
    select_ranking(page, "4 pairs")  # one model alone in its ranking
    assert "Only one model" in page.locator("section.profile:not([hidden])").inner_text()
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
