"""Linear-frequency cepstral coefficients (LFCC), the front end of the ASVspoof 2019/2021 LFCC baselines.

Settings follow the ASVspoof 2019 LFCC-GMM baseline (Todisco et al., Interspeech 2019; Sahidullah et
al., Interspeech 2015): 16 kHz audio, 20 ms Hamming windows every 10 ms, 512-point FFT power
spectrum, 20 triangular filters spaced *linearly* over 0–8 kHz (unlike MFCC's mel scale, so the high
band where vocoders leave artefacts keeps its resolution), log filter energies, DCT-II keeping 20
coefficients (c0 included), then Δ and ΔΔ over ±2 frames: 60 values per frame. No voice-activity
detection, as in the baseline (silence is part of what a detector may use).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.fft import dct, rfft
from scipy.signal import get_window

LOG_FLOOR = 1e-10  # added to filter energies before the log (digital silence stays finite)


@dataclass(frozen=True)
class LfccSettings:
    sample_rate: int = 16000
    window_ms: float = 20.0
    hop_ms: float = 10.0
    n_fft: int = 512
    n_filters: int = 20
    n_coefficients: int = 20
    delta_width: int = 2  # Δ over ±2 frames (regression formula), ΔΔ = Δ of Δ
    pre_emphasis: float = 0.97

    def to_dict(self) -> dict:
        return asdict(self)


def linear_filterbank(n_filters: int, n_fft: int, sample_rate: int) -> np.ndarray:
    """(n_filters, n_fft // 2 + 1) triangular filters with edges equally spaced from 0 Hz to Nyquist."""
    bins = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = np.linspace(0.0, sample_rate / 2.0, n_filters + 2)
    bank = np.zeros((n_filters, bins.size))
    for i in range(n_filters):
        low, centre, high = edges[i], edges[i + 1], edges[i + 2]
        rising = (bins - low) / (centre - low)
        falling = (high - bins) / (high - centre)
        bank[i] = np.clip(np.minimum(rising, falling), 0.0, None)
    return bank


def deltas(features: np.ndarray, width: int) -> np.ndarray:
    """Regression deltas over ±width frames along axis 0 (edges repeated), as in HTK and the baselines."""
    padded = np.pad(features, ((width, width), (0, 0)), mode="edge")
    n = len(features)
    numerator = sum(k * (padded[width + k: width + k + n] - padded[width - k: width - k + n])
                    for k in range(1, width + 1))
    return numerator / (2.0 * sum(k * k for k in range(1, width + 1)))


def lfcc(wav: np.ndarray, settings: LfccSettings = LfccSettings()) -> np.ndarray:
    """(frames, 3 × n_coefficients) LFCC + Δ + ΔΔ of float mono audio at `settings.sample_rate`."""
    x = np.asarray(wav, dtype=np.float64)
    x = np.append(x[:1], x[1:] - settings.pre_emphasis * x[:-1]) if x.size else x
    win = int(round(settings.window_ms * settings.sample_rate / 1000.0))
    hop = int(round(settings.hop_ms * settings.sample_rate / 1000.0))
    if x.size < win:
        x = np.pad(x, (0, win - x.size))
    n_frames = 1 + (x.size - win) // hop
    index = np.arange(win)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = x[index] * get_window("hamming", win, fftbins=True)[None, :]
    power = np.abs(rfft(frames, n=settings.n_fft, axis=1)) ** 2
    energies = power @ linear_filterbank(settings.n_filters, settings.n_fft, settings.sample_rate).T
    cepstra = dct(np.log(energies + LOG_FLOOR), type=2, axis=1, norm="ortho")[:, : settings.n_coefficients]
    d1 = deltas(cepstra, settings.delta_width)
    d2 = deltas(d1, settings.delta_width)
    return np.concatenate([cepstra, d1, d2], axis=1).astype(np.float32)
