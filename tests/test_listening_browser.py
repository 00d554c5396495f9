"""The exported listening test in a real headless browser (Debian's chromium via Playwright), opened from disk:
it plays, records ratings, downloads the CSV, and `listen import` turns that file into the expected numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.listening.runs import make_listening_runs

from rvcbench.listening.export import export_test
from rvcbench.listening.report import import_ratings

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path("/tmp/listen-page.png")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                "(apt-get install chromium; .ci/run installs it)")


@pytest.fixture(scope="module")
def tests_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("listen-browser")
    runs = make_listening_runs(root / "runs", real=False)  # tests/test_listening.py uses a real run
    both = [runs["oracle"], runs["mumbler"]]
    return {"mos": export_test(both, root / "mos", design="mos", items=3, seed=1).out,
            "mushra": export_test(both, root / "mushra", design="mushra", items=2, seed=1).out,
            "abx": export_test(both, root / "abx", design="abx", items=2, seed=1).out}


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 900}, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("request", lambda r: problems.append(f"request off disk: {r.url}")
            if not r.url.startswith(("file:", "blob:")) else None)
    yield page
    context.close()
    assert problems == []


def start(page, folder: Path, listener: str) -> list[str]:
    """Open the test, enter the listener id, return the trial order the page drew for that listener."""
    page.goto((folder / "index.html").as_uri())
    assert page.locator("#intro").is_visible() and page.locator("#test").is_hidden()
    page.fill("#listener", listener)
    page.click("#start button[type=submit]")
    assert page.locator("#intro").is_hidden()
    return page.evaluate("document.body.dataset.order").split(",")


def visible_trial(page):
    trial = page.locator("section.trial:not([hidden])")
    assert trial.count() == 1
    return trial


def plays(audio) -> float:
    """Play a clip for a moment and return how far it got (seconds)."""
    return audio.evaluate("a => a.play().then(() => new Promise(ok => setTimeout(ok, 500)))"
                          ".then(() => { a.pause(); return a.currentTime; })")


def finish_and_download(page, tmp_path: Path) -> Path:
    assert page.locator("#done").is_visible()
    with page.expect_download() as download:
        page.click("#download")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    return path


def test_mos_page_plays_records_ratings_and_downloads_a_csv_that_imports(tests_dir: dict[str, Path], page,
                                                                         tmp_path: Path) -> None:
    folder = tests_dir["mos"]
    key = json.loads((folder / "test.json").read_text())
    order = start(page, folder, "ann")
    assert sorted(order) == sorted(t["id"] for t in key["trials"])
    for position, trial_id in enumerate(order):
        trial = visible_trial(page)
        assert trial.get_attribute("data-trial") == trial_id
        assert page.locator("#progress").inner_text() == f"Screen {position + 1} of {len(order)}"
        if position == 0:
            assert plays(trial.locator("audio")) > 0.1  # the WAV is there, the browser decodes and plays it
        assert page.locator("#next").is_disabled()  # no answer yet
        stimulus = key["stimuli"][trial.locator("fieldset").get_attribute("data-item")]
        value = 1 if stimulus["kind"] == "anchor" else 5 if stimulus["model"] == "oracle" else 2
        trial.locator(f"input[value='{value}']").check()
        page.click("#next")
    ratings = finish_and_download(page, tmp_path)
    assert ratings.name.startswith(f"ratings-{key['test_id']}-ann")
    header, *lines = ratings.read_text().splitlines()
    assert header == "listener,position,trial,item,design,rating,choice,check,seconds,time"
    assert len(lines) == len(order) and all(line.startswith("ann,") for line in lines)
    report = import_ratings([ratings], folder)
    assert report["listeners"] | {"dropped_listeners": []} == {
        "total": 1, "kept": 1, "dropped": 0, "max_failed_share": 0.15, "dropped_by_check": {},
        "dropped_listeners": []}
    scores = {row["run"]: (row["mean"], row["n_ratings"]) for row in report["scores"]}
    assert scores == {"oracle": (5.0, 3), "mumbler": (2.0, 3)}
    assert {row["predictor"] for row in report["correlations"]} == {"dnsmos_ovrl", "toy_mos"}


def test_the_order_follows_the_listener_id_reproducibly(tests_dir: dict[str, Path], page) -> None:
    first = start(page, tests_dir["mos"], "ann")
    assert start(page, tests_dir["mos"], "ann") == first
    assert start(page, tests_dir["mos"], "bob") != first


def test_mushra_page_rates_with_sliders_and_imports(tests_dir: dict[str, Path], page, tmp_path: Path) -> None:
    folder = tests_dir["mushra"]
    key = json.loads((folder / "test.json").read_text())
    levels = {"hidden_reference": 100, "low_anchor": 15}
    order = start(page, folder, "eve")
    for position, _ in enumerate(order):
        trial = visible_trial(page)
        assert trial.locator(".reference audio").count() == 1
        samples = trial.locator("li.stimulus")
        assert samples.count() == 4
        assert samples.locator(".label").all_inner_texts() == ["Sample 1", "Sample 2", "Sample 3", "Sample 4"]
        for index in range(samples.count()):
            sample = samples.nth(index)
            stimulus = key["stimuli"][sample.get_attribute("data-item")]
            assert page.locator("#next").is_disabled()  # every slider must be moved first
            sample.locator("input[type=range]").fill(
                str(levels.get(stimulus["kind"]) or (85 if stimulus["model"] == "oracle" else 30)))
        assert page.locator("#next").is_enabled()
        if position == 0:
            assert plays(trial.locator(".reference audio")) > 0.1
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        page.click("#next")
    report = import_ratings([finish_and_download(page, tmp_path)], folder)
    assert report["listeners"]["kept"] == 1
    scores = {row["run"]: (row["mean"], row["n_ratings"]) for row in report["scores"]}
    assert scores == {"oracle": (85, 2), "mumbler": (30, 2), "hidden reference": (100, 2),
                      "low anchor (3.5 kHz)": (15, 2)}
    assert SCREENSHOT.stat().st_size > 10_000


def test_abx_page_records_choices_and_the_catch_trial(tests_dir: dict[str, Path], page, tmp_path: Path) -> None:
    folder = tests_dir["abx"]
    key = json.loads((folder / "test.json").read_text())
    trials = {t["id"]: t for t in key["trials"]}
    for _ in start(page, folder, "gil"):
        trial = visible_trial(page)
        assert trial.locator(".choice .label").all_inner_texts() == ["A", "B"]
        answer = trials[trial.get_attribute("data-trial")]
        wanted = answer["expected"] or next(s for s in answer["stimuli"] if key["stimuli"][s]["model"] == "oracle")
        trial.locator(f".choice[data-item='{wanted}'] button.pick").click()
        assert trial.locator("button.pick[aria-pressed=true]").count() == 1
        page.click("#next")
    report = import_ratings([finish_and_download(page, tmp_path)], folder)
    assert report["listeners"]["kept"] == 1
    [row] = report["preferences"]
    assert (row["a"], row["b"], row["wins"], row["n"]) == ("oracle", "mumbler", 2, 2)
