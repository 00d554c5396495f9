"""The optimised protections (PGD, universal patch), their differentiable surrogate, and the neural denoiser."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rvcbench.audio import load_audio, resample
from rvcbench.data import load_dataset
from rvcbench.transforms import adversarial, surrogate
from rvcbench.transforms.base import TRANSFORMS, Audio, TransformContext, TransformUnavailable
from rvcbench.transforms.neural_denoise import deepfilternet_denoise
from rvcbench.transforms.protection import gaussian_protection

EPS = 8 / 255
CTX = TransformContext()


def _demo(name: str, seconds: float | None = None) -> Audio:
    wav, sr = load_audio(load_dataset("demo").root / "audios" / name)
    return Audio(wav[: int(seconds * sr)] if seconds else wav, sr)


def _resemblyzer(audio: Audio) -> np.ndarray:
    """The real (non-differentiable) Resemblyzer pipeline, as the SIM scorer runs it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        from resemblyzer import preprocess_wav
    return surrogate.load_encoder().embed_utterance(preprocess_wav(resample(audio.wav, audio.sample_rate, 16000)))


@pytest.fixture(scope="module")
def prompt() -> Audio:
    return _demo("arctic_aew/aew_arctic_a0002.flac", seconds=2.5)


def test_torch_mel_front_end_matches_resemblyzers_librosa_mel(prompt) -> None:
    import torch
    from resemblyzer import audio as rz_audio

    theirs = rz_audio.wav_to_mel_spectrogram(prompt.wav)
    ours = surrogate.mel_spectrogram(torch.from_numpy(prompt.wav)).numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-5 * float(theirs.max()))


def test_vad_mask_keeps_exactly_what_resemblyzer_trims_to(prompt) -> None:
    from resemblyzer import audio as rz_audio

    wav = _demo("vctk_p226/p226_003.flac")
    wav16 = resample(wav.wav, wav.sample_rate, 16000)
    keep = surrogate.vad_keep_mask(wav16)
    assert not keep.all()  # the recording has silences to trim, so the comparison means something
    np.testing.assert_array_equal(wav16[: len(keep)][keep], rz_audio.trim_long_silences(wav16))


def test_surrogate_embedding_equals_resemblyzers_embedding(prompt) -> None:
    import torch

    with torch.no_grad():
        ours = surrogate.SurrogateView.of(prompt.wav, prompt.sample_rate).embed(torch.from_numpy(prompt.wav)).numpy()
    assert float(ours @ _resemblyzer(prompt)) > 0.9999


def test_pgd_respects_the_linf_budget_and_beats_noise_of_the_same_budget(prompt) -> None:
    protected = adversarial.pgd_protection(prompt, np.random.default_rng(0), CTX, epsilon=EPS, steps=5)
    noisy = gaussian_protection(prompt, np.random.default_rng(0), CTX, epsilon=EPS)
    delta = protected.wav.astype(np.float64) - prompt.wav
    assert protected.wav.shape == prompt.wav.shape and protected.sample_rate == prompt.sample_rate
    assert np.max(np.abs(delta)) <= EPS + 1e-6  # float32 rounding of x + δ only
    assert np.max(np.abs(protected.wav)) <= 1.0
    clean = _resemblyzer(prompt)
    sim_pgd, sim_noise = float(_resemblyzer(protected) @ clean), float(_resemblyzer(noisy) @ clean)
    assert sim_pgd < sim_noise - 0.2, (sim_pgd, sim_noise)


def test_pgd_is_deterministic_and_the_same_in_every_condition(prompt) -> None:
    key = dict(eps=EPS, steps=2, alpha=EPS / 4)
    first = adversarial._pgd(prompt.wav, prompt.sample_rate, seed=7, **key)
    again = adversarial._pgd(prompt.wav, prompt.sample_rate, seed=7, **key)
    other_start = adversarial._pgd(prompt.wav, prompt.sample_rate, seed=8, **key)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other_start)
    a = adversarial.pgd_protection(prompt, np.random.default_rng(1), CTX, epsilon=EPS, steps=2)
    b = adversarial.pgd_protection(prompt, np.random.default_rng(2), CTX, epsilon=EPS, steps=2)
    np.testing.assert_array_equal(a.wav, b.wav)  # seeded from the waveform, not from the condition's rng


def _speaker_context(speaker: str, files: list[str]) -> TransformContext:
    recordings = [(f, _demo(f"{speaker}/{f}", seconds=2.0)) for f in files]
    return TransformContext(speaker_id=speaker, same_speaker=lambda sid, limit=None: recordings[:limit])


def test_enkidu_patch_is_one_universal_perturbation_per_speaker_within_budget() -> None:
    params = dict(epsilon=EPS, steps=2, recordings=2, frames=10)
    aew = _speaker_context("arctic_aew", ["aew_arctic_a0001.flac", "aew_arctic_a0003.flac"])
    axb = _speaker_context("arctic_axb", ["axb_arctic_a0004.flac", "axb_arctic_a0005.flac"])
    deltas = []
    for audio, ctx, seed in ((_demo("arctic_aew/aew_arctic_a0002.flac", 2.0), aew, 1),
                             (_demo("arctic_aew/aew_arctic_a0001.flac", 2.0), aew, 2),
                             (_demo("arctic_aew/aew_arctic_a0002.flac", 2.0), axb, 3)):
        out = TRANSFORMS["enkidu_protection"].function(audio, np.random.default_rng(seed), ctx, **params)
        deltas.append(out.wav.astype(np.float64) - audio.wav)
    same_a, same_b, other = deltas
    n = min(len(same_a), len(same_b))
    np.testing.assert_allclose(same_a[:n], same_b[:n], atol=1e-6)  # same speaker: the same δ on any prompt
    assert np.max(np.abs(same_a[:n] - other[:n])) > EPS / 2  # another speaker: another patch
    assert max(np.max(np.abs(d)) for d in deltas) <= EPS + 1e-6
    assert np.sqrt(np.mean(same_a**2)) > EPS / 10  # the budget is used, not a vanishing patch


def test_enkidu_optimisation_lowers_the_surrogate_similarity_on_the_speakers_recordings() -> None:
    import torch

    ctx = _speaker_context("arctic_aew", ["aew_arctic_a0001.flac", "aew_arctic_a0003.flac"])
    recordings = ctx.same_speaker("arctic_aew")

    def mean_cosine(steps: int) -> float:
        patch = adversarial.enkidu_patch(recordings, 16000, speaker_id="arctic_aew", epsilon=EPS, frames=10,
                                         steps=steps)
        n_fft = 2 * (patch.shape[0] - 1)
        cosines = []
        for _, audio in recordings:
            x = torch.from_numpy(audio.wav)
            view = surrogate.SurrogateView.of(audio.wav, audio.sample_rate)
            with torch.no_grad():
                delta = adversarial._tiled_perturbation(torch.from_numpy(patch.real.copy()),
                                                        torch.from_numpy(patch.imag.copy()), len(x), n_fft, EPS)
                cosines.append(float(view.embed(x + delta) @ view.embed(x)))
        return float(np.mean(cosines))

    assert mean_cosine(6) < mean_cosine(1) - 0.05


def test_enkidu_without_recordings_of_the_speaker_is_unavailable(prompt) -> None:
    with pytest.raises(TransformUnavailable, match="same speaker"):
        adversarial.enkidu_protection(prompt, np.random.default_rng(0), CTX)


def test_deepfilternet_raises_the_snr_of_noisy_speech() -> None:
    from rvcbench.scoring.perceptual_budget import snr_db

    clean = _demo("vctk_p225/p225_003.flac", seconds=3.0)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(len(clean.wav)) * np.sqrt(np.mean(clean.wav.astype(np.float64) ** 2) / 10.0)
    noisy = Audio((clean.wav + noise).astype(np.float32), clean.sample_rate)  # 10 dB SNR
    denoised = deepfilternet_denoise(noisy, rng, CTX)
    assert len(denoised.wav) == len(clean.wav) and denoised.sample_rate == clean.sample_rate
    assert snr_db(clean.wav, noisy.wav) == pytest.approx(10.0, abs=0.2)
    assert snr_db(clean.wav, denoised.wav) > snr_db(clean.wav, noisy.wav) + 5.0  # also proves the delay is removed
