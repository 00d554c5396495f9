"""Optimised protections: perturbations computed with the gradients of a surrogate speaker encoder.

Both attack the differentiable copy of Resemblyzer's GE2E encoder (`surrogate.py`) under the same
L∞ budget as the model-free baselines in `protection.py` (‖δ‖∞ ≤ ε on [-1, 1] waveforms):

- `pgd_protection` (per utterance, white-box on the surrogate; Madry et al., 2018): from a random
  start δ₀ ~ U(−ε, ε), `steps` signed-gradient steps δ ← Π(δ − α·sign ∇δ cos(e(x+δ), e(x))), where Π
  clips to the ball and keeps x+δ in [-1, 1]; the iterate with the lowest cosine is returned.
  The random start is seeded from a hash of the clean waveform and the parameters, not from the
  condition's rng, and the result is memoised in the process: "PGD" and "PGD + denoiser" conditions
  then see the very same protected prompt (the denoiser's effect is isolated, and PGD, the costly
  step, runs once per prompt instead of once per condition).
- `enkidu_protection` (universal per speaker; after Enkidu, Zhou et al., ACM MM 2025): a complex
  time-frequency patch P (all STFT bins × `frames` frames) is tiled along the STFT time axis; since
  the inverse STFT is linear, x' = x + δ with δ = ε·tanh(iSTFT(tile(P))/ε), a waveform that does not
  depend on x. P is optimised with Adam to minimise the mean cosine between protected and clean
  embeddings over several recordings of the speaker, then applied to that speaker's prompts.

Choice for Enkidu's optimisation set: the first `recordings` recordings of the speaker in the
dataset (sorted by file name, prompts and targets alike, each cut to 4 s). The protector owns all
their recordings, so the prompt being protected may be one of them, as when a user protects what
they publish with a patch trained on their own voice. The patch is therefore identical for every
prompt of a speaker and is computed once per speaker per process.

The SIM scorer uses the same Resemblyzer encoder, so SIM of the protected prompt itself is a white-box
number; whether the protection transfers to a voice-cloning model is what `sim` of its clones shows.
"""

from __future__ import annotations

import hashlib

import numpy as np

from rvcbench.audio import resample
from rvcbench.environment import torch_threads
from rvcbench.lru import LruCache
from rvcbench.transforms.base import AUDIO, Audio, TransformContext, TransformUnavailable, transform

TORCH_THREADS = 1  # see speaker_similarity.py: one thread is fastest on a small shared CPU
ENKIDU_WINDOW_S = 0.064  # Enkidu's 1024-point STFT at 16 kHz, hop = window / 2
ENKIDU_CROP_S = 4.0  # optimisation recordings are cut to this length (the patch is tiled anyway)
ENKIDU_LEARNING_RATE = 0.2  # Adam, relative to the patch's initial scale
PATCH_CACHE = 64

PGD_CACHE = 32
_patches: LruCache[tuple, np.ndarray] = LruCache(PATCH_CACHE)
_pgd_results: LruCache[tuple, np.ndarray] = LruCache(PGD_CACHE)


def _check(epsilon: float, steps: int) -> tuple[float, int]:
    if not 0.0 < float(epsilon) <= 1.0:
        raise ValueError(f"epsilon must be in (0, 1] (an L∞ budget on [-1, 1] waveforms); got {epsilon!r}")
    if not 1 <= int(steps) <= 1000:
        raise ValueError(f"steps must be between 1 and 1000; got {steps!r}")
    return float(epsilon), int(steps)


def _view(wav: np.ndarray, sample_rate: int):
    from rvcbench.transforms.surrogate import SurrogateView

    try:
        return SurrogateView.of(wav, sample_rate)
    except ValueError as exc:
        raise TransformUnavailable(str(exc)) from exc


@transform("pgd_protection", AUDIO)
def pgd_protection(audio: Audio, rng: np.random.Generator, context: TransformContext, *,
                   epsilon: float = 8 / 255, steps: int = 20, step_size: float | None = None) -> Audio:
    """PGD under an L∞ budget ε pushing the surrogate (Resemblyzer GE2E) embedding away from the clean one.

    Step size α defaults to min(ε, 2.5·ε/steps) (each sample can cross the ball 2.5 times). The random start is
    seeded from the clean waveform's hash (not rng), so every condition gets the same protected prompt.
    """
    eps, steps = _check(epsilon, steps)
    alpha = float(step_size) if step_size is not None else min(eps, 2.5 * eps / steps)
    if not 0.0 < alpha <= eps:
        raise ValueError(f"step_size must be in (0, epsilon]; got {step_size!r}")
    wav = np.ascontiguousarray(audio.wav, dtype=np.float32)
    key = (hashlib.blake2b(wav.tobytes(), digest_size=16).hexdigest(), audio.sample_rate, eps, steps, alpha)
    out = _pgd_results.get(key)
    if out is None:
        out = _pgd(wav, audio.sample_rate, eps, steps, alpha, seed=_hash_seed("pgd", *key))
        _pgd_results.put(key, out)
    return Audio(out.copy(), audio.sample_rate)


def _pgd(wav: np.ndarray, sample_rate: int, eps: float, steps: int, alpha: float, seed: int) -> np.ndarray:
    import torch

    clean = np.asarray(wav, dtype=np.float64)
    view = _view(wav, sample_rate)
    x = torch.from_numpy(clean.astype(np.float32))
    start = np.random.default_rng(seed).uniform(-eps, eps, clean.size)
    delta = torch.from_numpy(start.astype(np.float32))
    low, high = -1.0 - x, 1.0 - x  # keep x + δ inside [-1, 1]
    best, best_cosine = delta.clone(), np.inf
    with torch_threads(TORCH_THREADS):
        with torch.no_grad():
            target = view.embed(x)
        for _ in range(steps + 1):
            delta.requires_grad_(True)
            cosine = torch.dot(view.embed(x + delta), target)
            value = float(cosine.detach())
            if value < best_cosine:
                best, best_cosine = delta.detach().clone(), value
            (gradient,) = torch.autograd.grad(cosine, delta)
            with torch.no_grad():
                delta = (delta - alpha * gradient.sign()).clamp(-eps, eps)
                delta = torch.maximum(torch.minimum(delta, high), low)
    return np.clip(clean + np.clip(best.numpy().astype(np.float64), -eps, eps), -1.0, 1.0).astype(np.float32)


def _hash_seed(*parts: object) -> int:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _tiled_perturbation(patch_real, patch_imag, length: int, n_fft: int, eps: float):
    """δ = ε·tanh(iSTFT(P tiled along time)/ε), `length` samples (torch, differentiable in P)."""
    import torch

    hop = n_fft // 2
    frames = length // hop + 1  # what a centred STFT of `length` samples has
    reps = -(-frames // patch_real.shape[1])
    spec = torch.complex(patch_real, patch_imag).repeat(1, reps)[:, :frames]
    window = torch.hann_window(n_fft, periodic=True)
    wave = torch.istft(spec, n_fft, hop_length=hop, window=window, center=True, length=length)
    return eps * torch.tanh(wave / eps)


def enkidu_patch(recordings: list[tuple[str, Audio]], sample_rate: int, *, speaker_id: str, epsilon: float,
                 frames: int, steps: int) -> np.ndarray:
    """The speaker's universal patch, complex (bins, frames), optimised over their recordings (cached)."""
    import torch

    key = (speaker_id, sample_rate, epsilon, frames, steps, tuple(name for name, _ in recordings))
    cached = _patches.get(key)
    if cached is not None:
        return cached
    n_fft = 2 * int(round(ENKIDU_WINDOW_S * sample_rate / 2))
    crop = int(ENKIDU_CROP_S * sample_rate)
    clips = []
    for _, rec in recordings:
        wav = resample(rec.wav, rec.sample_rate, sample_rate)[:crop]
        if len(wav) >= n_fft:
            view = _view(wav, sample_rate)
            with torch.no_grad(), torch_threads(TORCH_THREADS):
                x = torch.from_numpy(np.asarray(wav, dtype=np.float32))
                clips.append((x, view, view.embed(x)))
    if not clips:
        raise TransformUnavailable(f"speaker {speaker_id!r} has no recording long enough to optimise a patch on")
    generator = torch.Generator().manual_seed(_hash_seed("enkidu", speaker_id, sample_rate, frames))
    scale = epsilon * np.sqrt(n_fft) / 4  # initial δ with an RMS of about ε/4 (Hann window, 50 % overlap)
    patch = [(torch.randn((n_fft // 2 + 1, frames), generator=generator) * scale).requires_grad_(True)
             for _ in range(2)]
    optimiser = torch.optim.Adam(patch, lr=ENKIDU_LEARNING_RATE * scale)
    with torch_threads(TORCH_THREADS):
        for _ in range(steps):
            optimiser.zero_grad()
            loss = sum(torch.dot(view.embed(x + _tiled_perturbation(*patch, x.shape[0], n_fft, epsilon)), target)
                       for x, view, target in clips) / len(clips)
            loss.backward()
            optimiser.step()
    result = (patch[0].detach() + 1j * patch[1].detach()).numpy().astype(np.complex64)
    _patches.put(key, result)
    return result


@transform("enkidu_protection", AUDIO)
def enkidu_protection(audio: Audio, rng: np.random.Generator, context: TransformContext, *,
                      epsilon: float = 8 / 255, frames: int = 30, steps: int = 30, recordings: int = 4) -> Audio:
    """A universal per-speaker STFT patch (Enkidu-style), optimised on the speaker's recordings, L∞ ≤ ε.

    Independent of rng: the patch is seeded from the speaker id, so every prompt of a speaker gets the same δ.
    """
    import torch

    eps, steps = _check(epsilon, steps)
    if not 1 <= int(frames) <= 1000 or not 1 <= int(recordings) <= 100:
        raise ValueError(f"frames must be in [1, 1000] and recordings in [1, 100]; got {frames!r}, {recordings!r}")
    own = context.same_speaker(context.speaker_id, limit=int(recordings))
    if not own:
        raise TransformUnavailable("the universal patch needs recordings of the same speaker; none in the context")
    patch = enkidu_patch(own, audio.sample_rate, speaker_id=context.speaker_id, epsilon=eps, frames=int(frames),
                         steps=steps)
    n_fft = 2 * (patch.shape[0] - 1)
    with torch.no_grad():
        delta = _tiled_perturbation(torch.from_numpy(patch.real.copy()), torch.from_numpy(patch.imag.copy()),
                                    len(audio.wav), n_fft, eps).numpy().astype(np.float64)
    out = np.clip(np.asarray(audio.wav, dtype=np.float64) + np.clip(delta, -eps, eps), -1.0, 1.0)
    return Audio(out.astype(np.float32), audio.sample_rate)
