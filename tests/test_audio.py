"""Audio I/O and resampling."""

from __future__ import annotations

import numpy as np

from rvcbench.audio import load_audio, resample, save_audio


def dominant_frequency(wav: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(wav.size)))
    return float(np.fft.rfftfreq(wav.size, 1 / sr)[np.argmax(spectrum)])


def test_resampling_keeps_pitch_and_duration():
    sr = 48000
    tone = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    out = resample(tone, sr, 16000)
    assert out.dtype == np.float32 and out.size == 16000
    assert abs(dominant_frequency(out, 16000) - 440) < 2


def test_saved_audio_reads_back_and_leaves_no_temporary_file(tmp_path):
    wav = (0.5 * np.sin(np.linspace(0, 200, 8000))).astype(np.float32)
    save_audio(tmp_path / "a.wav", wav, 8000)
    back, sr = load_audio(tmp_path / "a.wav")
    assert sr == 8000 and np.max(np.abs(back - wav)) < 1e-3
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]
