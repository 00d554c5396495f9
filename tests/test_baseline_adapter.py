"""Behaviour of the built-in baseline cloner: phonemes, Piper ids, synthesis, conversion, failures."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rvcbench.adapters.builtin.baseline import BaselineCloner  # noqa: E402
from rvcbench.adapters.builtin.piper_voice import phoneme_ids, phonemize  # noqa: E402
from rvcbench.adapters.contract import CloneFailure, CloneRequest

TEXT = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module")
def cloner() -> BaselineCloner:
    c = BaselineCloner()
    c.load("cpu")
    return c


def request(text: str = TEXT, language: str = "en", seed: int = 0,
            prompt: np.ndarray | None = None, prompt_sr: int = 16000) -> CloneRequest:
    if prompt is None:
        t = np.arange(int(1.5 * prompt_sr)) / prompt_sr
        f0 = 210.0 + 20.0 * np.sin(2 * np.pi * 1.5 * t)
        phase = 2 * np.pi * np.cumsum(f0) / prompt_sr
        prompt = sum(np.sin(k * phase) / k for k in range(1, 20)).astype(np.float32) * 0.1
    return CloneRequest(pair_id="p", prompt_audio=prompt, prompt_sample_rate=prompt_sr,
                        prompt_text="", prompt_language="en", target_text=text,
                        target_language=language, seed=seed)


def test_phonemize_known_word_and_keeps_clause_punctuation():
    assert phonemize("Hello, world!") == "həlˈoʊ, wˈɜːld!"


def test_phoneme_ids_start_with_bos_pad_alternate_and_end_with_eos(cloner):
    id_map = cloner._voice.id_map
    ids = phoneme_ids(phonemize("Hello."), id_map)
    assert ids[:2] == [*id_map["^"], *id_map["_"]]
    assert ids[-1] == id_map["$"][0]
    assert ids[-2] == id_map["_"][0]
    assert ids[1:-1:2] == [id_map["_"][0]] * len(ids[1:-1:2])
    assert id_map["."][0] in ids


def test_unknown_symbols_are_skipped():
    id_map = {"^": [1], "_": [0], "$": [2], "a": [5]}
    assert phoneme_ids("a☃a", id_map) == [1, 0, 5, 0, 5, 0, 2]


def test_tts_only_is_non_silent_float32_of_plausible_duration():
    c = BaselineCloner(convert=False)
    c.load("cpu")
    (wav,) = c.clone([request()])
    assert wav.dtype == np.float32 and wav.ndim == 1
    seconds = len(wav) / c.sample_rate
    assert 1.5 < seconds < 5.0  # nine words
    assert np.sqrt(np.mean(wav**2)) > 0.02
    assert np.abs(wav).max() <= 1.0


def test_same_seed_gives_identical_output_and_other_seed_differs(cloner):
    (a,) = cloner.clone([request(seed=7)])
    (b,) = cloner.clone([request(seed=7)])
    (c,) = cloner.clone([request(seed=8)])
    assert np.array_equal(a, b)
    assert len(a) != len(c) or not np.array_equal(a, c)


def test_conversion_moves_pitch_toward_the_prompt(cloner):
    import pyworld

    (wav,) = cloner.clone([request(seed=1)])
    assert wav.dtype == np.float32 and np.abs(wav).max() <= 1.0
    f0, _ = pyworld.harvest(wav.astype(np.float64), cloner.sample_rate, f0_floor=71.0)
    assert np.median(f0[f0 > 0]) == pytest.approx(210.0, rel=0.12)  # Joe speaks near 125 Hz


def test_prompt_is_analysed_once(cloner):
    prompt = request(seed=0).prompt_audio * 0.9
    before = len(cloner._prompt_stats)
    cloner.clone([request(prompt=prompt), request(prompt=prompt, text="Another sentence.")])
    assert len(cloner._prompt_stats) == before + 1


def test_unsupported_language_is_a_per_item_failure(cloner):
    out = cloner.clone([request(language="de"), request(text="Hi there.")])
    assert out[0] == CloneFailure("unsupported language: de")
    assert isinstance(out[1], np.ndarray)


def test_describe_records_voice_and_conversion_settings(cloner):
    info = cloner.describe()
    assert info["name"] == "baseline" and info["voice"] == "en_US-joe-medium"
    assert info["convert"] is True and "warp_max" in info["conversion"]
    assert BaselineCloner(convert=False).describe()["convert"] is False


def test_importing_the_adapter_does_not_import_heavy_stacks():
    code = ("import sys, rvcbench.adapters.builtin.baseline; "
            "print(any(m in sys.modules for m in ('onnxruntime', 'pyworld', 'torch')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
