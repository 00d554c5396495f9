"""Leaderboard: result files from real runs, their validation, robustness scores, the built site and exports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from click.testing import CliRunner
from fixtures.leaderboard.fast_scorer import EVIL_NAME, PROFILE, fast_profile, forge_result, make_runs

from rvcbench.cli import main
from rvcbench.leaderboard import schema
from rvcbench.leaderboard.aggregate import build_entries, robustness_score
from rvcbench.leaderboard.exports import render_exports
from rvcbench.leaderboard.results import add_run
from rvcbench.leaderboard.site import build_site
from rvcbench.leaderboard.table import file_sha256
from rvcbench.leaderboard.validate import load_result, validate_result
from rvcbench.tasks import discover_tasks


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    with fast_profile():
        yield make_runs(tmp_path_factory.mktemp("lb-runs"))


@pytest.fixture(scope="module")
def added(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lb-results")
    return {name: add_run(run, root).folder for name, run in runs.items()}


@pytest.fixture(scope="module")
def detect_added(tmp_path_factory: pytest.TempPathFactory):
    """A real run with a detectability analysis (oracle: clone = real target, so EER 0.5), added as a result."""
    from rvcbench.runner import RunConfig, run_benchmark

    root = tmp_path_factory.mktemp("lb-detect")
    with fast_profile():
        run_benchmark(RunConfig(model="oracle", task="detectability", limit=4, profile=PROFILE), root / "run",
                      progress=False)
        yield add_run(root / "run", root / "results").folder


def edit_result(source: Path, destination: Path, change) -> Path:
    shutil.copytree(source, destination)
    data = json.loads((destination / "result.json").read_text())
    change(data)
    (destination / "result.json").write_text(json.dumps(data))
    return destination


def test_add_records_provenance_table_hash_and_audio_examples(added: dict[str, Path]) -> None:
    folder = added["scored"]
    data = json.loads((folder / "result.json").read_text())
    assert folder.name.startswith(f"oracle__demo__{PROFILE}__3pairs-")  # the pair set is part of the key
    assert data["schema_version"] == schema.SCHEMA_VERSION
    assert data["table"]["sha256"] == file_sha256(folder / "utterances.parquet")
    assert data["table"]["rows"] == len(pd.read_parquet(folder / "utterances.parquet")) == data["summary"]["items"]
    assert data["versions"]["scorers"] == {"sim_spectrum": "1"} and data["versions"]["rvcbench"]
    assert data["hardware"]["device"] == "cpu" and data["seeds"] == {"run": 0, "bootstrap": 0}
    tasks = {e["task"] for e in data["examples"]}
    assert tasks == {"reference-length", "post-processing"}
    for example in data["examples"]:
        assert example["condition"] != "clean"
        for role in schema.EXAMPLE_AUDIO_ROLES:
            info = sf.info(str(folder / example[role]))
            assert info.samplerate == 16000 and info.duration <= 8.0
    truncated = next(e for e in data["examples"] if e["condition"].startswith("truncate"))
    seconds = float(truncated["condition"].split("=")[1])
    assert sf.info(str(folder / truncated["prompt"])).duration == pytest.approx(seconds, abs=0.05)


def test_added_results_validate(added: dict[str, Path]) -> None:
    assert validate_result(added["scored"]) == []
    assert validate_result(added["unscored"] / "result.json") == []


def test_validate_names_a_mean_that_does_not_follow_from_the_table(added: dict[str, Path], tmp_path: Path) -> None:
    def inflate(data: dict) -> None:
        data["summary"]["metrics"]["sim"]["mean"] += 0.05
        data["summary"]["tasks"]["post-processing"]["conditions"]["telephone"]["failed"] = 1

    problems = validate_result(edit_result(added["scored"], tmp_path / "r", inflate))
    assert any(p.startswith("summary.metrics.sim.mean: states") for p in problems)
    assert any("conditions.telephone.failed: states 1, the table has 0" in p for p in problems)


def test_validate_detects_an_edited_table(added: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "r"
    shutil.copytree(added["scored"], folder)
    table = pd.read_parquet(folder / "utterances.parquet")
    table["sim"] = table["sim"] * 0.5
    table.to_parquet(folder / "utterances.parquet", index=False)
    problems = validate_result(folder)
    assert len(problems) == 1 and problems[0].startswith("table.sha256:")


def test_validate_refuses_paths_outside_the_folder_and_non_http_links(added: dict[str, Path], tmp_path: Path) -> None:
    def attack(data: dict) -> None:
        data["table"]["file"] = "../../etc/passwd"
        data["examples"][0]["clone"] = "/etc/passwd"
        data["examples"][1]["target"] = "audio/../../../secret.flac"
        data["model"]["links"] = {"weights": "javascript:alert(1)"}

    problems = validate_result(edit_result(added["scored"], tmp_path / "r", attack))
    assert "table.file: '../../etc/passwd' points outside the result folder" in problems
    assert any(p.startswith("examples[0].clone: '/etc/passwd' points outside") for p in problems)
    assert any(p.startswith("examples[1].target:") and "outside" in p for p in problems)
    assert "model.links.weights: 'javascript:alert(1)' is not an http(s) link" in problems


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d.update(schema_version=99), "schema_version: 99 is not known"),
    (lambda d: d.update(profile="studio"), "profile: unknown scorer profile 'studio'"),
    (lambda d: d["summary"].pop("metrics"), "summary.metrics: missing"),
    (lambda d: d["dataset"].update(pairs="50"), "dataset.pairs: expected an integer, found str"),
])
def test_validate_says_what_is_wrong(added: dict[str, Path], tmp_path: Path, change, expected: str) -> None:
    problems = validate_result(edit_result(added["scored"], tmp_path / "r", change))
    assert any(p.startswith(expected) for p in problems), problems


def test_a_renamed_result_is_refused_unless_its_table_agrees(added: dict[str, Path], tmp_path: Path) -> None:
    renamed = edit_result(added["scored"], tmp_path / "renamed", lambda d: d["model"].update(name="someone-else"))
    assert any(p.startswith("model.name: 'someone-else' but the table") for p in validate_result(renamed))
    assert validate_result(forge_result(added["scored"], tmp_path / "forged")) == []


def test_add_refuses_an_unfinished_run(runs: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs["unscored"], run)
    (run / "summary.json").unlink()
    with pytest.raises(schema.ResultFileError, match="not a finished run directory .missing summary.json"):
        add_run(run, tmp_path / "results")
    assert not (tmp_path / "results").exists()  # nothing was written


def test_robustness_score_is_the_mean_sim_retention_of_the_family(added: dict[str, Path]) -> None:
    result = load_result(added["scored"])
    conditions = result.data["summary"]["tasks"]["post-processing"]["conditions"]
    retentions = [c["headline"]["sim_retention"]["mean"] for name, c in conditions.items()
                  if name != "clean" and c["available"]]
    score = robustness_score(result, "output", seed=0)
    assert score.mean == pytest.approx(np.mean(retentions), rel=1e-9)
    assert score.mean < 1.0  # post-processing changes the clip, so the spectrum moves
    assert score.ci_low <= score.mean <= score.ci_high and score.ci_low < score.ci_high
    assert score.n + score.failures == len(retentions) * 3
    # the oracle returns the real recording whatever the prompt: nothing of the speaker is lost
    assert robustness_score(result, "input", seed=0).mean == pytest.approx(1.0)
    assert robustness_score(result, "perturbation", seed=0) is None


def test_results_of_different_profiles_are_never_ranked_together(added: dict[str, Path], tmp_path: Path) -> None:
    forged = forge_result(added["scored"], tmp_path / "forged")
    entries = build_entries([load_result(p) for p in (added["scored"], added["unscored"], forged)])
    groups = {k.split(" · ")[0]: sorted(e.name for e in v) for k, v in entries.items()}
    assert groups == {PROFILE: sorted(["oracle", EVIL_NAME]), "none": ["oracle"]}


def test_results_on_different_pair_sets_are_never_ranked_together(added: dict[str, Path], tmp_path: Path) -> None:
    """The bug a new user found: 3 pairs of one speaker ranked beside 50 pairs under one label "demo"."""
    from rvcbench.leaderboard.validate import LoadedResult

    full = load_result(added["scored"])
    keep = sorted(set(full.table["pair_id"]))[:2]
    fewer = LoadedResult(tmp_path / "fewer", full.data, full.table[full.table["pair_id"].isin(keep)])
    entries = build_entries([full, fewer])
    assert len(entries) == 2  # same model, profile and dataset name, different pairs: two rankings
    assert all(label.startswith(f"{PROFILE} · demo · ") for label in entries)
    assert sum("· 2 pairs (" in label for label in entries) == 1
    assert "· 2 pairs (" not in next(iter(entries))  # the site opens on the ranking with more pairs


def test_build_escapes_untrusted_strings(added: dict[str, Path], tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(added["scored"], results / "ok")
    forge_result(added["scored"], results / "evil")
    report = build_site(results, tmp_path / "site")
    pages = [p.read_text() for p in (tmp_path / "site").rglob("*.html")]
    assert report.results == 2 and len(pages) == 7
    assert all("<script>alert" not in p and "<img src=x" not in p for p in pages)
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in p for p in pages)
    compare = (tmp_path / "site" / "compare.html").read_text()  # the comparison matrix names both models
    assert compare.count('<a href="models/evil.html">&lt;script&gt;alert(1)&lt;/script&gt;</a>') >= 2
    assert "&lt;script&gt;alert(1)&lt;/script&gt; vs oracle" in compare or "&lt;/script&gt; − oracle" in compare
    assert all("http-equiv=\"Content-Security-Policy\"" in p for p in pages)
    assert not [p for p in pages if "https://" in p.split("<main>")[0]]  # nothing loaded from another host


def test_a_failed_build_keeps_the_published_site(added: dict[str, Path], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    results, site = tmp_path / "results", tmp_path / "site"
    shutil.copytree(added["scored"], results / "ok")
    build_site(results, site)
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("rvcbench.leaderboard.site.model_page", broken)
    shutil.copytree(added["unscored"], results / "more")
    with pytest.raises(OSError, match="disk full"):
        build_site(results, site)
    monkeypatch.undo()
    edit_result(added["scored"], results / "bad", lambda d: d.update(profile="studio"))
    with pytest.raises(schema.ResultFileError, match="bad/result.json: refused"):
        build_site(results, site)
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_exports_carry_the_site_numbers(added: dict[str, Path], tmp_path: Path) -> None:
    forged = forge_result(added["scored"], tmp_path / "x_y")
    entries = build_entries([load_result(added["scored"]), load_result(forged)])
    from rvcbench.leaderboard.aggregate import overview_columns

    columns = {p: overview_columns([x.result for x in xs]) for p, xs in entries.items()}
    files = render_exports(entries, columns)
    rows = pd.read_csv(__import__("io").StringIO(files["leaderboard.csv"]))
    (ranking,) = entries  # one profile, one pair set
    oracle = next(e for e in entries[ranking] if e.name == "oracle")
    assert len(rows) == 2
    assert rows.loc[rows.model == "oracle", "sim.mean"].item() == pytest.approx(oracle.cells["sim"].mean)
    assert rows.loc[rows.model == "oracle", "robust:output.ci_high"].item() == pytest.approx(
        oracle.cells["robust:output"].ci_high)
    payload = json.loads(files["leaderboard.json"])
    assert {r["model"] for r in payload["overview"]} == {"oracle", EVIL_NAME}
    assert {r["task"] for r in payload["conditions"]} == {"reference-length", "post-processing"}
    assert "\\begin{tabular}" in files["leaderboard.tex"] and "Robust. output" in files["leaderboard.tex"]


def test_method_page_lists_every_task_spec(added: dict[str, Path], tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(added["scored"], results / "ok")
    build_site(results, tmp_path / "site")
    method = (tmp_path / "site" / "method.html").read_text()
    assert discover_tasks() and all(f'id="task-{name}"' in method for name in discover_tasks())
    assert "robustness score of a task family" in method and "sim_spectrum" in method


def test_cli_add_validate_build_export(runs: dict[str, Path], tmp_path: Path) -> None:
    cli = CliRunner()
    results = tmp_path / "results"
    with fast_profile():
        out = cli.invoke(main, ["leaderboard", "add", str(runs["scored"]), str(runs["unscored"]),
                                "--results", str(results)])
        assert out.exit_code == 0, out.output
        assert out.output.count("added ") == 2
        (folder,) = results.glob(f"oracle__demo__{PROFILE}__*pairs-*")
        assert cli.invoke(main, ["leaderboard", "validate", str(folder / "result.json")]).exit_code == 0
        bad = edit_result(folder, tmp_path / "bad", lambda d: d.update(profile="studio"))
        refused = cli.invoke(main, ["leaderboard", "validate", str(bad)])
        assert refused.exit_code == 2 and "profile: unknown scorer profile 'studio'" in refused.output
        built = cli.invoke(main, ["leaderboard", "build", "--results", str(results), "--out", str(tmp_path / "s")])
        assert built.exit_code == 0 and "page weight" in built.output
        exported = cli.invoke(main, ["leaderboard", "export", "--results", str(results), "--out", str(tmp_path / "x"),
                                     "--format", "latex"])
        assert exported.exit_code == 0 and [p.name for p in (tmp_path / "x").iterdir()] == ["leaderboard.tex"]


def _detect(data: dict) -> dict:
    return data["analyses"]["detectability"]


def test_a_result_with_analyses_validates_and_renders_everywhere(detect_added: Path, added: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    assert validate_result(detect_added) == []
    data = json.loads((detect_added / "result.json").read_text())
    assert data["schema_version"] == 1 and "analyses" not in data["summary"]  # carried once, beside the summary
    assert "analyses" not in json.loads((added["scored"] / "result.json").read_text())  # and optional
    conditions = _detect(data)["conditions"]
    assert len(conditions) == 5 and all(c["available"] and c["eer"]["mean"] == 0.5 for c in conditions.values())
    results = tmp_path / "results"
    shutil.copytree(detect_added, results / "cm")
    shutil.copytree(added["scored"], results / "ok")  # a result without analyses beside it
    build_site(results, tmp_path / "site")
    site = tmp_path / "site"
    model = (site / "models" / "cm.html").read_text()
    table = model.split('<table class="detectability">')[1].split("</table>")[0]
    assert table.count('<tr><th scope="row">') == 5 and "mp3 bitrate_kbps=32" in table
    assert '0.500<span class="ci"> [0.500, 0.500]</span>' in table  # EER [CI], and ΔEER 0.000 [0.000, 0.000]
    assert '0.000<span class="ci"> [0.000, 0.000]</span>' in table and "0.5 = undetectable" in table
    assert 'class="detectability"' not in (site / "models" / "ok.html").read_text()
    robustness = (site / "robustness.html").read_text()
    heat = robustness.split('<table class="heatmap detectability">')[1].split("</table>")[0]
    assert heat.count('<td class="heat h10"') == 5  # 0.5 = chance = the blue end
    assert "Higher EER = harder to detect" in heat
    method = (site / "method.html").read_text()
    assert 'id="detectability"' in method and "equal error rate" in method
    assert "Detector <code>lfcc_gmm</code>" in method and "Todisco" in method
    files = {p.name: p.read_text() for p in (site / "data").iterdir()}
    rows = pd.read_csv(__import__("io").StringIO(files["conditions.csv"]))
    eer = rows[rows.metric == "detectability_eer"]
    assert len(eer) == 5 and set(eer["mean"]) == {0.5} and set(eer["n_spoof"]) == {4}
    assert len(rows[rows.metric == "detectability_eer_vs_clean"]) == 4
    assert any(r["metric"] == "detectability_eer" for r in json.loads(files["leaderboard.json"])["conditions"])
    assert "spoof-detection EER" in files["leaderboard.tex"] and "mp3 bitrate\\_kbps=32" in files["leaderboard.tex"]


def _set(path: str, value: object):
    def change(data: dict) -> None:
        *parents, last = path.split("/")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
    return change


CLEAN_EER = "analyses/detectability/conditions/clean/eer"
MP3 = "analyses/detectability/conditions/mp3 bitrate_kbps=32"


@pytest.mark.parametrize(("change", "expected"), [
    (_set("analyses", []), "analyses: expected an object"),
    (_set(f"{CLEAN_EER}/mean", 1.5), "analyses.detectability.conditions.clean.eer.mean: EER 1.5 is outside [0, 1]"),
    (_set(f"{CLEAN_EER}/ci_low", 0.6), "analyses.detectability.conditions.clean.eer: the 95% CI [0.6, 0.5] is not "
                                       "ordered"),
    (_set(f"{CLEAN_EER}/n_spoof", -1), "analyses.detectability.conditions.clean.eer.n_spoof: expected a non-negative"),
    (_set(f"{CLEAN_EER}/n_bona_fide", "4"), "analyses.detectability.conditions.clean.eer.n_bona_fide: expected a "
                                            "non-negative integer, found '4'"),
    (_set(f"{MP3}/eer_vs_clean/mean", 0.2), "analyses.detectability.conditions.mp3 bitrate_kbps=32.eer_vs_clean.mean:"
                                            " states 0.2, but EER − clean EER = 0.0"),
    (_set(f"{MP3}/clone_failures", 1), "analyses.detectability.conditions.mp3 bitrate_kbps=32.clone_failures: states "
                                       "1, the table has 0"),
    (_set(f"{MP3}/available", False), "analyses.detectability.conditions.mp3 bitrate_kbps=32.reason: an unavailable"),
    (_set("analyses/detectability/detector/name", None), "analyses.detectability.detector.name: expected text"),
    (_set("analyses/detectability/conditions/studio", {}), "analyses.detectability.conditions.studio: task "
                                                           "'detectability' has no such condition"),
    (_set("analyses/other-task", {"analysis": "detectability"}), "analyses.other-task: no task 'other-task'"),
])
def test_a_malformed_analyses_block_is_refused_with_the_reason(detect_added: Path, tmp_path: Path, change,
                                                               expected: str) -> None:
    problems = validate_result(edit_result(detect_added, tmp_path / "r", change))
    assert any(p.startswith(expected) for p in problems), problems


def test_detector_names_and_reasons_are_escaped(detect_added: Path, tmp_path: Path) -> None:
    def inject(data: dict) -> None:
        _detect(data)["detector"]["name"] = EVIL_NAME
        _detect(data)["detector"]["reference"] = '<img src=x onerror="alert(5)">'
        telephone = _detect(data)["conditions"]["telephone"]
        telephone.update(available=False, reason="<script>alert(4)</script>")
        telephone.pop("eer"), telephone.pop("eer_vs_clean")

    results = tmp_path / "results"
    edit_result(detect_added, results / "cm", inject)
    assert validate_result(results / "cm") == []  # odd text is allowed; it is shown as text
    build_site(results, tmp_path / "site")
    pages = {p.name: p.read_text() for p in (tmp_path / "site").rglob("*.html")}
    assert all("<script>alert" not in p and "<img src=x" not in p for p in pages.values())
    assert "Detector <code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in pages["cm.html"]
    assert "unavailable: &lt;script&gt;alert(4)&lt;/script&gt;" in pages["cm.html"]
    assert "&lt;img src=x onerror=&#34;alert(5)&#34;&gt;" in pages["method.html"]  # Jinja2 writes " as &#34;
    assert "detector &lt;script&gt;alert(1)&lt;/script&gt; v1" in pages["robustness.html"]
    latex = (tmp_path / "site" / "data" / "leaderboard.tex").read_text()
    assert "detector <script>alert(1)</script> v1 (0.5 = undetectable" in latex  # LaTeX: no HTML to escape


def test_published_numbers_are_shown_beside_runs_of_another_profile_never_ranked_in(added: dict[str, Path],
                                                                                      tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(added["scored"], results / "ok")
    build_site(results, tmp_path / "site")
    overview = (tmp_path / "site" / "index.html").read_text()
    ranking, _, after = overview.partition("</table>")
    assert "Qwen3-TTS" not in ranking and "published" not in ranking.split("<tbody>")[1]
    assert "Published: Leaderboard — LibriTTS" in after and "not ranked together" in after and "Qwen3-TTS" in after
    paper = (tmp_path / "site" / "paper.html").read_text()
    assert paper.count('<tr class="published">') == 3 * 18  # three tables of 18 models
    assert "b47908df80201cb0d2224566b51698582c091f99" in paper and "0.614" in paper


def test_published_rows_join_the_ranking_only_with_the_papers_profile_and_data() -> None:
    from types import SimpleNamespace

    from rvcbench.leaderboard.aggregate import Column
    from rvcbench.leaderboard.published import comparable, published_sets, ranked_rows

    published = next(p for p in published_sets() if p["name"] == "rvcbench-v2")
    on = lambda data: SimpleNamespace(data={"dataset": {"name": data}})  # noqa: E731
    assert comparable(published, "rvcbench-paper", [on("rvcbench:Libritts")])
    assert not comparable(published, "offline", [on("rvcbench:Libritts")])
    assert not comparable(published, "rvcbench-paper", [on("rvcbench:Libritts"), on("demo")])
    rows = ranked_rows(published, [Column("sim_ecapa", "SIM", True, ""), Column("wer_corpus", "WER", False, "")])
    assert rows.count('<tr class="published">') == 18 and 'data-v="0.614"' in rows
    assert "0.052" not in rows  # the paper's WER is its per-utterance reference WER (wer_ref), not a corpus WER
    assert 'data-v="0.052"' in ranked_rows(published, [Column("wer_ref", "WER (ref.)", False, "")])



def test_curve_colours_follow_the_legend_when_a_model_lacks_the_task(added: dict[str, Path], tmp_path: Path) -> None:
    """The bug a new user found: points coloured by position among the models that have the task."""
    import copy
    import re

    from rvcbench.leaderboard.aggregate import Entry, task_grids
    from rvcbench.leaderboard.pages import curves
    from rvcbench.leaderboard.plots import color
    from rvcbench.leaderboard.validate import LoadedResult

    full = load_result(added["scored"])
    bare = copy.deepcopy(full.data)
    bare["model"]["name"] = "a-first-model-without-tasks"
    bare["summary"]["tasks"] = {}
    entries = [Entry("first", LoadedResult(tmp_path / "a", bare, full.table)), Entry("oracle", full)]
    grid = next(g for g in task_grids(entries) if g.name == "post-processing")
    html = curves(grid, entries)
    assert "a-first-model-without-tasks" not in html  # not drawn, so not in the legend either
    legend = re.search(r'<ul class="legend">(.*)</ul>', html).group(1)
    assert f'fill="{color(1)}"' in legend and f'fill="{color(0)}"' not in legend
    points = set(re.findall(r'<circle [^>]*fill="([^"]+)"', html))
    assert points == {color(1)}  # the oracle keeps its own colour, the legend's


def test_a_plot_with_nothing_to_show_is_left_out(added: dict[str, Path]) -> None:
    from rvcbench.leaderboard.aggregate import Entry, TaskGrid
    from rvcbench.leaderboard.pages import curves

    entry = Entry("oracle", load_result(added["scored"]))
    empty = TaskGrid("cross-lingual", "generation", ["sim"], ["clean", "x"], {}, {"sim": {"oracle": {
        "clean": None, "x": None}}})
    assert curves(empty, [entry]) == ""


# ------------------------------------------------------------------------------------- model × model matrix

def _matrix_entries(shift: float, n: int = 30, seed: int = 1):
    from fixtures.leaderboard.synthetic import synthetic_entry

    rng = np.random.default_rng(seed)
    sim, noisy = rng.uniform(0.6, 0.8, n), rng.uniform(0.4, 0.6, n)
    errors = rng.integers(0, 4, n).astype(float)
    good = synthetic_entry("good", sim + shift, noisy + shift, errors)
    bad = synthetic_entry("bad", sim + rng.normal(0, 0.01, n), noisy + rng.normal(0, 0.01, n),
                          errors + (3 if shift else 0))
    return good, bad


def test_matrix_says_better_and_worse_in_each_metrics_direction() -> None:
    from fixtures.leaderboard.synthetic import COLUMNS

    from rvcbench.leaderboard.matrix import BETTER, WORSE, ranking_matrices

    good, bad = _matrix_entries(shift=0.1)
    matrices = {m.key: m for m in ranking_matrices([good, bad], COLUMNS)}
    assert list(matrices) == ["sim", "wer_corpus", "family:input"]
    for key, m in matrices.items():
        assert m.tests == 1 and m.cells[0][0] is None and m.cells[1][1] is None
        assert (m.cells[0][1].verdict, m.cells[1][0].verdict) == (BETTER, WORSE), key  # row good vs column bad
        assert m.cells[0][1].n == 30 and m.cells[0][1].p_holm < 0.05
    sim = matrices["sim"].cells
    assert sim[0][1].diff == pytest.approx(-sim[1][0].diff) and sim[0][1].diff == pytest.approx(0.1, abs=0.01)
    assert sim[0][1].ci_low < 0.1 < sim[0][1].ci_high and sim[1][0].ci_high == -sim[0][1].ci_low
    assert matrices["wer_corpus"].cells[0][1].diff < 0  # fewer errors: lower WER, and lower is better
    hover = sim[0][1].hover("good", "bad", 1)
    assert hover.startswith("good − bad = 0.1") and "95% CI [" in hover and "n = 30 pairs" in hover


def test_matrix_of_identical_results_is_all_ties_with_p_one() -> None:
    from fixtures.leaderboard.synthetic import COLUMNS, synthetic_entry

    from rvcbench.leaderboard.matrix import TIE, ranking_matrices

    good, _ = _matrix_entries(shift=0.0)
    twin = synthetic_entry("twin", *(good.result.table.loc[good.result.table.memberships.str.contains(c), col]
                                     .to_numpy() for c, col in (('"clean"', "sim"), ("snr", "sim"),
                                                                ('"clean"', "wer_errors"))))
    for m in ranking_matrices([good, twin], COLUMNS):
        assert m.cells[0][1].verdict == m.cells[1][0].verdict == TIE and m.cells[0][1].p_holm == 1.0


def test_matrix_holm_corrects_over_every_model_pair_of_the_matrix() -> None:
    from fixtures.leaderboard.synthetic import COLUMNS, synthetic_entry

    from rvcbench.compare import holm
    from rvcbench.leaderboard.matrix import ranking_matrices

    good, bad = _matrix_entries(shift=0.02, n=12)
    third = synthetic_entry("third", *(bad.result.table.loc[bad.result.table.memberships.str.contains(c), col]
                                       .to_numpy() + 0.001 for c, col in (('"clean"', "sim"), ("snr", "sim"),
                                                                          ('"clean"', "wer_errors"))))
    sim = ranking_matrices([good, bad, third], COLUMNS[:1])[0]
    assert sim.tests == 3
    raw = [sim.cells[i][j].p for i, j in ((0, 1), (0, 2), (1, 2))]
    assert [sim.cells[i][j].p_holm for i, j in ((0, 1), (0, 2), (1, 2))] == holm(raw)


def test_compare_page_is_in_the_nav_and_says_one_model_has_nothing_to_compare(added: dict[str, Path],
                                                                               tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(added["scored"], results / "ok")
    build_site(results, tmp_path / "site")
    overview = (tmp_path / "site" / "index.html").read_text()
    assert '<a href="compare.html">Compare</a>' in overview
    compare = (tmp_path / "site" / "compare.html").read_text()
    assert '<a href="compare.html" aria-current="page">Compare</a>' in compare
    assert "Only one model in this ranking" in compare


# ------------------------------------------------------------------------------------------ cost and seeds

COST = {"generated_audio_seconds": 7200.0, "rtf": 0.25,
        "phases": {"synthesis": {"wall_seconds": 1800.0, "gpu_seconds": 900.0, "peak_gpu_bytes": 3 * 2 ** 30,
                                 "peak_rss_bytes": 2 ** 30, "devices": ["cuda:0"]},
                   "scoring": {"wall_seconds": 60.0, "gpu_seconds": 30.0, "peak_gpu_bytes": None,
                               "peak_rss_bytes": 2 ** 29, "devices": ["cuda:0"]},
                   "loading": {"wall_seconds": 12.5}},
        "per_audio_hour": {"synthesis_wall_seconds": 900.0, "synthesis_gpu_seconds": 450.0},
        "invocations": 2, "complete": True}


def _with_cost_and_seeds(data: dict) -> None:
    data["cost"] = json.loads(json.dumps(COST))
    data["seed_variation"] = {"seeds": [0, 1, 2], "metrics": {"reference-length": {"clean": {"sim": {
        "sd": 0.004, "means": [0.91, 0.912, 0.918], "n": [3, 3, 3]}}}}}


def test_cost_and_seed_variation_render_on_the_overview_and_the_model_page(added: dict[str, Path],
                                                                             tmp_path: Path) -> None:
    results = tmp_path / "results"
    edit_result(added["scored"], results / "new", _with_cost_and_seeds)
    edit_result(added["scored"], results / "old", lambda d: d.pop("cost", None))  # made before cost was recorded
    assert validate_result(results / "new") == []
    build_site(results, tmp_path / "site")
    overview = (tmp_path / "site" / "index.html").read_text()
    new_row, old_row = (next(r.split("</tr>")[0] for r in overview.split("<tr>") if f'href="models/{name}.html"' in r)
                        for name in ("new", "old"))
    assert "sd 0.004 · 3 seeds" in new_row and "seeds" not in old_row
    # GPU synthesis: GPU-seconds per audio hour, RTF and peak memory on hover
    assert '<td class="num" data-v="450.0" title="GPU-seconds of synthesis per hour of generated audio; RTF 0.25; ' \
           'peak GPU memory 3.00 GiB; peak RSS 1.00 GiB">450.0<span class="ci">GPU-s / audio h</span></td>' in new_row
    assert old_row.endswith('<td class="num" data-v="">–</td>')  # no cost recorded: –
    assert "GPU-seconds when synthesis ran on a GPU, wall-clock seconds otherwise" in overview  # the header tip
    page = (tmp_path / "site" / "models" / "new.html").read_text()
    cost = page.split('<table class="compact cost">')[1].split("</table>")[0]
    for text in ("7200 s", "synthesis: GPU-seconds</th><td class=\"num\">900", "3.00 GiB", "cuda:0",
                 "loading: wall-clock seconds</th><td class=\"num\">12.5", ">450<", ">2<", ">yes<"):
        assert text in cost, text
    seeds = page.split('<table class="seeds">')[1].split("</table>")[0]
    assert "<th scope=\"row\">reference-length</th><td>clean</td><td>sim</td><td class=\"num\">0.0040</td>" in seeds
    assert "0.9100, 0.9120, 0.9180" in seeds and "3, 3, 3" in seeds
    old = (tmp_path / "site" / "models" / "old.html").read_text()
    assert "–: this result does not record its cost" in old and "–: one seed only" in old
    rows = pd.read_csv(tmp_path / "site" / "data" / "leaderboard.csv").set_index("table_sha256", drop=False)
    new = rows[rows["cost.clock"].eq("GPU")].iloc[0]
    assert new["cost.synthesis_seconds_per_audio_hour"] == 450.0 and new["sim.seed_sd"] == 0.004
    assert rows["cost.clock"].isna().sum() == 1 and rows["sim.seeds"].isna().sum() == 1  # the old result: empty


def test_links_render_only_http_urls_and_no_template_marks_text_safe() -> None:
    from rvcbench.leaderboard.render import ENV, macro

    link = macro("macros.html", "link")
    assert str(link("javascript:alert(1)", "<b>x</b>")) == "&lt;b&gt;x&lt;/b&gt;"
    assert str(link("data:text/html,hi", "w")) == "w" and str(link(None, "w")) == "w"
    assert str(link(" https://huggingface.co/a/b?x=1&y=\"2\" ", "w")) == (
        '<a href="https://huggingface.co/a/b?x=1&amp;y=&#34;2&#34;" rel="noopener noreferrer nofollow">w</a>')
    templates = ENV.loader.list_templates()
    assert {"base.html", "overview.html", "compare.html", "model.html"} <= set(templates)
    for name in templates:
        source = ENV.loader.get_source(ENV, name)[0]
        assert "|safe" not in source.replace(" ", "") and "Markup" not in source and "autoescape false" not in source


def test_cost_on_a_cpu_is_wall_seconds() -> None:
    from rvcbench.leaderboard.costs import cost_summary

    cpu = json.loads(json.dumps(COST))
    cpu["phases"]["synthesis"].update(devices=["cpu"], gpu_seconds=0.0, peak_gpu_bytes=None)
    summary = cost_summary({"cost": cpu})
    assert (summary.per_audio_hour, summary.clock) == (900.0, "wall") and "peak GPU memory –" in summary.hover
    assert cost_summary({}) is None


@pytest.mark.parametrize(("change", "expected"), [
    (_set("cost", []), "cost: expected an object"),
    (_set("cost/rtf", "fast"), "cost.rtf: expected a number or null, found 'fast'"),
    (_set("cost/phases/synthesis/peak_gpu_bytes", -1), "cost.phases.synthesis.peak_gpu_bytes: expected a non-neg"),
    (_set("cost/phases/synthesis/devices", "cuda:0"), "cost.phases.synthesis.devices: expected a list"),
    (_set("seed_variation/seeds", []), "seed_variation.seeds: expected a non-empty list"),
    (_set("seed_variation/metrics/reference-length/clean/sim/sd", -0.1), "seed_variation.metrics.reference-length."
                                                                        "clean.sim.sd: a standard deviation cannot"),
    (_set("seed_variation/metrics/reference-length/clean/sim/means", [0.9]), "seed_variation.metrics.reference-"
                                                                             "length.clean.sim.means: expected one"),
])
def test_a_malformed_cost_or_seed_block_is_refused(added: dict[str, Path], tmp_path: Path, change,
                                                   expected: str) -> None:
    def both(data: dict) -> None:
        _with_cost_and_seeds(data)
        change(data)

    problems = validate_result(edit_result(added["scored"], tmp_path / "r", both))
    assert any(p.startswith(expected) for p in problems), problems


def test_add_of_a_seed_group_records_the_first_seed_with_the_spread(runs: dict[str, Path], tmp_path: Path) -> None:
    group = tmp_path / "group"
    shutil.copytree(runs["scored"], group / "seed-0")
    shutil.copytree(runs["scored"], group / "seed-1")
    variation = {"seeds": [0, 1], "metrics": {"reference-length": {"clean": {"sim": {
        "sd": 0.01, "means": [0.9, 0.914], "n": [3, 3]}}}}}
    (group / "seeds.json").write_text(json.dumps({"kind": "rvcbench-seed-group", "seeds": [0, 1],
                                                  "runs": {"0": "seed-0", "1": "seed-1"},
                                                  "seed_variation": variation}))
    with fast_profile():
        grouped = add_run(group, tmp_path / "results").folder
        plain = add_run(runs["scored"], tmp_path / "plain").folder
    assert grouped.name == plain.name  # the result's key is the run's, as for a plain add
    data = json.loads((grouped / "result.json").read_text())
    assert data["seed_variation"] == variation and "seed_variation" not in json.loads(
        (plain / "result.json").read_text())
    assert data["summary"]["metrics"] == json.loads((plain / "result.json").read_text())["summary"]["metrics"]
    (group / "seeds.json").write_text(json.dumps({"kind": "rvcbench-seed-group", "seeds": [0],
                                                  "runs": {"0": "../elsewhere"}, "seed_variation": variation}))
    with pytest.raises(schema.ResultFileError, match="runs.0 = '../elsewhere' is not a folder inside"):
        add_run(group, tmp_path / "results")


def test_add_copies_the_runs_cost_out_of_the_summary(runs: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs["scored"], run)
    summary = json.loads((run / "summary.json").read_text())
    summary["cost"] = COST
    (run / "summary.json").write_text(json.dumps(summary))
    with fast_profile():
        data = json.loads((add_run(run, tmp_path / "results").folder / "result.json").read_text())
    assert data["cost"] == COST and "cost" not in data["summary"]
