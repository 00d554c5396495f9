"""Behaviour of the WORLD conversion steps on synthetic signals where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from rvcbench.dsp.world_conversion import (
    ConversionSettings,
    VoiceStats,
    analyse,
    convert,
    estimate_warp,
    map_f0,
    peak_normalise,
    voice_stats,
    warp_frequency_axis,
)

SR = 22050


def harmonic_tone(f0_hz: np.ndarray, sr: int = SR, formant_hz: float = 800.0) -> np.ndarray:
    """A harmonic signal following the F0 contour `f0_hz` (one value per sample), with a formant."""
    phase = 2 * np.pi * np.cumsum(f0_hz) / sr
    wav = np.zeros_like(phase)
    for k in range(1, 40):
        freq = k * f0_hz
        gain = np.exp(-((freq - formant_hz) / 600.0) ** 2) + 0.1
        wav += np.where(freq < sr / 2, gain * np.sin(k * phase), 0.0) / k
    return (0.5 * wav / np.abs(wav).max()).astype(np.float32)


def gliding_tone(lo: float, hi: float, seconds: float = 1.0, formant_hz: float = 800.0):
    n = int(seconds * SR)
    return harmonic_tone(np.geomspace(lo, hi, n), formant_hz=formant_hz)


def formant_envelope(centres_hz: list[float], bins: int = 513) -> np.ndarray:
    freqs = np.linspace(0, SR / 2, bins)
    env = -freqs / 2000.0  # a tilt, which the warp estimate must ignore
    for c in centres_hz:
        env = env + 3.0 * np.exp(-(((freqs - c) / 150.0) ** 2))
    return env


def stats(log_f0_mean: float, log_f0_std: float) -> VoiceStats:
    return VoiceStats(log_f0_mean=log_f0_mean, log_f0_std=log_f0_std,
                      mean_log_env=np.zeros(513), sample_rate=SR, bandwidth_hz=SR / 2)


def test_map_f0_moves_geometric_mean_and_keeps_unvoiced_frames():
    f0 = np.array([0.0, 100.0, 120.0, 0.0, 144.0])
    source = stats(np.log(120.0), 0.2)
    target = stats(np.log(220.0), 0.2)
    out = map_f0(f0, source, target)
    assert out[0] == 0 and out[3] == 0
    np.testing.assert_allclose(out[[1, 2, 4]], f0[[1, 2, 4]] * 220.0 / 120.0, rtol=1e-9)


def test_map_f0_scales_log_deviation_by_std_ratio():
    source = stats(np.log(100.0), 0.1)
    target = stats(np.log(200.0), 0.2)
    out = map_f0(np.array([100.0 * np.exp(0.1)]), source, target)
    np.testing.assert_allclose(out, [200.0 * np.exp(0.2)], rtol=1e-9)


def test_f0_conversion_moves_median_f0_of_a_real_signal_to_the_targets():
    settings = ConversionSettings(f0_floor=71.0)
    src = analyse(gliding_tone(100.0, 140.0), SR, settings)
    tgt = analyse(gliding_tone(200.0, 260.0, formant_hz=1000.0), SR, settings)
    out = convert(src, voice_stats(src), voice_stats(tgt), settings)
    assert out.dtype == np.float32
    assert len(out) == pytest.approx(SR, rel=0.02)
    out_f0 = analyse(out, SR, settings).f0
    tgt_median = np.median(tgt.f0[tgt.f0 > 0])
    assert np.median(out_f0[out_f0 > 0]) == pytest.approx(tgt_median, rel=0.05)


def test_warp_moves_a_peak_by_alpha():
    freqs = np.linspace(0, SR / 2, 513)
    env = np.exp(-(((freqs - 1000.0) / 150.0) ** 2))[None, :]
    warped = warp_frequency_axis(env, 1.2)
    assert freqs[np.argmax(warped[0])] == pytest.approx(1200.0, abs=25.0)


@pytest.mark.parametrize("alpha", [0.88, 1.0, 1.15])
def test_estimate_warp_recovers_a_known_factor_despite_tilt_and_level(alpha):
    source = formant_envelope([500.0, 1500.0, 2500.0, 3500.0])
    target = formant_envelope([500.0 * alpha, 1500.0 * alpha, 2500.0 * alpha, 3500.0 * alpha])
    target = target - 4.0 - np.linspace(0, 3, target.size)  # other level and other tilt
    assert estimate_warp(source, target, SR) == pytest.approx(alpha, abs=0.011)


def test_peak_normalise_sets_peak_and_leaves_silence_alone():
    assert np.abs(peak_normalise(np.array([0.1, -0.5, 0.2]), 0.9)).max() == pytest.approx(0.9)
    assert not peak_normalise(np.zeros(10)).any()


def test_voice_stats_refuses_a_clip_without_voicing():
    silence = np.zeros(SR // 2, dtype=np.float32)
    with pytest.raises(ValueError, match="voiced"):
        voice_stats(analyse(silence, SR))
