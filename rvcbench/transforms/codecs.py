"""Lossy codecs and channels a prompt may have passed through: MP3, Opus, AAC, telephone, resampling.

Encoding and decoding happen in memory. MP3 and Opus go through libsndfile (soundfile), whose only
bitrate control is `compression_level` in [0, 1]; libsndfile 1.2 maps it linearly to a bitrate, and the
inverse mapping below makes the encoder use exactly the requested bitrate:

- MP3 (LAME, constant bitrate): kbps = int(top − level·(top − bottom)) where [bottom, top] is [32, 320]
  for MPEG-1 rates (32–48 kHz), [8, 160] for MPEG-2 (16–24 kHz), [8, 64] for MPEG-2.5 (8–12 kHz)
  (src/mpeg_l3_encode.c, mpeg_l3_encoder_set_quality).
- Opus: bps = int((1 − level)·250000 + 6000) per channel, passed to OPUS_SET_BITRATE (src/ogg_opus.c,
  SFC_SET_COMPRESSION_LEVEL); Opus runs in its default (VBR) mode, so the size is ≈ bitrate × duration.

AAC goes through PyAV (FFmpeg's native AAC encoder, `bit_rate` set directly); `av` is optional.
Every codec returns audio at the input's sample rate and length, aligned to the input (encoder delay
removed), so only the coding loss differs; `telephone` and `resample_to` change the rate on purpose.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfilt

from rvcbench.audio import resample
from rvcbench.transforms.base import AUDIO, Audio, TransformContext, TransformUnavailable, transform

# MPEG audio: sample rates per version and the bitrates (kbps) each version allows (ISO 11172-3, 13818-3).
MP3_VERSIONS = (  # (sample rates, allowed bitrates, libsndfile's [bottom, top] for compression_level)
    ((32000, 44100, 48000), (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320), (32, 320)),
    ((16000, 22050, 24000), (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160), (8, 160)),
    ((8000, 11025, 12000), (8, 16, 24, 32, 40, 48, 56, 64), (8, 64)),
)
MP3_BITRATES = tuple(sorted({b for _, rates, _ in MP3_VERSIONS for b in rates}))
# LAME's encoder delay (576) plus mpg123's decoder delay (529): left in the output when the frames are
# too small to carry the LAME gapless-playback tag (low bitrates), removed here.
MP3_CODEC_DELAY = 576 + 529

OPUS_RATE = 48000
OPUS_KBPS = (6, 256)
AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
AAC_KBPS = (8, 320)
AAC_MAX_BITS_PER_SAMPLE = 3  # FFmpeg's AAC encoder falls short of the bitrate above ~3.5 bits/sample (mono)

TELEPHONE_RATE = 8000
TELEPHONE_BAND_HZ = (300.0, 3400.0)
MU = 255


def _check_kbps(name: str, bitrate_kbps: int, allowed: tuple[int, ...] | None, span: tuple[int, int]) -> int:
    if isinstance(bitrate_kbps, bool) or int(bitrate_kbps) != bitrate_kbps:
        raise ValueError(f"bitrate_kbps for {name} must be an integer; got {bitrate_kbps!r}")
    kbps = int(bitrate_kbps)
    if allowed is not None and kbps not in allowed:
        raise ValueError(f"bitrate_kbps for {name} must be one of {', '.join(map(str, allowed))}; got {kbps}")
    if not span[0] <= kbps <= span[1]:
        raise ValueError(f"bitrate_kbps for {name} must be between {span[0]} and {span[1]}; got {kbps}")
    return kbps


def _fit(wav: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad to `length` samples, float32."""
    out = np.zeros(length, dtype=np.float32)
    out[: min(length, len(wav))] = wav[:length]
    return out


def mp3_sample_rate(sample_rate: int, kbps: int) -> int:
    """The MP3 sample rate to encode at: the input's if MPEG allows `kbps` there, else the nearest that does.

    Prefers the highest allowed rate not above the input (low bitrates force a lower rate, as LAME
    itself would choose), else the lowest allowed rate above it.
    """
    allowed = sorted(r for rates, bitrates, _ in MP3_VERSIONS if kbps in bitrates for r in rates)
    below = [r for r in allowed if r <= sample_rate]
    return below[-1] if below else allowed[0]


def mp3_encode(wav: np.ndarray, sample_rate: int, kbps: int) -> bytes:
    """Constant-bitrate MP3 at exactly `kbps` (sample_rate must be an MP3 rate allowing it)."""
    for rates, bitrates, (bottom, top) in MP3_VERSIONS:
        if sample_rate in rates:
            if kbps not in bitrates:
                raise ValueError(f"bitrate_kbps {kbps} is not an MPEG bitrate at {sample_rate} Hz")
            # libsndfile truncates top − level·(top − bottom) to an int: aim half a kbps above kbps.
            level = min(1.0, max(0.0, (top - kbps - 0.5) / (top - bottom)))
            buffer = io.BytesIO()
            sf.write(buffer, np.asarray(wav, dtype=np.float32), sample_rate, format="MP3",
                     subtype="MPEG_LAYER_III", compression_level=level, bitrate_mode="CONSTANT")
            return buffer.getvalue()
    raise ValueError(f"{sample_rate} Hz is not an MP3 sample rate")


def _decode_soundfile(data: bytes) -> tuple[np.ndarray, int]:
    wav, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return wav.mean(axis=1), int(sr)


@transform("mp3", AUDIO)
def mp3(audio: Audio, rng: np.random.Generator, context: TransformContext, *, bitrate_kbps: int) -> Audio:
    """MP3 (LAME, constant bitrate) encode and decode; returned at the input's sample rate and length.

    Encodes at the input rate if MPEG allows the bitrate there, else at the nearest MP3 rate that does.
    """
    kbps = _check_kbps("mp3", bitrate_kbps, MP3_BITRATES, (MP3_BITRATES[0], MP3_BITRATES[-1]))
    rate = mp3_sample_rate(audio.sample_rate, kbps)
    wav = resample(audio.wav, audio.sample_rate, rate)
    decoded, decoded_rate = _decode_soundfile(mp3_encode(wav, rate, kbps))
    if len(decoded) >= len(wav) + MP3_CODEC_DELAY:  # no gapless tag: remove the codec delay ourselves
        decoded = decoded[MP3_CODEC_DELAY:]
    out = resample(_fit(decoded, len(wav)), decoded_rate, audio.sample_rate)
    return Audio(_fit(out, len(audio.wav)), audio.sample_rate)


def opus_encode(wav: np.ndarray, kbps: int) -> bytes:
    """Ogg Opus at 48 kHz with a target bitrate of exactly `kbps` (VBR)."""
    # libsndfile: bps = int((1 − level)·250000 + 6000); aim half a bit per second above, for the truncation.
    level = min(1.0, max(0.0, 1.0 - (kbps * 1000 - 6000 + 0.5) / 250000.0))
    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(wav, dtype=np.float32), OPUS_RATE, format="OGG", subtype="OPUS",
             compression_level=level)
    return buffer.getvalue()


@transform("opus", AUDIO)
def opus(audio: Audio, rng: np.random.Generator, context: TransformContext, *, bitrate_kbps: int) -> Audio:
    """Opus (48 kHz, VBR at the given target bitrate) encode and decode; returned at the input's rate and length."""
    kbps = _check_kbps("opus", bitrate_kbps, None, OPUS_KBPS)
    wav = resample(audio.wav, audio.sample_rate, OPUS_RATE)
    decoded, decoded_rate = _decode_soundfile(opus_encode(wav, kbps))
    out = resample(_fit(decoded, len(wav)), decoded_rate, audio.sample_rate)
    return Audio(_fit(out, len(audio.wav)), audio.sample_rate)


def aac_sample_rate(sample_rate: int, kbps: int) -> int:
    """The AAC rate to encode at: the smallest standard rate ≥ the input's with ≤ 3 bits per sample."""
    for rate in AAC_RATES:
        if rate >= sample_rate and kbps * 1000 <= AAC_MAX_BITS_PER_SAMPLE * rate:
            return rate
    return AAC_RATES[-1]


def aac_encode(wav: np.ndarray, sample_rate: int, kbps: int) -> bytes:
    """AAC-LC in an MP4 container (FFmpeg's native encoder, bit_rate = kbps·1000) via PyAV."""
    try:
        import av
    except ImportError as error:
        raise TransformUnavailable("the aac transform needs PyAV: pip install av") from error
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=sample_rate, layout="mono")
        stream.bit_rate = kbps * 1000
        frame = av.AudioFrame.from_ndarray(np.asarray(wav, dtype=np.float32)[None, :], format="fltp", layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def aac_decode(data: bytes) -> tuple[np.ndarray, int]:
    """Decode an MP4/AAC byte string (the MP4 edit list removes the encoder's priming samples)."""
    import av

    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray().reshape(-1, frame.samples).mean(axis=0) for frame in container.decode(stream)]
        rate = int(stream.codec_context.sample_rate)
    return (np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)), rate


@transform("aac", AUDIO)
def aac(audio: Audio, rng: np.random.Generator, context: TransformContext, *, bitrate_kbps: int) -> Audio:
    """AAC-LC (FFmpeg via PyAV) encode and decode; returned at the input's sample rate and length.

    Encodes at the input rate, or at a higher standard rate where the bitrate exceeds 3 bits per sample
    (FFmpeg's encoder cannot spend more there).
    """
    kbps = _check_kbps("aac", bitrate_kbps, None, AAC_KBPS)
    rate = aac_sample_rate(audio.sample_rate, kbps)
    wav = resample(audio.wav, audio.sample_rate, rate)
    decoded, decoded_rate = aac_decode(aac_encode(wav, rate, kbps))
    out = resample(_fit(decoded, len(wav)), decoded_rate, audio.sample_rate)
    return Audio(_fit(out, len(audio.wav)), audio.sample_rate)


def mulaw_encode(wav: np.ndarray) -> np.ndarray:
    """ITU-T G.711 µ-law (µ = 255): float in [-1, 1] → 8-bit codes (uint8), the segmented encoder of the standard.

    The float is scaled to 16-bit PCM and shifted to the 14-bit range G.711 codes, clipped at 8159, biased
    by 33, and coded as sign, 3-bit segment and 4-bit mantissa with all bits inverted (the reference
    implementation's `linear2ulaw`).
    """
    pcm16 = np.round(np.clip(np.asarray(wav, dtype=np.float64), -1.0, 1.0) * 32767.0).astype(np.int64)
    pcm = pcm16 >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), 8159) + 33
    segment_ends = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    segment = np.searchsorted(segment_ends, magnitude, side="left")
    code = np.where(segment >= 8, 0x7F, (segment << 4) | ((magnitude >> np.minimum(segment + 1, 8)) & 0xF))
    return (code ^ mask).astype(np.uint8)


def mulaw_decode(codes: np.ndarray) -> np.ndarray:
    """G.711 µ-law 8-bit codes → float in [-1, 1] (the reference `ulaw2linear`, 16-bit scale)."""
    u = ~np.asarray(codes, dtype=np.int64) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    linear16 = np.where(u & 0x80, 0x84 - t, t - 0x84)
    return (linear16 / 32768.0).astype(np.float32)


@transform("telephone", AUDIO)
def telephone(audio: Audio, rng: np.random.Generator, context: TransformContext) -> Audio:
    """Narrowband telephone channel: 8 kHz, 300–3400 Hz band-pass, G.711 µ-law 8-bit; output at 8 kHz.

    The band-pass is a causal 4th-order Butterworth (like the channel filter of a handset); the level
    is kept (µ-law saturates above full scale).
    """
    wav = resample(audio.wav, audio.sample_rate, TELEPHONE_RATE).astype(np.float64)
    sos = butter(4, TELEPHONE_BAND_HZ, btype="bandpass", fs=TELEPHONE_RATE, output="sos")
    band = sosfilt(sos, wav)
    return Audio(mulaw_decode(mulaw_encode(band)), TELEPHONE_RATE)


@transform("resample_to", AUDIO)
def resample_to(audio: Audio, rng: np.random.Generator, context: TransformContext, *, sample_rate: int) -> Audio:
    """Resample to `sample_rate` Hz (polyphase, band-limited); output at that rate."""
    if isinstance(sample_rate, bool) or int(sample_rate) != sample_rate or not 1000 <= int(sample_rate) <= 192000:
        raise ValueError(f"sample_rate must be an integer between 1000 and 192000 Hz; got {sample_rate!r}")
    return Audio(resample(audio.wav, audio.sample_rate, int(sample_rate)), int(sample_rate))
