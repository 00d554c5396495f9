"""Audio I/O and sample-rate conversion: the only module that reads or writes audio files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly


def load_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 mono in [-1, 1] at its own sample rate."""
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.mean(axis=1), dtype=np.float32), int(sr)


def resample(wav: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Polyphase resampling (exact rational ratio, deterministic); returns float32."""
    if sr_from == sr_to:
        return np.asarray(wav, dtype=np.float32)
    g = np.gcd(int(sr_from), int(sr_to))
    out = resample_poly(np.asarray(wav, dtype=np.float64), int(sr_to) // g, int(sr_from) // g)
    return out.astype(np.float32)


def load_audio_at(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read an audio file and convert it to `sample_rate`."""
    wav, sr = load_audio(path)
    return resample(wav, sr, sample_rate)


def save_audio(path: str | Path, wav: np.ndarray, sample_rate: int) -> None:
    """Write audio atomically (temp file + rename), so a killed run never leaves half a file.

    The format follows the suffix (.wav → 16-bit PCM, .flac → FLAC).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".wav": "WAV", ".flac": "FLAC"}[path.suffix.lower()]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        sf.write(tmp, np.clip(np.asarray(wav, dtype=np.float32), -1.0, 1.0), int(sample_rate),
                 format=fmt, subtype="PCM_16")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def duration_seconds(wav: np.ndarray, sample_rate: int) -> float:
    return float(len(wav)) / float(sample_rate)
