"""Loudness, clipping, truncation, protection, denoisers, typos and the transform library keep their promises."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rvcbench.audio import load_audio
from rvcbench.data import load_dataset
from rvcbench.transforms.base import AUDIO, TEXT, TRANSFORMS, Audio, TransformContext, TransformUnavailable
from rvcbench.transforms.level import clip, integrated_loudness, k_weighting, loudness
from rvcbench.transforms.protection import gaussian_protection, spectral_gating, spectral_protection, wiener_denoise
from rvcbench.transforms.text import typos
from rvcbench.transforms.timing import truncate

CONTEXT = TransformContext()


def _speech(index: int = 0) -> Audio:
    dataset = load_dataset("demo")
    return Audio(*load_audio(dataset.audio_path(dataset.manifest.target_file_name[index])))


def _sine(freq: float, amplitude: float, seconds: float, sample_rate: int) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def test_k_weighting_at_48_khz_is_the_standards_filter() -> None:
    (b1, a1), (b2, a2) = k_weighting(48000)
    np.testing.assert_allclose(b1, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-8)
    np.testing.assert_allclose(a1, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-8)
    np.testing.assert_allclose(b2, [1.0, -2.0, 1.0])
    np.testing.assert_allclose(a2, [1.0, -1.99004745483398, 0.99007225036621], atol=1e-8)


@pytest.mark.parametrize("sample_rate", [48000, 44100, 16000])
def test_full_scale_1khz_sine_measures_minus_3_lufs(sample_rate: int) -> None:
    assert integrated_loudness(_sine(1000, 1.0, 5, sample_rate), sample_rate) == pytest.approx(-3.01, abs=0.1)


def test_gating_ignores_silence() -> None:
    tone = _sine(1000, 0.1, 3, 48000)
    padded = np.concatenate([np.zeros(48000 * 3), tone, np.zeros(48000 * 3)])
    # Ungated, the silence would lower it by 10·log10(3) ≈ 4.8 LU; only the blocks straddling the edges count.
    assert integrated_loudness(padded, 48000) == pytest.approx(integrated_loudness(tone, 48000), abs=0.5)
    assert integrated_loudness(np.zeros(48000), 48000) == float("-inf")


@pytest.mark.parametrize("lufs", [-30.0, -23.0, -20.0])
def test_loudness_output_measures_the_target(lufs: float) -> None:
    out = loudness(_speech(), np.random.default_rng(0), CONTEXT, lufs=lufs)
    assert integrated_loudness(out.wav, out.sample_rate) == pytest.approx(lufs, abs=0.1)


def test_loudness_of_silence_is_unavailable_and_bad_target_rejected() -> None:
    with pytest.raises(TransformUnavailable):
        loudness(Audio(np.zeros(16000, np.float32), 16000), np.random.default_rng(0), CONTEXT, lufs=-23)
    with pytest.raises(ValueError, match="lufs"):
        loudness(_speech(), np.random.default_rng(0), CONTEXT, lufs=6)


def test_clip_amplifies_and_hard_clips() -> None:
    wav = _sine(440, 0.5, 1, 16000).astype(np.float32)
    out = clip(Audio(wav, 16000), np.random.default_rng(0), CONTEXT, gain_db=12)
    assert np.max(np.abs(out.wav)) == 1.0
    small = np.abs(wav) < 0.2
    np.testing.assert_allclose(out.wav[small], wav[small] * 10 ** (12 / 20), rtol=1e-5)
    with pytest.raises(ValueError, match="gain_db"):
        clip(Audio(wav, 16000), np.random.default_rng(0), CONTEXT, gain_db=-3)


def test_truncate_keeps_seconds_of_speech_after_leading_silence() -> None:
    speech = _speech()
    padded = Audio(np.concatenate([np.zeros(8000, np.float32), speech.wav]), speech.sample_rate)
    out = truncate(padded, np.random.default_rng(0), CONTEXT, seconds=1)
    assert len(out.wav) == speech.sample_rate
    assert np.max(np.abs(out.wav[:10])) >= np.max(np.abs(speech.wav)) * 0.01  # starts at speech, not silence


def test_truncate_of_a_short_prompt_is_unavailable_with_the_reason() -> None:
    with pytest.raises(TransformUnavailable, match=r"prompt is only \d+\.\d+ s, shorter than 10 s"):
        truncate(_speech(), np.random.default_rng(0), CONTEXT, seconds=10)
    with pytest.raises(ValueError, match="seconds"):
        truncate(_speech(), np.random.default_rng(0), CONTEXT, seconds=0)


def test_gaussian_protection_stays_within_the_linf_budget_and_is_seeded() -> None:
    speech = _speech()
    eps = 8 / 255
    out = gaussian_protection(speech, np.random.default_rng(0), CONTEXT, epsilon=eps)
    assert np.max(np.abs(out.wav.astype(np.float64) - speech.wav)) <= eps + 1e-6
    again = gaussian_protection(speech, np.random.default_rng(0), CONTEXT, epsilon=eps)
    other = gaussian_protection(speech, np.random.default_rng(1), CONTEXT, epsilon=eps)
    assert np.array_equal(out.wav, again.wav) and not np.array_equal(out.wav, other.wav)
    with pytest.raises(ValueError, match="epsilon"):
        gaussian_protection(speech, np.random.default_rng(0), CONTEXT, epsilon=2)


def test_spectral_protection_is_band_limited_and_peaks_at_epsilon() -> None:
    quiet = Audio(np.zeros(16000, np.float32), 16000)
    delta = spectral_protection(quiet, np.random.default_rng(0), CONTEXT, epsilon=0.03, band_hz=(1000, 4000)).wav
    assert np.max(np.abs(delta)) == pytest.approx(0.03, rel=1e-4)
    power = np.abs(np.fft.rfft(delta.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(delta), 1 / 16000)
    inside = (freqs >= 1000) & (freqs <= 4000)
    assert power[~inside].sum() < 1e-6 * power[inside].sum()
    with pytest.raises(TransformUnavailable):
        spectral_protection(quiet, np.random.default_rng(0), CONTEXT, epsilon=0.03, band_hz=(9000, 12000))
    with pytest.raises(ValueError, match="band_hz"):
        spectral_protection(quiet, np.random.default_rng(0), CONTEXT, epsilon=0.03, band_hz=(4000, 1000))


@pytest.mark.parametrize("denoise", [spectral_gating, wiener_denoise])
def test_denoisers_raise_the_snr_of_noisy_speech(denoise) -> None:
    speech = _speech()
    clean = speech.wav.astype(np.float64)
    noise = np.random.default_rng(0).standard_normal(len(clean))
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (5 / 10))  # 5 dB SNR
    out = denoise(Audio((clean + noise).astype(np.float32), speech.sample_rate), np.random.default_rng(0), CONTEXT)
    assert len(out.wav) == len(clean)
    snr_after = 10 * np.log10(np.sum(clean**2) / np.sum((out.wav - clean) ** 2))
    assert snr_after > 5 + 3


def test_typos_change_exactly_the_requested_fraction_of_words() -> None:
    text = "The quick brown fox jumps over the lazy dog, twice: at 9 and 10 o'clock."
    words = re.findall(r"[^\W\d_]{2,}", text)
    out = typos(text, np.random.default_rng(0), CONTEXT, rate=0.3)
    changed = sum(a != b for a, b in zip(words, re.findall(r"[^\W\d_]{2,}", out), strict=True))
    assert changed == round(0.3 * len(words))
    assert re.sub(r"[^\W\d_]", "", out) == re.sub(r"[^\W\d_]", "", text)  # punctuation, digits, spaces kept
    assert typos(text, np.random.default_rng(0), CONTEXT, rate=0.0) == text
    every = typos(text, np.random.default_rng(0), CONTEXT, rate=1.0)
    assert all(a != b for a, b in zip(words, re.findall(r"[^\W\d_]{2,}", every), strict=True))


def test_typos_are_seeded_and_reject_a_bad_rate() -> None:
    text = "Author of the danger trail, Philip Steels, etcetera, and many other good books."
    first = typos(text, np.random.default_rng(1), CONTEXT, rate=0.5)
    assert first == typos(text, np.random.default_rng(1), CONTEXT, rate=0.5)
    assert first != typos(text, np.random.default_rng(2), CONTEXT, rate=0.5)
    with pytest.raises(ValueError, match="rate"):
        typos(text, np.random.default_rng(0), CONTEXT, rate=1.5)


def test_library_registers_every_transform_with_its_parameters() -> None:
    import rvcbench.transforms.library  # noqa: F401

    expected = {
        "add_noise": ("snr_db", "noise", "noise_dir"), "add_reverb": ("rt60_s",), "add_talker": ("sir_db", "gender"),
        "mp3": ("bitrate_kbps",), "opus": ("bitrate_kbps",), "aac": ("bitrate_kbps",), "telephone": (),
        "resample_to": ("sample_rate",), "loudness": ("lufs",), "clip": ("gain_db",), "truncate": ("seconds",),
        "gaussian_protection": ("epsilon",), "spectral_protection": ("epsilon", "band_hz"),
        "spectral_gating": ("threshold_db",), "wiener_denoise": (), "typos": ("rate",),
    }
    for name, parameters in expected.items():
        spec = TRANSFORMS[name]
        assert spec.parameters == parameters and spec.description
        assert spec.kind == (TEXT if name == "typos" else AUDIO)
