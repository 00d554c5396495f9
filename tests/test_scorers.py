"""The offline scorers on real demo recordings: each model is loaded once per module (CPU)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from rvcbench.audio import load_audio_at
from rvcbench.data import load_dataset
from rvcbench.scoring.asr import WhisperWer
from rvcbench.scoring.contract import ScoreInput
from rvcbench.scoring.dnsmos import Dnsmos, windows
from rvcbench.scoring.mcd import MelCepstralDistortion
from rvcbench.scoring.speaker_similarity import ResemblyzerSimilarity

SR = 16000


@pytest.fixture(scope="module")
def demo() -> dict[str, tuple[np.ndarray, str]]:
    """utt_id → (16 kHz waveform, text) for the few recordings of the embedded demo set these tests use."""
    wanted = {"p225_002", "p225_004", "p226_002", "p226_004", "aew_arctic_a0001"}
    dataset = load_dataset("demo")
    out = {}
    for row in dataset.manifest.itertuples():
        utt_id = row.pair_id.split("__")[1]
        if utt_id in wanted:
            out[utt_id] = (load_audio_at(dataset.audio_path(row.target_file_name), SR), row.target_text)
    assert set(out) == wanted
    return out


def _wav(demo: dict, utt: str) -> np.ndarray:
    return demo[utt][0]


@pytest.fixture(scope="module")
def sim_scorer() -> ResemblyzerSimilarity:
    scorer = ResemblyzerSimilarity()
    scorer.load("cpu")
    return scorer


@pytest.fixture(scope="module")
def whisper() -> WhisperWer:
    scorer = WhisperWer()
    scorer.load("cpu")
    return scorer


@pytest.fixture(scope="module")
def dnsmos() -> Dnsmos:
    scorer = Dnsmos()
    scorer.load("cpu")
    return scorer


SILENT = np.zeros(SR, dtype=np.float32)


# --- speaker similarity -------------------------------------------------------------------------

def test_same_speaker_is_more_similar_than_another_speaker(sim_scorer, demo) -> None:
    batch = [
        ScoreInput("a", _wav(demo, "p225_002"), target_audio=_wav(demo, "p225_004"),
                   prompt_audio=_wav(demo, "p226_002")),
        ScoreInput("b", _wav(demo, "p226_002"), target_audio=_wav(demo, "p226_004"),
                   prompt_audio=_wav(demo, "p225_004")),
        ScoreInput("c", _wav(demo, "p225_002"), target_audio=_wav(demo, "p225_002"),
                   prompt_audio=_wav(demo, "aew_arctic_a0001")),
    ]
    a, b, c = sim_scorer.score(batch)
    assert a["sim"] > a["sim_prompt"] + 0.1  # target: same speaker; prompt: other speaker
    assert b["sim"] > b["sim_prompt"] + 0.1
    assert c["sim"] == pytest.approx(1.0, abs=1e-5)
    assert c["sim"] > c["sim_prompt"]


def test_batched_embedding_matches_resemblyzers_own_recipe(sim_scorer, demo) -> None:
    from resemblyzer import preprocess_wav

    wav_a, wav_b = _wav(demo, "p225_002"), _wav(demo, "aew_arctic_a0001")
    expected = float(sim_scorer._encoder.embed_utterance(preprocess_wav(wav_a))
                     @ sim_scorer._encoder.embed_utterance(preprocess_wav(wav_b)))
    (got,) = sim_scorer.score([ScoreInput("x", wav_a, target_audio=wav_b, prompt_audio=wav_b)])
    assert got["sim"] == pytest.approx(expected, abs=1e-4)


def test_reference_embeddings_are_cached(sim_scorer, demo) -> None:
    target = _wav(demo, "p226_004")
    sim_scorer.score([ScoreInput("x", _wav(demo, "p226_002"), target_audio=target, prompt_audio=target)])
    cached = len(sim_scorer._reference_cache)
    sim_scorer.score([ScoreInput("y", _wav(demo, "p225_004"), target_audio=target, prompt_audio=target)])
    assert len(sim_scorer._reference_cache) == cached  # nothing new: the target was a hit


def test_silent_or_nan_clip_gives_nan_similarity_with_reason(sim_scorer, demo) -> None:
    target = _wav(demo, "p225_004")
    bad = np.full(SR, np.nan, dtype=np.float32)
    silent, nan_clip, good = sim_scorer.score([
        ScoreInput("s", SILENT, target_audio=target, prompt_audio=target),
        ScoreInput("n", bad, target_audio=target, prompt_audio=target),
        ScoreInput("g", _wav(demo, "p225_002"), target_audio=target, prompt_audio=target),
    ])
    assert math.isnan(silent["sim"]) and "silent" in silent["sim_resemblyzer_error"]
    assert math.isnan(nan_clip["sim_prompt"]) and "NaN" in nan_clip["sim_resemblyzer_error"]
    assert good["sim"] > 0.5 and "sim_resemblyzer_error" not in good


# --- WER ------------------------------------------------------------------------------------------

def test_whisper_transcribes_clean_recordings_with_low_wer(whisper, demo) -> None:
    batch = [ScoreInput(u, _wav(demo, u), target_text=demo[u][1]) for u in ("p225_002", "p225_004")]
    results = whisper.score(batch)
    for result in results:
        assert result["wer"] <= 0.1, result["transcript"]
        assert isinstance(result["transcript"], str) and result["transcript"]
        assert result["wer_ref_words"] > 5


def test_wrong_text_gives_high_wer(whisper, demo) -> None:
    (result,) = whisper.score([ScoreInput("x", _wav(demo, "p225_002"), target_text=demo["p226_004"][1])])
    assert result["wer"] > 0.7


def test_silent_and_non_english_inputs_give_nan_wer_with_reason(whisper, demo) -> None:
    silent, german = whisper.score([
        ScoreInput("s", SILENT, target_text="hello there"),
        ScoreInput("d", _wav(demo, "p225_002"), target_text="Hallo zusammen", language="de"),
    ])
    assert math.isnan(silent["wer"]) and "silent" in silent["wer_whisper_error"]
    assert math.isnan(german["wer"]) and "English only" in german["wer_whisper_error"]


# --- DNSMOS ---------------------------------------------------------------------------------------

def test_dnsmos_prefers_clean_speech_over_noisy_and_matches_speechmos(dnsmos, demo) -> None:
    from speechmos import dnsmos as speechmos_dnsmos

    clean = _wav(demo, "p226_002")  # 4.7 s: one 9.01 s window after repetition
    assert len(windows(clean)) == 1
    rng = np.random.default_rng(0)
    noisy = np.clip(clean + rng.normal(0.0, 0.1, clean.size).astype(np.float32), -1, 1)
    clean_scores, noisy_scores, silent = dnsmos.score([ScoreInput("c", clean), ScoreInput("n", noisy),
                                                       ScoreInput("s", SILENT)])
    assert clean_scores["dnsmos_ovrl"] > noisy_scores["dnsmos_ovrl"] + 0.5
    assert clean_scores["dnsmos_bak"] > noisy_scores["dnsmos_bak"] + 0.5
    assert math.isnan(silent["dnsmos_ovrl"]) and "silent" in silent["dnsmos_error"]

    reference = speechmos_dnsmos.run(np.clip(clean, -1.0, 1.0), SR)  # speechmos rejects |x| > 1
    assert clean_scores["dnsmos_ovrl"] == pytest.approx(reference["ovrl_mos"], abs=1e-4)
    assert clean_scores["dnsmos_sig"] == pytest.approx(reference["sig_mos"], abs=1e-4)
    assert clean_scores["dnsmos_bak"] == pytest.approx(reference["bak_mos"], abs=1e-4)
    assert clean_scores["dnsmos_p808"] == pytest.approx(reference["p808_mos"], abs=1e-4)


def test_dnsmos_windows_follow_the_published_hop_rule() -> None:
    assert len(windows(np.ones(3 * SR, dtype=np.float32) * 0.1)) == 3  # 3 s → 12 s → 3 windows
    assert len(windows(np.ones(12 * SR, dtype=np.float32) * 0.1)) == 3
    assert all(len(w) == 144160 for w in windows(np.ones(20 * SR, dtype=np.float32) * 0.1))


# --- MCD ------------------------------------------------------------------------------------------

def test_mcd_is_zero_for_itself_and_larger_for_another_speaker(demo) -> None:
    scorer = MelCepstralDistortion()
    scorer.load("cpu")
    target = _wav(demo, "p225_004")
    itself, other_speaker, silent = scorer.score([
        ScoreInput("i", target.copy(), target_audio=target),
        ScoreInput("o", _wav(demo, "p226_004"), target_audio=target),
        ScoreInput("s", SILENT, target_audio=target),
    ])
    assert itself["mcd"] == pytest.approx(0.0, abs=1e-9)
    assert other_speaker["mcd"] > 5.0
    assert math.isnan(silent["mcd"]) and "silent" in silent["mcd_error"]


# --- contract -------------------------------------------------------------------------------------

def test_importing_scorer_modules_does_not_import_heavy_stacks() -> None:
    code = ("import sys, rvcbench.scoring.asr, rvcbench.scoring.dnsmos, rvcbench.scoring.mcd, "
            "rvcbench.scoring.speaker_similarity, rvcbench.scoring.text_normalize; "
            "print(sorted(m for m in ('torch', 'faster_whisper', 'ctranslate2', 'onnxruntime', 'resemblyzer', "
            "'pyworld', 'librosa') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("cls", [ResemblyzerSimilarity, WhisperWer, Dnsmos, MelCepstralDistortion])
def test_meta_names_versions_and_describes_every_metric(cls) -> None:
    meta = cls.meta
    assert "missing" not in meta.version and "+" in meta.version
    assert meta.model and meta.requirements and "\n" not in meta.requirements
    assert meta.sample_rate == SR
    assert all(m.description for m in meta.metrics)
