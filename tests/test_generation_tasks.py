"""Target and transcript transforms (hard texts, long-form, cross-lingual, wrong/noisy transcripts) and the
generation metrics (hallucination flags, per-window SIM, prosody), through the planner and the runner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from run_store import synths

import rvcbench.transforms.library  # noqa: F401 — registers every transform
from rvcbench.data import load_dataset
from rvcbench.data.texts import DatasetTexts
from rvcbench.plan import plan_items
from rvcbench.runner import RunConfig, run_benchmark
from rvcbench.scoring.asr import generation_flags
from rvcbench.scoring.prosody import ProsodyError, prosody_distances, prosody_features
from rvcbench.scoring.registry import PROFILES, SCORERS
from rvcbench.scoring.speaker_similarity import WINDOW_SECONDS, clip_windows
from rvcbench.summary import known_metrics
from rvcbench.tasks import load_tasks
from rvcbench.transforms.base import TRANSFORMS, Target, TransformContext, TransformUnavailable
from rvcbench.transforms.targets import CHARS_PER_SECOND, estimated_seconds, hard_text_categories

METRICS = set(known_metrics([SCORERS.get(n).meta for n in PROFILES["offline"]]))
TEXTS = {("Hello there friend.", "en", "s1"), ("A second line from s1.", "en", "s1"),
         ("Another speaker talks here.", "en", "s2"), ("Bonjour tout le monde.", "fr", "s3")}


def context(speaker: str = "s1", prompt_language: str = "en") -> TransformContext:
    manifest = pd.DataFrame([{"target_text": t, "target_language": lang, "speaker_id": s, "prompt_text": t,
                              "prompt_language": lang} for t, lang, s in sorted(TEXTS)])
    return DatasetTexts(manifest).context({"speaker_id": speaker, "prompt_language": prompt_language})


def apply(name: str, value, seed: int = 0, ctx: TransformContext | None = None, **params):
    return TRANSFORMS[name].function(value, np.random.default_rng(seed), ctx or context(), **params)


def test_every_hard_text_category_gives_an_english_sentence_of_that_category():
    for category in hard_text_categories():
        out = apply("hard_text", Target("original", "en"), category=category)
        assert out.language == "en" and out.text != "original" and len(out.text) > 10
    assert any(ch.isdigit() for ch in apply("hard_text", Target("x", "en"), category="numbers").text)
    with pytest.raises(ValueError, match="unknown category"):
        apply("hard_text", Target("x", "en"), category="poetry")
    with pytest.raises(TransformUnavailable, match="English"):
        apply("hard_text", Target("x", "fr"), category="numbers")


def test_long_form_text_reaches_the_requested_length_with_the_speakers_own_texts_first():
    for seconds in (30, 60):
        out = apply("long_form_text", Target("Hello there friend.", "en"), seconds=seconds)
        assert len(out.text) / CHARS_PER_SECOND >= seconds
        assert len(out.text) / CHARS_PER_SECOND < seconds + 3  # stops at the first sentence past the length
    out = apply("long_form_text", Target("Hello there friend.", "en"), seconds=5)
    assert out.text.startswith("Hello there friend. A second line from s1.")
    assert "Bonjour" not in apply("long_form_text", Target("Hello there friend.", "en"), seconds=60).text


def test_cross_lingual_text_changes_the_language_and_refuses_same_language_prompts():
    out = apply("cross_lingual_text", Target("Hello there friend.", "en"), language="fr")
    assert out == Target("Bonjour tout le monde.", "fr")  # the dataset's own French text comes first
    zh = apply("cross_lingual_text", Target("Hello there friend.", "en"), language="zh")
    assert zh.language == "zh" and any("\u4e00" <= ch <= "\u9fff" for ch in zh.text)  # shipped sentences
    with pytest.raises(TransformUnavailable, match="already in en"):
        apply("cross_lingual_text", Target("Hello", "en"), language="en")


def test_same_language_keeps_matching_pairs_and_refuses_others():
    keep = Target("Bonjour tout le monde.", "fr")
    assert apply("same_language", keep, ctx=context("s3", "fr"), language="fr") == keep
    with pytest.raises(TransformUnavailable, match="not a zh pair"):
        apply("same_language", keep, ctx=context("s3", "fr"), language="zh")


def test_transcript_transforms_swap_or_corrupt_the_prompt_text():
    assert apply("wrong_transcript", "Hello there friend.") != "Hello there friend."
    assert apply("wrong_transcript", "Hello there friend.") in {t for t, _, _ in TEXTS}
    original = "one two three four five six seven eight nine ten"
    noisy = apply("asr_noise", original, rate=0.3)
    assert noisy != original and apply("asr_noise", original, rate=0.3) == noisy  # seeded
    assert apply("asr_noise", original, rate=0.0) == original
    changed = sum(a != b for a, b in zip(original.split(), noisy.split(), strict=False))
    assert changed >= 1


def test_generation_flags_catch_loops_long_outputs_and_truncation():
    text = "the quick brown fox jumps over the lazy dog"
    assert generation_flags(text, text) == {"hallucination": 0.0, "repetition_loop": 0.0, "truncation": 0.0}
    loop = generation_flags(text, text + " over the lazy dog over the lazy dog over the lazy dog")
    assert loop["repetition_loop"] == 1.0 and loop["hallucination"] == 1.0
    long = generation_flags("hello world", "hello world and then a long made up story about cats and dogs")
    assert long["hallucination"] == 1.0 and long["repetition_loop"] == 0.0
    assert generation_flags(text, "the quick")["truncation"] == 1.0
    # numbers are normalised on both sides: "50" read as "fifty" is no hallucination
    assert generation_flags("I have 50 dogs", "I have fifty dogs")["hallucination"] == 0.0
    # a repetition that is in the text is not a loop
    twister = "red lorry yellow lorry red lorry yellow lorry"
    assert generation_flags(twister, twister)["repetition_loop"] == 0.0


def test_clip_windows_are_full_windows_and_need_two():
    rate = 16000
    size = int(WINDOW_SECONDS * rate)
    assert clip_windows(np.zeros(size + 5, dtype=np.float32)) == []
    windows = clip_windows(np.arange(3 * size + 100, dtype=np.float32))
    assert len(windows) == 3 and all(w.size == size for w in windows) and windows[2][0] == 2 * size


def tone(seconds: float, f0_from: float, f0_to: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    f0 = np.linspace(f0_from, f0_to, t.size)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    return (0.3 * sum(np.sin(k * phase) / k for k in range(1, 4))).astype(np.float32)


def test_prosody_features_measure_pitch_range_and_rate():
    flat, wide = tone(2.0, 150, 155), tone(2.0, 100, 200)
    assert prosody_features(wide, 6)["f0_range"] > prosody_features(flat, 6)["f0_range"] + 6  # ~12 st vs ~1 st
    same = prosody_distances(prosody_features(wide, 6), prosody_features(wide, 6))
    assert same == {"f0_range_diff": 0.0, "energy_var_diff": 0.0, "rate_error": 0.0}
    fast = prosody_distances(prosody_features(wide, 12), prosody_features(wide, 6))
    assert fast["rate_error"] == pytest.approx(1.0)  # twice the words in the same time: one octave of pace
    with pytest.raises(ProsodyError):
        prosody_features(np.zeros(16000, dtype=np.float32), 3)


def test_planning_rewrites_targets_and_marks_them_not_parallel():
    dataset = load_dataset("demo")
    tasks = load_tasks("text-robustness,cross-lingual", METRICS)
    items = plan_items(dataset, tasks, model="m", adapter_version="1", seed=0, limit=2)
    hard = [it for it in items if any("hard_text" in c for _, c in it.memberships)]
    clean = [it for it in items if any(c == "clean" for _, c in it.memberships)]
    assert hard and all(not it.parallel_target for it in hard)
    assert all(it.parallel_target for it in clean)
    assert all(it.expected_seconds == pytest.approx(len(it.target_text) / CHARS_PER_SECOND) for it in hard)
    zh = [it for it in items if it.target_language == "zh"]
    assert zh and all(it.expected_seconds == pytest.approx(estimated_seconds(it.target_text, "zh")) for it in zh)
    assert all(it.expected_seconds > 2 * len(it.target_text) / CHARS_PER_SECOND for it in zh)  # slower script
    english = [it for it in items if ("cross-lingual", "cross_lingual_text language=en") in it.memberships]
    assert english and all("already in en" in it.unavailable_reason for it in english)
    again = plan_items(dataset, tasks, model="m", adapter_version="1", seed=0, limit=2)
    assert [(it.item_id, it.target_text) for it in again] == [(it.item_id, it.target_text) for it in items]


def test_transcript_conditions_run_for_models_that_read_it_and_are_not_applicable_otherwise(fixture_models,
                                                                                          tmp_path):
    config = dict(profile="none", device="cpu", limit=2, task="reference-length")
    reader = run_benchmark(RunConfig(model="transcript_reader", **config), tmp_path / "reader", progress=False)
    other = run_benchmark(RunConfig(model="slow", **config), tmp_path / "slow", progress=False)
    wrong = reader.summary["tasks"]["reference-length"]["conditions"]["wrong transcript"]
    assert wrong["available"] and wrong["ok"] == 2
    records = list(synths(reader.run_dir).values())
    used = {r.get("synth_prompt_text") for r in records} - {None}
    assert len(used) == 4  # 2 pairs x (wrong transcript, asr-noisy), each text recorded beside its clip
    skipped = other.summary["tasks"]["reference-length"]["conditions"]["wrong transcript"]
    assert not skipped["available"] and "does not read the prompt transcript" in skipped["reason"]


def test_mcd_is_not_applicable_to_rewritten_targets(fixture_models, tmp_path):
    outcome = run_benchmark(RunConfig(model="transcript_reader", profile="none", device="cpu", limit=1,
                                      task="cross-lingual"), tmp_path / "run", progress=False)
    conditions = outcome.summary["tasks"]["cross-lingual"]["conditions"]
    assert conditions["cross_lingual_text language=fr"]["ok"] == 1
    assert conditions["cross_lingual_text language=zh"]["ok"] == 1
    from rvcbench.results import RunDirectory
    from rvcbench.scoring.engine import score_records
    from rvcbench.scoring.mcd import MelCepstralDistortion

    run_dir = RunDirectory(outcome.run_dir)
    dataset = load_dataset("demo")
    tasks = load_tasks("cross-lingual", METRICS)
    items = {it.item_id: it for it in plan_items(dataset, tasks, model="transcript_reader", adapter_version="1",
                                                 seed=0, limit=1)}
    records = [run_dir.read_record(i) for i in items]
    records = [r for r in records if r["status"] == "ok"]
    score_records([MelCepstralDistortion()], records, items, run_dir)
    by_parallel = {r["parallel_target"]: r for r in records}
    assert np.isfinite(by_parallel[True]["mcd"])
    assert np.isnan(by_parallel[False]["mcd"]) and "not applicable" in by_parallel[False]["mcd_error"]
