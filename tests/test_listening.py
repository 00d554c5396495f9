"""Listening tests: the statistics against hand cases and scipy, the exported page and key, the ratings import."""

from __future__ import annotations

import json
import math
import re
import shutil
from html import unescape
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fixtures.listening.ratings import write_ratings
from fixtures.listening.runs import PAIRS, make_listening_runs
from scipy import stats

from rvcbench.audio import load_audio
from rvcbench.listening import stimuli as dsp
from rvcbench.listening.errors import ListeningTestError, RatingsFileError
from rvcbench.listening.export import export_test
from rvcbench.listening.report import import_ratings
from rvcbench.listening.stats import pearson, preference, spearman, two_way_bootstrap_mean

# --- statistics -------------------------------------------------------------------------------------------------


def test_bootstrap_over_two_listeners_of_one_item_matches_the_hand_distribution() -> None:
    # listeners rate 1 and 3; resampling two listeners gives means 1, 2, 3 with probabilities 1/4, 1/2, 1/4
    estimate = two_way_bootstrap_mean(["a", "b"], ["i", "i"], [1.0, 3.0], resamples=4000, seed=0)
    assert estimate.mean == 2.0 and (estimate.ci_low, estimate.ci_high) == (1.0, 3.0)
    assert (estimate.n_ratings, estimate.n_listeners, estimate.n_items) == (2, 2, 1)


def test_bootstrap_of_constant_ratings_has_a_zero_width_interval() -> None:
    estimate = two_way_bootstrap_mean(list("aabb"), list("xyxy"), [4.0] * 4)
    assert (estimate.mean, estimate.ci_low, estimate.ci_high) == (4.0, 4.0, 4.0)


def test_bootstrap_with_one_listener_agrees_with_scipys_bootstrap_over_items() -> None:
    values = np.random.default_rng(3).normal(3.0, 1.0, 40)
    ours = two_way_bootstrap_mean(["only"] * 40, [f"i{k}" for k in range(40)], list(values), resamples=8000, seed=1)
    theirs = stats.bootstrap((values,), np.mean, n_resamples=8000, method="percentile", rng=1).confidence_interval
    assert ours.mean == pytest.approx(values.mean())
    assert ours.ci_low == pytest.approx(theirs.low, abs=0.05) and ours.ci_high == pytest.approx(theirs.high, abs=0.05)


def test_bootstrap_widens_when_listeners_disagree_in_level() -> None:
    rng = np.random.default_rng(0)
    items = [f"i{k}" for k in range(20)]
    base = rng.normal(3, 0.3, 20)
    offsets = {"harsh": -1.0, "mild": 1.0, "mid": 0.0, "x": 0.5, "y": -0.5}
    listeners, item_ids, ratings = [], [], []
    for listener, offset in offsets.items():
        listeners += [listener] * 20
        item_ids += items
        ratings += list(base + offset)
    two_way = two_way_bootstrap_mean(listeners, item_ids, ratings, seed=0)
    items_only = two_way_bootstrap_mean(["one"] * 100, [f"{i}-{k}" for k, i in enumerate(item_ids)], ratings, seed=0)
    assert two_way.ci_high - two_way.ci_low > 2 * (items_only.ci_high - items_only.ci_low)
    assert two_way_bootstrap_mean(listeners, item_ids, ratings, seed=0) == two_way  # seeded: reproducible


def test_preference_is_scipys_exact_binomial_test() -> None:
    result = preference(10, 10)
    assert result.share == 1.0 and result.ci_high == 1.0
    assert result.ci_low == pytest.approx(0.025 ** (1 / 10))  # Clopper–Pearson lower bound when all trials won
    assert result.p == pytest.approx(2 / 2**10)
    test = stats.binomtest(13, 30, 0.5)
    other = preference(13, 30)
    assert (other.ci_low, other.ci_high) == pytest.approx(tuple(test.proportion_ci(0.95, "exact")))
    assert other.p == pytest.approx(test.pvalue)
    assert math.isnan(preference(0, 0).share)


def test_pearson_and_its_fisher_interval_are_scipys() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=25)
    y = 0.6 * x + rng.normal(size=25)
    ours, theirs = pearson(list(x), list(y)), stats.pearsonr(x, y)
    interval = theirs.confidence_interval(0.95)
    assert ours.r == pytest.approx(theirs.statistic)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((interval.low, interval.high), abs=1e-9)
    assert ours.n == 25


def test_spearman_uses_fieller_variance_in_the_fisher_interval() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=30)
    y = np.exp(x) + rng.normal(scale=0.5, size=30)
    ours = spearman(list(x), list(y))
    rho = stats.spearmanr(x, y).statistic
    half = 1.959963984540054 * math.sqrt(1.06 / 27)
    assert ours.r == pytest.approx(rho)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((math.tanh(math.atanh(rho) - half),
                                                         math.tanh(math.atanh(rho) + half)))


def test_correlation_is_undefined_for_three_clips_or_a_constant_predictor() -> None:
    assert math.isnan(pearson([1, 2, 3], [1, 3, 2]).r)
    assert math.isnan(spearman([2, 2, 2, 2], [1, 2, 3, 4]).r)


# --- stimuli ----------------------------------------------------------------------------------------------------


def _tone(freq: float, sr: int = 22050, seconds: float = 1.0) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


def _level_db(wav: np.ndarray) -> float:
    middle = wav[len(wav) // 4: -len(wav) // 4]  # away from the filter's edges
    return 20 * math.log10(float(np.sqrt(np.mean(middle.astype(np.float64) ** 2))) + 1e-20)


def test_mushra_anchor_removes_what_is_above_3_5_khz_and_keeps_what_is_below() -> None:
    assert _level_db(dsp.mushra_anchor(_tone(1000), 22050)) == pytest.approx(_level_db(_tone(1000)), abs=0.1)
    assert _level_db(dsp.mushra_anchor(_tone(6000), 22050)) < _level_db(_tone(6000)) - 60


def test_degraded_anchor_is_seeded_and_as_loud_in_noise_as_in_speech() -> None:
    wav = _tone(500)
    first, again = dsp.degraded_anchor(wav, 22050, 7), dsp.degraded_anchor(wav, 22050, 7)
    assert np.array_equal(first, again) and not np.array_equal(first, dsp.degraded_anchor(wav, 22050, 8))
    noise = first - dsp.lowpass(wav, 22050, dsp.DEGRADED_CUTOFF_HZ)
    assert 10 * math.log10(np.mean(wav.astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2)) \
        == pytest.approx(0.0, abs=0.1)


def test_levels_are_aligned_to_the_target_rms_and_silence_is_left_alone() -> None:
    aligned = dsp.align_level(_tone(300) * 0.01)
    assert 20 * math.log10(np.sqrt(np.mean(aligned.astype(np.float64) ** 2))) == pytest.approx(-26.0, abs=0.01)
    assert not dsp.align_level(np.zeros(100, np.float32)).any()


# --- export -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_listening_runs(tmp_path_factory.mktemp("listen-runs"))


@pytest.fixture(scope="module")
def tests_dir(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("listen-tests")
    runs_in_order = [runs["oracle"], runs["mumbler"]]
    return {design: export_test(runs_in_order, root / design, design=design, items=4, seed=3).out
            for design in ("mos", "mushra", "abx")}


def key_of(folder: Path) -> dict:
    return json.loads((folder / "test.json").read_text())


def test_export_writes_a_blind_self_contained_page(tests_dir: dict[str, Path]) -> None:
    for folder in tests_dir.values():
        html = (folder / "index.html").read_text()
        names = sorted(p.name for p in (folder / "audio").iterdir())
        assert all(re.fullmatch(r"[0-9a-f]{12}\.wav", n) for n in names)
        for word in ("oracle", "mumbler", "arctic", "clips/"):
            assert word not in html.lower()  # no model, pair or source file name in the page
        csp = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1))
        assert csp.startswith("default-src 'none'; script-src 'self';")
        scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, re.S)
        assert scripts == [""] and '<script defer src="listen.js">' in html  # no inline script
        assert "http" not in html.replace('http-equiv', '')  # no CDN, no external link
        assert {p.name for p in folder.iterdir()} == {"index.html", "listen.js", "listen.css", "audio", "test.json"}
        srcs = set(re.findall(r'src="audio/([0-9a-f]{12}\.wav)"', html))
        assert srcs == set(names)  # every audio file is played somewhere, every player has its file


def test_mos_key_lists_every_clip_with_its_run_scores_and_the_checks(tests_dir: dict[str, Path],
                                                                     runs: dict[str, Path]) -> None:
    key = key_of(tests_dir["mos"])
    assert (key["design"], key["seed"], key["items"], key["task"], key["condition"]) == ("mos", 3, 4, "default",
                                                                                          "clean")
    assert key["rvcbench_version"] and len(key["pairs"]) == 4 and len(set(key["pairs"])) == 4
    kinds = [s["kind"] for s in key["stimuli"].values()]
    assert kinds.count("clip") == 8 and kinds.count("repeat") == 1 and kinds.count("anchor") == 1
    assert len(key["trials"]) == 10 and all(len(t["stimuli"]) == 1 for t in key["trials"])
    clips = [s for s in key["stimuli"].values() if s["kind"] == "clip"]
    assert {(s["model"], s["pair_id"]) for s in clips} == {(m, p) for m in ("oracle", "mumbler") for p in key["pairs"]}
    oracle = next(s for s in clips if s["model"] == "oracle")
    assert set(oracle["scores"]) == {"dnsmos_ovrl", "toy_mos"} and 3.5 < oracle["scores"]["dnsmos_ovrl"] < 4.5
    repeat = next(s for s in key["stimuli"].values() if s["kind"] == "repeat")
    assert key["stimuli"][repeat["repeat_of"]]["source"] == repeat["source"]
    rates = {load_audio(tests_dir["mos"] / s["file"])[1] for s in key["stimuli"].values()}
    assert rates == {key["sample_rate"]}


def test_export_is_reproducible_from_its_seed(tests_dir: dict[str, Path], runs: dict[str, Path],
                                              tmp_path: Path) -> None:
    again = export_test([runs["oracle"], runs["mumbler"]], tmp_path / "again", design="mos", items=4, seed=3).out
    assert (again / "test.json").read_text() == (tests_dir["mos"] / "test.json").read_text()
    assert (again / "index.html").read_text() == (tests_dir["mos"] / "index.html").read_text()
    first_audio = sorted((tests_dir["mos"] / "audio").iterdir())
    assert all((again / "audio" / p.name).read_bytes() == p.read_bytes() for p in first_audio)
    other = export_test([runs["oracle"], runs["mumbler"]], tmp_path / "other", design="mos", items=4, seed=4).out
    assert key_of(other)["test_id"] != key_of(again)["test_id"]


def test_mushra_trials_hold_every_run_a_hidden_reference_and_a_low_anchor(tests_dir: dict[str, Path]) -> None:
    folder = tests_dir["mushra"]
    key = key_of(folder)
    assert len(key["trials"]) == 4
    for trial in key["trials"]:
        kinds = sorted(key["stimuli"][s]["kind"] for s in trial["stimuli"])
        assert kinds == ["clip", "clip", "hidden_reference", "low_anchor"]
        reference = key["stimuli"][trial["reference"]]
        hidden = next(key["stimuli"][s] for s in trial["stimuli"] if key["stimuli"][s]["kind"] == "hidden_reference")
        anchor = next(key["stimuli"][s] for s in trial["stimuli"] if key["stimuli"][s]["kind"] == "low_anchor")
        assert reference["source"] == hidden["source"] == anchor["source"] and reference["file"] != hidden["file"]
        assert "audios" in reference["source"]  # the dataset's real recording, not a run's clip
        ref_wav, sr = load_audio(folder / reference["file"])
        assert np.allclose(load_audio(folder / hidden["file"])[0], ref_wav, atol=1e-4)
        spectrum = np.abs(np.fft.rfft(load_audio(folder / anchor["file"])[0])) ** 2
        freqs = np.fft.rfftfreq(len(ref_wav), 1 / sr)
        assert spectrum[freqs > 4500].sum() < 1e-4 * spectrum.sum()


def test_abx_trials_pit_the_two_runs_against_the_real_recording_with_catch_trials(
        tests_dir: dict[str, Path]) -> None:
    key = key_of(tests_dir["abx"])
    regular = [t for t in key["trials"] if not t["check"]]
    catch = [t for t in key["trials"] if t["check"] == "catch"]
    assert len(regular) == 4 and len(catch) == 1
    for trial in regular:
        assert {key["stimuli"][s]["model"] for s in trial["stimuli"]} == {"oracle", "mumbler"}
        assert key["stimuli"][trial["reference"]]["kind"] == "reference"
    assert key["stimuli"][catch[0]["expected"]]["kind"] == "hidden_reference"
    assert catch[0]["expected"] in catch[0]["stimuli"]


def test_export_refuses_what_it_cannot_do(runs: dict[str, Path], tmp_path: Path) -> None:
    both = [runs["oracle"], runs["mumbler"]]
    with pytest.raises(ListeningTestError, match=f"more pairs than the runs share \\({PAIRS}\\)"):
        export_test(both, tmp_path / "a", design="mos", items=PAIRS + 1, seed=0)
    with pytest.raises(ListeningTestError, match="no ok clip in noisy-reference/clean; this run has: default/clean"):
        export_test(both, tmp_path / "b", design="mos", items=2, seed=0, task="noisy-reference")
    with pytest.raises(ListeningTestError, match="at least two run directories"):
        export_test(both[:1], tmp_path / "c", design="abx", items=2, seed=0)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(ListeningTestError, match="not empty"):
        export_test(both, tmp_path / "full", design="mos", items=2, seed=0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    shutil.copytree(runs["oracle"], tmp_path / "elsewhere")
    config = json.loads((tmp_path / "elsewhere" / "config.json").read_text())
    config |= {"data": "folder", "dataset": config["dataset"] | {"root": str(tmp_path / "gone")}}
    (tmp_path / "elsewhere" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ListeningTestError, match="a mushra test needs the real recordings .* is not complete"):
        export_test([tmp_path / "elsewhere"], tmp_path / "d", design="mushra", items=2, seed=0)
    assert export_test([tmp_path / "elsewhere"], tmp_path / "e", design="mos", items=2, seed=0).pairs == 2


# --- import -----------------------------------------------------------------------------------------------------


def honest_mos(stimulus: dict, trial: dict) -> int:
    """A careful listener: the oracle is good, the mumbler model fair, the anchor bad; repeats as the original."""
    if stimulus["kind"] == "anchor":
        return 1
    return 5 if stimulus["model"] == "oracle" else 2


def test_mos_import_drops_the_careless_listener_and_scores_each_model(tests_dir: dict[str, Path],
                                                                      tmp_path: Path) -> None:
    folder = tests_dir["mos"]
    key = key_of(folder)
    files = [write_ratings(tmp_path / "ann.csv", key, "ann", honest_mos),
             write_ratings(tmp_path / "bob.csv", key, "bob",
                           lambda s, t: 4 if s["kind"] == "anchor" or s.get("model") != "oracle" else 5),
             write_ratings(tmp_path / "cid.csv", key, "cid",
                           lambda s, t: 1 if s["kind"] == "anchor" else (4 if s["model"] == "oracle" else 3))]
    report = import_ratings(files, folder)
    people = report["listeners"]
    assert (people["total"], people["kept"], people["dropped"]) == (3, 2, 1)
    assert people["dropped_by_check"] == {"anchor rated above 2": 1}
    assert people["dropped_listeners"][0]["listener"] == "bob"
    scores = {row["run"]: row for row in report["scores"]}
    assert scores["oracle"]["mean"] == pytest.approx(4.5) and scores["mumbler"]["mean"] == pytest.approx(2.5)
    assert (scores["oracle"]["n_ratings"], scores["oracle"]["n_listeners"], scores["oracle"]["n_items"]) == (8, 2, 4)
    assert scores["oracle"]["ci_low"] <= 4.5 <= scores["oracle"]["ci_high"]
    # the predictors against the per-clip mean of the kept listeners, checked with scipy
    clips = sorted((i, s) for i, s in key["stimuli"].items() if s["kind"] == "clip")
    means = [4.5 if s["model"] == "oracle" else 2.5 for _, s in clips]
    for row in report["correlations"]:
        scores_of = [s["scores"][row["predictor"]] for _, s in clips]
        assert row["n_clips"] == 8
        assert row["pearson"]["r"] == pytest.approx(stats.pearsonr(scores_of, means).statistic)
        assert row["spearman"]["r"] == pytest.approx(stats.spearmanr(scores_of, means).statistic)
        interval = stats.pearsonr(scores_of, means).confidence_interval(0.95)
        assert row["pearson"]["ci_low"] == pytest.approx(interval.low)
    assert [row["predictor"] for row in report["correlations"]] == ["dnsmos_ovrl", "toy_mos"]


def test_mos_repeat_rated_far_from_its_original_fails_the_listener(tests_dir: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    key = key_of(tests_dir["mos"])
    file = write_ratings(tmp_path / "dan.csv", key, "dan",
                         lambda s, t: 5 if s["kind"] == "repeat" else (1 if s["kind"] == "anchor" else 2))
    report = import_ratings([file], tests_dir["mos"])
    assert report["listeners"]["dropped_by_check"] == {"repeat off by more than 1": 1}


def test_mushra_import_scores_runs_reference_and_anchor(tests_dir: dict[str, Path], tmp_path: Path) -> None:
    key = key_of(tests_dir["mushra"])
    levels = {"hidden_reference": 100, "low_anchor": 20}
    good = write_ratings(tmp_path / "eve.csv", key, "eve",
                         lambda s, t: levels.get(s["kind"]) or (90 if s["model"] == "oracle" else 40))
    deaf = write_ratings(tmp_path / "fay.csv", key, "fay", lambda s, t: 50)
    report = import_ratings([good, deaf], tests_dir["mushra"])
    assert report["listeners"]["dropped_by_check"] == {"hidden reference below 90": 1,
                                                       "low anchor not below the hidden reference": 1}
    scores = {row["run"]: row["mean"] for row in report["scores"]}
    assert scores == {"oracle": 90, "mumbler": 40, "hidden reference": 100, "low anchor (3.5 kHz)": 20}


def test_abx_import_reports_preference_with_the_exact_binomial_interval(tests_dir: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    key = key_of(tests_dir["abx"])
    stimuli = key["stimuli"]

    def picks_oracle(_: dict, trial: dict) -> str:
        if trial["check"]:
            return trial["expected"]
        return next(s for s in trial["stimuli"] if stimuli[s]["model"] == "oracle")

    def picks_first(_: dict, trial: dict) -> str:
        return trial["stimuli"][0] if not trial["check"] else next(s for s in trial["stimuli"]
                                                                   if s != trial["expected"])

    files = [write_ratings(tmp_path / f"{name}.csv", key, name, picks_oracle) for name in ("g", "h", "i")]
    files.append(write_ratings(tmp_path / "j.csv", key, "j", picks_first))
    report = import_ratings(files, tests_dir["abx"])
    assert report["listeners"]["dropped_by_check"] == {"catch trial missed": 1}
    [row] = report["preferences"]
    assert (row["a"], row["b"], row["wins"], row["n"], row["n_listeners"]) == ("oracle", "mumbler", 12, 12, 3)
    interval = stats.binomtest(12, 12).proportion_ci(0.95, "exact")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((interval.low, interval.high))


def _edited(source: Path, destination: Path, line: int, column: str, value: str) -> Path:
    lines = source.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    destination.write_text("\n".join(lines) + "\n")
    return destination


def test_bad_ratings_files_are_refused_naming_the_file_and_the_line(tests_dir: dict[str, Path],
                                                                    tmp_path: Path) -> None:
    folder = tests_dir["mos"]
    good = write_ratings(tmp_path / "good.csv", key_of(folder), "kim", honest_mos)
    cases = {"rating": ("7", "a MOS rating is an integer from 1 to 5"), "trial": ("feedbeef0000", "another test"),
             "design": ("abx", "design 'abx'"), "check": ("bogus", "check flag 'bogus'")}
    for column, (value, message) in cases.items():
        bad = _edited(good, tmp_path / f"bad-{column}.csv", 3, column, value)
        with pytest.raises(RatingsFileError, match=f"bad-{column}.csv, line 3: .*{message}"):
            import_ratings([bad], folder)
    (tmp_path / "header.csv").write_text("listener,trial,rating\nkim,x,3\n")
    with pytest.raises(RatingsFileError, match="header.csv, line 1: the header lacks the column"):
        import_ratings([tmp_path / "header.csv"], folder)
    with pytest.raises(RatingsFileError, match="answered trial .* again"):
        import_ratings([good, good], folder)
    with pytest.raises(RatingsFileError, match="test.json: no such file"):
        import_ratings([good])  # no key beside the file, and no --test


def test_cli_export_and_import_with_json(runs: dict[str, Path], tmp_path: Path) -> None:
    from rvcbench.cli import main

    runner = CliRunner()
    out = tmp_path / "cli-test"
    result = runner.invoke(main, ["listen", "export", str(runs["oracle"]), str(runs["mumbler"]), "--design", "mos",
                                  "--items", "3", "--seed", "9", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "mos test: 3 pairs, 8 screens" in result.output
    file = write_ratings(out / "lee.csv", key_of(out), "lee", honest_mos)
    result = runner.invoke(main, ["listen", "import", str(file), "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert re.search(r"oracle\s+5\.00\s+\[5\.00, 5\.00\]\s+3\s+1\s+3", result.output)
    assert json.loads((tmp_path / "r.json").read_text())["listeners"]["kept"] == 1
    _edited(file, tmp_path / "broken.csv", 2, "rating", "x")
    result = runner.invoke(main, ["listen", "import", str(tmp_path / "broken.csv"), "--test", str(out)])
    assert result.exit_code == 2 and "broken.csv, line 2: rating 'x' is not a number" in result.output
    assert "Traceback" not in result.output


def test_undefined_correlations_are_null_in_the_report_and_dashes_in_the_table(tests_dir: dict[str, Path],
                                                                               tmp_path: Path) -> None:
    from rvcbench.listening.report import format_report

    key = key_of(tests_dir["mos"])
    file = write_ratings(tmp_path / "flat.csv", key, "flat", lambda s, t: 1 if s["kind"] == "anchor" else 3)
    report = import_ratings([file], tests_dir["mos"])
    assert report["correlations"][0]["pearson"] == {"r": None, "ci_low": None, "ci_high": None, "n": 8}
    json.loads(json.dumps(report), parse_constant=lambda name: pytest.fail(f"{name} in the JSON report"))
    assert re.search(r"dnsmos_ovrl\s+8\s+– \[–, –\]\s+– \[–, –\]", format_report(report))
