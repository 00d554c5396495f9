"""Noise, reverberation and interfering talkers measure what they promise (SNR/SIR within 0.1 dB, RT60 within 10%)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from rvcbench.audio import load_audio
from rvcbench.data import load_dataset
from rvcbench.transforms.base import Audio, TransformContext, TransformUnavailable
from rvcbench.transforms.interference import add_talker
from rvcbench.transforms.noise import NOISE_TYPES, add_noise, add_reverb, mix_at_snr, room_impulse_response


def _speech(index: int = 0) -> Audio:
    dataset = load_dataset("demo")
    return Audio(*load_audio(dataset.audio_path(dataset.manifest.target_file_name[index])))


def _context(n_other: int = 4) -> TransformContext:
    others = [(f"spk{i}", _speech(3 * (i + 1))) for i in range(n_other)]
    return TransformContext(speaker_id="me", other_speakers=lambda speaker_id, gender="any": list(others))


def _db(signal: np.ndarray, noise: np.ndarray) -> float:
    s, n = np.asarray(signal, np.float64), np.asarray(noise, np.float64)
    return float(10 * np.log10(np.sum(s**2) / np.sum(n**2)))


def _quiet(audio: Audio) -> Audio:
    """Low enough that no mix needs peak limiting, so `output − input` is exactly the added noise."""
    return Audio((audio.wav * (0.02 / np.max(np.abs(audio.wav)))).astype(np.float32), audio.sample_rate)


@pytest.mark.parametrize("noise", [n for n in NOISE_TYPES if n != "file"])
@pytest.mark.parametrize("snr_db", [20.0, 0.0])
def test_add_noise_measures_the_requested_snr(noise: str, snr_db: float) -> None:
    clean = _quiet(_speech())
    out = add_noise(clean, np.random.default_rng(1), _context(), snr_db=snr_db, noise=noise)
    assert out.sample_rate == clean.sample_rate and len(out.wav) == len(clean.wav) and out.wav.dtype == np.float32
    assert _db(clean.wav, out.wav.astype(np.float64) - clean.wav) == pytest.approx(snr_db, abs=0.1)


def test_peak_limiting_scales_the_whole_mix_and_keeps_the_snr() -> None:
    rng = np.random.default_rng(0)
    signal = 0.9 * np.sin(np.linspace(0, 200 * np.pi, 16000))
    noise = rng.standard_normal(16000)
    mixed = mix_at_snr(signal, noise, 0.0).astype(np.float64)
    assert np.max(np.abs(mixed)) <= 0.99 + 1e-6
    (a, b), *_ = np.linalg.lstsq(np.stack([signal, noise], axis=1), mixed, rcond=None)
    assert a < 0.99  # it was scaled down
    assert _db(a * signal, b * noise) == pytest.approx(0.0, abs=0.1)


def test_noise_from_a_folder_skips_unreadable_files(tmp_path) -> None:
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    sf.write(tmp_path / "cafe.flac", np.random.default_rng(3).standard_normal(8000) * 0.1, 8000)
    clean = _quiet(_speech())
    out = add_noise(clean, np.random.default_rng(1), _context(), snr_db=5.0, noise="file", noise_dir=str(tmp_path))
    assert _db(clean.wav, out.wav.astype(np.float64) - clean.wav) == pytest.approx(5.0, abs=0.1)


def test_noise_folder_without_readable_audio_is_unavailable(tmp_path) -> None:
    clean = _speech()
    with pytest.raises(TransformUnavailable):
        add_noise(clean, np.random.default_rng(1), _context(), snr_db=5, noise="file", noise_dir=str(tmp_path))
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    with pytest.raises(TransformUnavailable, match="no readable"):
        add_noise(clean, np.random.default_rng(1), _context(), snr_db=5, noise="file", noise_dir=str(tmp_path))
    with pytest.raises(ValueError, match="noise_dir"):
        add_noise(clean, np.random.default_rng(1), _context(), snr_db=5, noise="file")


def test_babble_needs_two_other_speakers() -> None:
    with pytest.raises(TransformUnavailable, match="at least 2"):
        add_noise(_speech(), np.random.default_rng(0), _context(n_other=1), snr_db=5, noise="babble")


def test_speech_shaped_noise_falls_back_to_the_input_without_other_speakers() -> None:
    clean = _quiet(_speech())
    out = add_noise(clean, np.random.default_rng(0), _context(n_other=0), snr_db=10, noise="speech_shaped")
    assert _db(clean.wav, out.wav.astype(np.float64) - clean.wav) == pytest.approx(10.0, abs=0.1)


@pytest.mark.parametrize("noise", ["white", "babble", "hum"])
def test_add_noise_is_deterministic_given_the_seed(noise: str) -> None:
    clean, context = _speech(), _context()
    first = add_noise(clean, np.random.default_rng(7), context, snr_db=5, noise=noise).wav
    again = add_noise(clean, np.random.default_rng(7), context, snr_db=5, noise=noise).wav
    other = add_noise(clean, np.random.default_rng(8), context, snr_db=5, noise=noise).wav
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_add_noise_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="noise must be one of"):
        add_noise(_speech(), np.random.default_rng(0), _context(), snr_db=5, noise="purple")
    with pytest.raises(ValueError, match="snr_db"):
        add_noise(_speech(), np.random.default_rng(0), _context(), snr_db=500)


def schroeder_rt60(rir: np.ndarray, sample_rate: int) -> float:
    """RT60 from the Schroeder backward-integrated energy decay curve, line fit from −5 to −35 dB (T30)."""
    edc = np.cumsum(rir[::-1] ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    fit = (edc_db <= -5) & (edc_db >= -35)
    slope, _ = np.polyfit(np.flatnonzero(fit) / sample_rate, edc_db[fit], 1)
    return -60.0 / slope


@pytest.mark.parametrize("rt60_s", [0.3, 0.6, 1.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_room_impulse_response_decays_at_the_requested_rt60(rt60_s: float, seed: int) -> None:
    rir = room_impulse_response(rt60_s, 16000, np.random.default_rng(seed))
    assert schroeder_rt60(rir, 16000) == pytest.approx(rt60_s, rel=0.10)


def test_add_reverb_keeps_length_and_rms_and_is_deterministic() -> None:
    clean = _speech()
    out = add_reverb(clean, np.random.default_rng(0), _context(0), rt60_s=0.6)
    again = add_reverb(clean, np.random.default_rng(0), _context(0), rt60_s=0.6)
    other = add_reverb(clean, np.random.default_rng(1), _context(0), rt60_s=0.6)
    assert len(out.wav) == len(clean.wav) and out.sample_rate == clean.sample_rate
    assert np.sqrt(np.mean(out.wav.astype(np.float64) ** 2)) == pytest.approx(
        np.sqrt(np.mean(clean.wav.astype(np.float64) ** 2)), rel=1e-3)
    assert np.array_equal(out.wav, again.wav) and not np.array_equal(out.wav, other.wav)
    assert not np.allclose(out.wav, clean.wav, atol=1e-3)


@pytest.mark.parametrize("rt60_s", [0, -1, 20])
def test_add_reverb_rejects_bad_rt60(rt60_s: float) -> None:
    with pytest.raises(ValueError, match="rt60_s"):
        add_reverb(_speech(), np.random.default_rng(0), _context(0), rt60_s=rt60_s)


@pytest.mark.parametrize("sir_db", [10.0, 0.0, -5.0])
def test_add_talker_measures_the_requested_sir(sir_db: float) -> None:
    clean = _quiet(_speech())
    out = add_talker(clean, np.random.default_rng(2), _context(), sir_db=sir_db)
    assert len(out.wav) == len(clean.wav)
    assert _db(clean.wav, out.wav.astype(np.float64) - clean.wav) == pytest.approx(sir_db, abs=0.1)


def test_add_talker_asks_the_context_for_the_gender_and_is_deterministic() -> None:
    asked = []
    others = [(f"spk{i}", _speech(3 * (i + 1))) for i in range(3)]

    def other_speakers(speaker_id: str, gender: str = "any") -> list[tuple[str, Audio]]:
        asked.append((speaker_id, gender))
        return others

    context = TransformContext(speaker_id="me", other_speakers=other_speakers)
    first = add_talker(_speech(), np.random.default_rng(5), context, sir_db=0, gender="other").wav
    again = add_talker(_speech(), np.random.default_rng(5), context, sir_db=0, gender="other").wav
    different = [add_talker(_speech(), np.random.default_rng(s), context, sir_db=0, gender="other").wav
                 for s in range(6, 9)]
    assert asked[0] == ("me", "other")
    assert np.array_equal(first, again) and not any(np.array_equal(first, d) for d in different)


def test_add_talker_without_such_a_speaker_is_unavailable_and_bad_gender_is_rejected() -> None:
    with pytest.raises(TransformUnavailable, match="same gender"):
        add_talker(_speech(), np.random.default_rng(0), _context(0), sir_db=0, gender="same")
    with pytest.raises(ValueError, match="gender"):
        add_talker(_speech(), np.random.default_rng(0), _context(), sir_db=0, gender="female")
