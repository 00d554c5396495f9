"""Multilingual intelligibility: CER for character languages, the English-only model's refusal with a reason,
and the `standard` profile's multilingual Whisper failing with the download command when its weights are absent."""

from __future__ import annotations

import numpy as np
import pytest

from rvcbench.errors import MissingDependencyError
from rvcbench.scoring.asr import WhisperLargeWer, WhisperWer, error_counts
from rvcbench.scoring.contract import ScoreInput
from rvcbench.scoring.registry import PROFILES


def test_mandarin_is_scored_per_character_after_normalisation():
    counts = error_counts("我们明天晚上见。", "我们明天晚上再见", "zh")
    assert counts["wer_ref_words"] == 7  # seven Han characters, punctuation removed
    assert counts["wer_errors"] == 1  # one inserted character
    assert error_counts("我们明天晚上见。", "我们，明天晚上见", "zh")["wer_errors"] == 0  # punctuation ignored


def test_the_english_only_model_refuses_other_languages_with_the_reason():
    scorer = WhisperWer()
    scorer._model = object()  # never reached: the refusal comes before decoding
    wav = (0.1 * np.sin(np.arange(16000) / 5)).astype(np.float32)
    [row] = scorer.score([ScoreInput(pair_id="p", audio=wav, target_text="你好", language="zh")])
    assert np.isnan(row["wer"]) and "not supported by whisper tiny.en" in row["wer_whisper_error"]


def test_multilingual_whisper_names_the_download_when_weights_are_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("RVCBENCH_WHISPER_LARGE", raising=False)
    assert "wer_whisper_large" in PROFILES["standard"]
    assert {"zh", "fr", "en"} <= WhisperLargeWer.languages
    with pytest.raises(MissingDependencyError, match="huggingface-cli download Systran/faster-whisper-large-v3"):
        WhisperLargeWer().load("cpu")
