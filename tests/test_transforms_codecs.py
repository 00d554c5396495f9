"""Codecs really use the requested bitrate, decode at the stated rate, stay aligned, and change the audio."""

from __future__ import annotations

import struct
import sys

import numpy as np
import pytest
from scipy.signal import correlate

from rvcbench.audio import load_audio, resample
from rvcbench.data import load_dataset
from rvcbench.transforms.base import Audio, TransformContext, TransformUnavailable
from rvcbench.transforms.codecs import (
    OPUS_RATE,
    aac,
    aac_encode,
    aac_sample_rate,
    mp3,
    mp3_encode,
    mp3_sample_rate,
    mulaw_decode,
    mulaw_encode,
    opus,
    opus_encode,
    resample_to,
    telephone,
)

CONTEXT = TransformContext()


@pytest.fixture(scope="module")
def speech() -> Audio:
    """About 10 s of demo speech at 16 kHz (three recordings back to back)."""
    dataset = load_dataset("demo")
    wavs = [load_audio(dataset.audio_path(dataset.manifest.target_file_name[i])) for i in (0, 1, 2)]
    assert all(sr == 16000 for _, sr in wavs)
    return Audio(np.concatenate([w for w, _ in wavs]), 16000)


def _kbps(data: bytes | int, samples: int, sample_rate: int) -> float:
    size = data if isinstance(data, int) else len(data)
    return size * 8 / (samples / sample_rate) / 1000


def _lag(reference: np.ndarray, test: np.ndarray) -> int:
    c = correlate(test.astype(np.float64), reference.astype(np.float64), mode="full", method="fft")
    return int(np.argmax(c)) - (len(reference) - 1)


def _check_decoded(out: Audio, clean: Audio) -> None:
    assert out.sample_rate == clean.sample_rate and len(out.wav) == len(clean.wav) and out.wav.dtype == np.float32
    assert np.all(np.isfinite(out.wav)) and not np.array_equal(out.wav, clean.wav)
    assert abs(_lag(clean.wav, out.wav)) <= 2  # encoder delay removed
    assert np.corrcoef(clean.wav, out.wav)[0, 1] > 0.8


@pytest.mark.parametrize("kbps", [32, 64, 128])
def test_mp3_uses_the_requested_constant_bitrate_and_decodes_aligned(speech: Audio, kbps: int) -> None:
    rate = mp3_sample_rate(speech.sample_rate, kbps)
    wav = resample(speech.wav, speech.sample_rate, rate)
    assert _kbps(mp3_encode(wav, rate, kbps), len(wav), rate) == pytest.approx(kbps, rel=0.05)
    _check_decoded(mp3(speech, np.random.default_rng(0), CONTEXT, bitrate_kbps=kbps), speech)


def test_mp3_encodes_at_a_rate_where_mpeg_allows_the_bitrate() -> None:
    assert mp3_sample_rate(16000, 64) == 16000
    assert mp3_sample_rate(44100, 16) == 24000  # MPEG-1 has no 16 kbps: the highest MPEG-2 rate
    assert mp3_sample_rate(16000, 320) == 32000  # MPEG-2 stops at 160 kbps
    assert mp3_sample_rate(48000, 320) == 48000


def test_mp3_rejects_a_bitrate_mpeg_does_not_have(speech: Audio) -> None:
    with pytest.raises(ValueError, match="bitrate_kbps"):
        mp3(speech, np.random.default_rng(0), CONTEXT, bitrate_kbps=100)


def _ogg_payload_bytes(data: bytes) -> int:
    """Bytes of Opus audio packets in an Ogg stream (page bodies after the two header packets)."""
    offset, pages, total = 0, 0, 0
    while offset < len(data):
        assert data[offset:offset + 4] == b"OggS"
        (segments,) = struct.unpack_from("<B", data, offset + 26)
        body = sum(data[offset + 27: offset + 27 + segments])
        if pages >= 2:  # OpusHead and OpusTags pages
            total += body
        pages += 1
        offset += 27 + segments + body
    return total


@pytest.mark.parametrize("kbps", [6, 12, 24])
def test_opus_uses_the_requested_target_bitrate_and_decodes_aligned(speech: Audio, kbps: int) -> None:
    wav = resample(speech.wav, speech.sample_rate, OPUS_RATE)
    data = opus_encode(wav, kbps)
    assert _kbps(_ogg_payload_bytes(data), len(wav), OPUS_RATE) == pytest.approx(kbps, rel=0.25)  # VBR
    _check_decoded(opus(speech, np.random.default_rng(0), CONTEXT, bitrate_kbps=kbps), speech)


def test_opus_bitrates_are_ordered_by_size(speech: Audio) -> None:
    wav = resample(speech.wav, speech.sample_rate, OPUS_RATE)
    sizes = [len(opus_encode(wav, kbps)) for kbps in (6, 12, 24, 64)]
    assert sizes == sorted(sizes)


@pytest.mark.parametrize("kbps", [0, 5, 300])
def test_opus_rejects_a_bitrate_outside_6_to_256(speech: Audio, kbps: int) -> None:
    with pytest.raises(ValueError, match="bitrate_kbps"):
        opus(speech, np.random.default_rng(0), CONTEXT, bitrate_kbps=kbps)


@pytest.mark.parametrize("kbps", [32, 64])
def test_aac_uses_the_requested_bitrate_and_decodes_aligned(speech: Audio, kbps: int) -> None:
    pytest.importorskip("av")  # optional dependency
    rate = aac_sample_rate(speech.sample_rate, kbps)
    wav = resample(speech.wav, speech.sample_rate, rate)
    assert _kbps(aac_encode(wav, rate, kbps), len(wav), rate) == pytest.approx(kbps, rel=0.15)
    _check_decoded(aac(speech, np.random.default_rng(0), CONTEXT, bitrate_kbps=kbps), speech)


def test_aac_without_pyav_is_unavailable(speech: Audio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` raise ImportError
    with pytest.raises(TransformUnavailable, match="PyAV"):
        aac(speech, np.random.default_rng(0), CONTEXT, bitrate_kbps=64)


def test_mulaw_follows_g711() -> None:
    assert mulaw_encode(np.array([0.0, 1.0, -1.0])).tolist() == [0xFF, 0x80, 0x00]
    codes = np.arange(256)
    decoded = mulaw_decode(codes)
    assert np.all(np.diff(decoded[:128]) > 0) and np.all(np.diff(decoded[128:]) < 0)
    reencoded = mulaw_encode(decoded)
    assert np.array_equal(reencoded[codes != 0x7F], codes[codes != 0x7F])  # 0x7F is µ-law's "negative zero"
    t = np.arange(8000) / 8000
    tone = 0.5 * np.sin(2 * np.pi * 1020 * t + 0.3)
    error = tone - mulaw_decode(mulaw_encode(tone))
    assert 10 * np.log10(np.sum(tone**2) / np.sum(error**2)) > 35  # ~38 dB SQNR of 8-bit µ-law


def test_telephone_is_8_khz_band_limited_and_8_bit(speech: Audio) -> None:
    out = telephone(speech, np.random.default_rng(0), CONTEXT)
    assert out.sample_rate == 8000 and abs(len(out.wav) - len(speech.wav) / 2) <= 1
    assert len(np.unique(out.wav)) <= 256
    t = np.arange(16000) / 16000

    def level(freq: float) -> float:
        wav = telephone(Audio((0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 16000),
                        np.random.default_rng(0), CONTEXT).wav[4000:]
        return 10 * np.log10(np.mean(wav.astype(np.float64) ** 2))

    assert level(1000) - level(100) > 20 and level(1000) - level(3900) > 20
    assert level(1000) == pytest.approx(10 * np.log10(0.045), abs=1.0)


def test_resample_to_outputs_the_requested_rate(speech: Audio) -> None:
    out = resample_to(speech, np.random.default_rng(0), CONTEXT, sample_rate=8000)
    assert out.sample_rate == 8000 and abs(len(out.wav) - len(speech.wav) / 2) <= 1
    with pytest.raises(ValueError, match="sample_rate"):
        resample_to(speech, np.random.default_rng(0), CONTEXT, sample_rate=100)
