"""Classical voice conversion with the WORLD vocoder: move a voice toward a prompt speaker.

This is the conversion half of the `baseline` adapter, kept as pure functions so each step can be
tested on synthetic signals. WORLD splits speech into F0, a spectral envelope and aperiodicity;
three speaker cues are then moved toward the prompt's, all estimated from one prompt clip:

1. pitch: voiced log-F0 frames are mapped from the source's mean/std to the prompt's;
2. vocal-tract length: the envelope (and aperiodicity) frequency axis is scaled by one factor
   α (α > 1 raises formants, as for a shorter vocal tract). α is the value on a grid that best
   aligns the *detrended* long-term average log envelopes (tilt removed, so formant positions
   decide, not recording colour);
3. timbre/channel colour: the smoothed difference between the prompt's long-term average log
   envelope and the warped source's is applied to every frame (bounded, and held flat above the
   prompt's real bandwidth so an 8 kHz-band prompt does not mute the top octave).

Every function is deterministic; the only state is what the caller caches (`VoiceStats`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from rvcbench.errors import MissingDependencyError

LN10_OVER_20 = np.log(10.0) / 20.0


def _pyworld():
    try:
        with warnings.catch_warnings():
            # pyworld 0.3.x imports pkg_resources, which warns on recent setuptools.
            warnings.filterwarnings("ignore", message=".*pkg_resources.*")
            import pyworld
    except ImportError as exc:
        raise MissingDependencyError(
            "WORLD voice conversion needs pyworld: pip install pyworld") from exc
    return pyworld


@dataclass(frozen=True)
class ConversionSettings:
    """Parameters of the conversion; recorded with every run through the adapter's `describe()`."""

    frame_period_ms: float = 5.0
    f0_floor: float = 71.0  # WORLD default; keeps the FFT at 1024 points at 22.05 kHz
    f0_ceil: float = 500.0
    warp_min: float = 0.80
    warp_max: float = 1.25
    warp_step: float = 0.01
    warp_band_hz: tuple[float, float] = (200.0, 5000.0)  # band whose shape decides α
    detrend_hz: float = 1500.0  # width of the moving average removed before matching shapes
    eq_smooth_hz: float = 500.0  # smoothing of the equalisation curve
    eq_max_db: float = 9.0  # bound on the equalisation gain (either direction)
    f0_std_ratio_bounds: tuple[float, float] = (0.5, 2.0)
    peak: float = 0.9  # output peak level


@dataclass(frozen=True)
class WorldFeatures:
    """WORLD analysis of one waveform: per-frame F0 (0 = unvoiced), envelope, aperiodicity."""

    f0: np.ndarray  # (frames,)
    sp: np.ndarray  # (frames, fft_size // 2 + 1), power
    ap: np.ndarray  # (frames, fft_size // 2 + 1), in [0, 1]
    sample_rate: int
    frame_period_ms: float

    @property
    def fft_size(self) -> int:
        return 2 * (self.sp.shape[1] - 1)


@dataclass(frozen=True)
class VoiceStats:
    """What the conversion needs to know about one voice (cache this per prompt)."""

    log_f0_mean: float
    log_f0_std: float
    mean_log_env: np.ndarray  # natural-log power, averaged over voiced frames, (bins,)
    sample_rate: int
    bandwidth_hz: float  # highest frequency the recording really contains


def analyse(wav: np.ndarray, sample_rate: int,
            settings: ConversionSettings = ConversionSettings()) -> WorldFeatures:
    """WORLD analysis with Harvest F0 (robust to octave errors), CheapTrick and D4C."""
    pw = _pyworld()
    x = np.ascontiguousarray(wav, dtype=np.float64)
    f0, t = pw.harvest(x, sample_rate, f0_floor=settings.f0_floor, f0_ceil=settings.f0_ceil,
                       frame_period=settings.frame_period_ms)
    sp = pw.cheaptrick(x, f0, t, sample_rate, f0_floor=settings.f0_floor)
    ap = pw.d4c(x, f0, t, sample_rate, fft_size=2 * (sp.shape[1] - 1))
    return WorldFeatures(f0=f0, sp=sp, ap=ap, sample_rate=sample_rate,
                         frame_period_ms=settings.frame_period_ms)


def voice_stats(features: WorldFeatures, bandwidth_hz: float | None = None) -> VoiceStats:
    """Log-F0 mean/std and long-term average log envelope over voiced, non-quiet frames.

    `bandwidth_hz` is the real bandwidth of the recording (half its original sample rate);
    default: the Nyquist frequency of the analysis.
    """
    nyquist = features.sample_rate / 2.0
    voiced = features.f0 > 0
    if voiced.sum() < 5:
        raise ValueError("too few voiced frames to estimate a voice (is the clip speech?)")
    log_f0 = np.log(features.f0[voiced])
    log_sp = np.log(np.maximum(features.sp[voiced], 1e-16))
    energy = log_sp.mean(axis=1)
    loud = energy >= np.percentile(energy, 20)  # drop the quietest voiced frames (edges, breath)
    return VoiceStats(
        log_f0_mean=float(log_f0.mean()),
        log_f0_std=float(log_f0.std()),
        mean_log_env=log_sp[loud].mean(axis=0),
        sample_rate=features.sample_rate,
        bandwidth_hz=float(min(bandwidth_hz or nyquist, nyquist)),
    )


def map_f0(f0: np.ndarray, source: VoiceStats, target: VoiceStats,
           std_ratio_bounds: tuple[float, float] = (0.5, 2.0)) -> np.ndarray:
    """Gaussian log-F0 mapping of voiced frames; unvoiced frames (0) stay 0."""
    ratio = target.log_f0_std / max(source.log_f0_std, 1e-6)
    ratio = float(np.clip(ratio, *std_ratio_bounds))
    out = np.zeros_like(f0, dtype=np.float64)
    voiced = f0 > 0
    out[voiced] = np.exp((np.log(f0[voiced]) - source.log_f0_mean) * ratio + target.log_f0_mean)
    return out


def warp_frequency_axis(frames: np.ndarray, alpha: float) -> np.ndarray:
    """Scale the frequency axis of each row by `alpha`: out(f) = in(f / alpha).

    Works on any per-bin quantity (log or linear envelope, aperiodicity). α > 1 moves features
    up; bins that would read beyond Nyquist hold the last value.
    """
    frames = np.asarray(frames, dtype=np.float64)
    bins = frames.shape[-1]
    grid = np.arange(bins, dtype=np.float64)
    src = np.clip(grid / alpha, 0.0, bins - 1.0)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, bins - 1)
    frac = src - lo
    return frames[..., lo] * (1.0 - frac) + frames[..., hi] * frac


def _moving_average(values: np.ndarray, width_bins: int) -> np.ndarray:
    """Centred moving average along the last axis, edges padded with the edge value."""
    width = max(1, int(width_bins)) | 1  # odd
    pad = width // 2
    padded = np.pad(values, [(0, 0)] * (values.ndim - 1) + [(pad, pad)], mode="edge")
    kernel = np.ones(width) / width
    return np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="valid"), -1, padded)


def _hz_to_bins(hz: float, bins: int, sample_rate: int) -> float:
    return hz / (sample_rate / 2.0) * (bins - 1)


def estimate_warp(source_log_env: np.ndarray, target_log_env: np.ndarray, sample_rate: int,
                  settings: ConversionSettings = ConversionSettings()) -> float:
    """Grid-search α so the warped source envelope's shape best matches the target's.

    Both long-term log envelopes are detrended (a wide moving average removed) so the match is
    decided by formant structure rather than spectral tilt or level; the error is the mean
    squared difference over `settings.warp_band_hz`.
    """
    bins = source_log_env.shape[-1]
    width = int(round(_hz_to_bins(settings.detrend_hz, bins, sample_rate)))
    lo = int(_hz_to_bins(settings.warp_band_hz[0], bins, sample_rate))
    hi = int(np.ceil(_hz_to_bins(settings.warp_band_hz[1], bins, sample_rate))) + 1
    target = target_log_env - _moving_average(target_log_env, width)
    alphas = np.arange(settings.warp_min, settings.warp_max + 1e-9, settings.warp_step)
    errors = []
    for alpha in alphas:
        warped = warp_frequency_axis(source_log_env, alpha)
        warped = warped - _moving_average(warped, width)
        errors.append(float(np.mean((warped[lo:hi] - target[lo:hi]) ** 2)))
    return float(alphas[int(np.argmin(errors))])


def equalisation_curve(target: VoiceStats, warped_source_log_env: np.ndarray,
                       settings: ConversionSettings = ConversionSettings()) -> np.ndarray:
    """Natural-log power gain per bin that gives the warped source the target's average colour.

    The level difference is removed (loudness is normalised at the end anyway), the curve is
    smoothed, bounded to ±`eq_max_db`, and held constant above the target's real bandwidth.
    """
    bins = warped_source_log_env.shape[-1]
    diff = target.mean_log_env - warped_source_log_env
    width = int(round(_hz_to_bins(settings.eq_smooth_hz, bins, target.sample_rate)))
    edge = int(_hz_to_bins(0.95 * target.bandwidth_hz, bins, target.sample_rate))
    edge = int(np.clip(edge, 1, bins - 1))
    diff[edge:] = diff[edge - 1]
    curve = _moving_average(diff, width)
    curve[edge:] = curve[edge - 1]
    curve = curve - curve[: edge].mean()
    bound = 2.0 * settings.eq_max_db * LN10_OVER_20  # dB of amplitude → natural log of power
    return np.clip(curve, -bound, bound)


@dataclass(frozen=True)
class ConversionPlan:
    """The per-(source voice, target voice) decisions, for logging and tests."""

    alpha: float
    eq_log_gain: np.ndarray
    source_f0_hz: float  # geometric mean voiced F0 of the source
    target_f0_hz: float


def plan_conversion(source: VoiceStats, target: VoiceStats,
                    settings: ConversionSettings = ConversionSettings()) -> ConversionPlan:
    if source.mean_log_env.shape != target.mean_log_env.shape:
        raise ValueError("source and target were analysed with different FFT sizes")
    alpha = estimate_warp(source.mean_log_env, target.mean_log_env, source.sample_rate, settings)
    warped = warp_frequency_axis(source.mean_log_env, alpha)
    return ConversionPlan(
        alpha=alpha,
        eq_log_gain=equalisation_curve(target, warped, settings),
        source_f0_hz=float(np.exp(source.log_f0_mean)),
        target_f0_hz=float(np.exp(target.log_f0_mean)),
    )


def convert(features: WorldFeatures, source: VoiceStats, target: VoiceStats,
            settings: ConversionSettings = ConversionSettings(),
            plan: ConversionPlan | None = None) -> np.ndarray:
    """Re-synthesise `features` (a source utterance) in the target voice; float32, peak-normalised."""
    pw = _pyworld()
    plan = plan or plan_conversion(source, target, settings)
    f0 = map_f0(features.f0, source, target, settings.f0_std_ratio_bounds)
    log_sp = np.log(np.maximum(features.sp, 1e-16))
    log_sp = warp_frequency_axis(log_sp, plan.alpha) + plan.eq_log_gain[None, :]
    ap = np.clip(warp_frequency_axis(features.ap, plan.alpha), 0.0, 1.0)
    wav = pw.synthesize(np.ascontiguousarray(f0), np.ascontiguousarray(np.exp(log_sp)),
                        np.ascontiguousarray(ap), features.sample_rate, features.frame_period_ms)
    return peak_normalise(wav, settings.peak)


def peak_normalise(wav: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scale to `peak` absolute maximum (silence stays silence); float32."""
    wav = np.asarray(wav, dtype=np.float64)
    top = float(np.max(np.abs(wav))) if wav.size else 0.0
    if top > 0:
        wav = wav * (peak / top)
    return wav.astype(np.float32)
