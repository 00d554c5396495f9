"""UTMOS22 strong learner (naturalness MOS, higher is better) as tarepan/SpeechMOS packages it.

Upstream use (F5-TTS `eval/eval_utmos.py`): `torch.hub.load("tarepan/SpeechMOS:v1.2.0", "utmos22_strong")`, then
`predictor(wave, sr)` on one clip at a time. The weights are SpeechMOS's release file
`utmos22_strong_step7459_v1.pt` (a plain state_dict converted from sarulab-speech/UTMOS22's strong-learner
checkpoint; https://github.com/tarepan/SpeechMOS/releases/download/v1.0.0/utmos22_strong_step7459_v1.pt).
Note: the PyPI package called `speechmos` is Microsoft's DNSMOS/PLCMOS package, not this one.

The network (`speechmos/utmos22/strong/model.py` + `fairseq_alt.py`, re-implemented here with the same module
names, so that file loads with `load_state_dict(strict=True)`):
  1. 16 kHz waveform (B, T) → wav2vec 2.0 base encoder: 7 convs (512 ch; the first with GroupNorm(512, 512)
     over time, all GELU, no bias), LayerNorm, Linear 512→768, a weight-normed grouped positional conv
     (kernel 128, 16 groups, last frame dropped, GELU) added, LayerNorm, 12 post-LN transformer layers (12 heads,
     FFN 3072, GELU) → (B, frames, 768).
  2. Two fixed learned vectors are appended to every frame: the data-domain embedding and the judge embedding
     (128 each, as frozen (1, 128) parameters `domain_emb`, `judge_emb`).
  3. BLSTM (1024 → 2 × 512), Linear 1024→2048, ReLU, Linear 2048→1 per frame; the mean over frames × 2 + 3.
Upstream pads an odd frame count to even inside the transformer and masks the pad as a key; a masked key has
no effect, so it is not done here. Sizes are read from the state dict's shapes (`Utmos22Config.from_state_dict`,
heads = width / 64 as in wav2vec 2.0 base), so the tests build the same code small.

Batching: the network has no padding mask, and padding changes its output (GroupNorm statistics over time, the
BLSTM and the mean run over the padded frames). So clips are only batched with clips of exactly the same length;
any other clip runs alone (batch of one, as upstream does). Equal-length batches equal one-at-a-time scoring up to
float summation order (measured on CPU: identical). A full-size model with random weights gives exactly
SpeechMOS's own code's scores on demo clips; zero-padding one clip by 1 s moved its (random-weight) score by 0.004.

Not bit-faithful: SpeechMOS resamples to 16 kHz itself (`torchaudio.functional.resample`); here the engine's
polyphase resampler does it. Audio that is missing, shorter than 0.1 s, non-finite or silent
(`unusable_reason`) gets NaN with the reason under `utmos_error`. Rows record `utmos_checkpoint`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from rvcbench.errors import MissingDependencyError
from rvcbench.scoring.contract import Metric, ScoreInput, Scorer, ScorerMeta
from rvcbench.scoring.inputs import unusable_reason
from rvcbench.scoring.weights import ScorerWeights, resolve_weights, weights_fingerprint

CODE_VERSION = "1"
SAMPLE_RATE = 16000
CHECKPOINT_FILE = "utmos22_strong_step7459_v1.pt"
DOWNLOAD_URL = f"https://github.com/tarepan/SpeechMOS/releases/download/v1.0.0/{CHECKPOINT_FILE}"
WEIGHTS = ScorerWeights(
    name="utmos",
    hf_repo=None,
    files=(CHECKPOINT_FILE,),
    description=(f"SpeechMOS UTMOS22 strong learner {CHECKPOINT_FILE}, not on the Hugging Face Hub; download it from "
                 f"{DOWNLOAD_URL} (the URL in tarepan/SpeechMOS hubconf.py; torch.hub keeps it in "
                 "$TORCH_HOME/hub/checkpoints/, which is also searched)"),
    licence="MIT (sarulab-speech/UTMOS22, tarepan/SpeechMOS)",
)
UPSTREAM = {"speechmos": "tarepan/SpeechMOS@ed25eacbfa42b99156c36ebec67a733b5dbb9b79 (tag v1.2.0)",
            "f5-tts": "SWivid/F5-TTS@2ae2c9bd9b64dab2cb069c4b97e5e7673c521e01 (eval/eval_utmos.py)"}
HEAD_DIM = 64  # wav2vec 2.0 base: 768 / 12 heads; a state dict does not tell the head count
CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)
CPU_MAX_ITEMS = 4
GPU_MAX_ITEMS = 32


@dataclass(frozen=True)
class Utmos22Config:
    """UTMOS22 strong sizes; the defaults are SpeechMOS's."""

    conv_channels: tuple[int, ...] = (512,) * 7
    conv_kernels: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    conv_strides: tuple[int, ...] = CONV_STRIDES
    ssl_dim: int = 768
    ffn_dim: int = 3072
    num_heads: int = 12
    num_layers: int = 12
    pos_conv_kernel: int = 128
    pos_conv_groups: int = 16
    domain_dim: int = 128
    judge_dim: int = 128
    rnn_hidden: int = 512
    proj_hidden: int = 2048

    @classmethod
    def from_state_dict(cls, state: dict) -> Utmos22Config:
        prefix = "wav2vec2.feature_extractor.conv_layers."
        convs = sorted((int(k[len(prefix):].split(".")[0]), v) for k, v in state.items()
                       if k.startswith(prefix) and k.endswith(".0.weight"))
        layers = {int(k.split(".")[3]) for k in state if k.startswith("wav2vec2.encoder.layers.")}
        ssl_dim = state["wav2vec2.post_extract_proj.weight"].shape[0]
        pos_v = state["wav2vec2.encoder.pos_conv.0.weight_v"]
        if len(convs) != len(CONV_STRIDES):
            raise MissingDependencyError(f"not a UTMOS22 strong state dict: {len(convs)} feature-extractor convs")
        return cls(conv_channels=tuple(v.shape[0] for _, v in convs), conv_kernels=tuple(v.shape[2] for _, v in convs),
                   ssl_dim=ssl_dim, ffn_dim=state["wav2vec2.encoder.layers.0.fc1.weight"].shape[0],
                   num_heads=max(1, ssl_dim // HEAD_DIM), num_layers=len(layers), pos_conv_kernel=pos_v.shape[2],
                   pos_conv_groups=ssl_dim // pos_v.shape[1], domain_dim=state["domain_emb"].shape[1],
                   judge_dim=state["judge_emb"].shape[1], rnn_hidden=state["blstm.weight_hh_l0"].shape[1],
                   proj_hidden=state["projection.0.weight"].shape[0])


@cache
def _torch_modules():
    """The UTMOS22 strong modules; attribute names (and Sequential indices) are SpeechMOS's."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class WeightNormConv1d(nn.Module):
        """Conv1d with weight = g · v / ‖v‖ (norm over all but the kernel axis: torch weight_norm, dim=2)."""

        def __init__(self, channels: int, kernel: int, groups: int) -> None:
            super().__init__()
            self.padding, self.groups = kernel // 2, groups
            self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
            self.weight_v = nn.Parameter(torch.randn(channels, channels // groups, kernel) * 0.02)
            self.bias = nn.Parameter(torch.zeros(channels))

        def forward(self, x):
            norm = self.weight_v.pow(2).sum(dim=(0, 1), keepdim=True).sqrt()
            weight = self.weight_v * (self.weight_g / norm)
            return F.conv1d(x, weight, self.bias, padding=self.padding, groups=self.groups)

    class DropLastFrame(nn.Module):
        def forward(self, x):
            return x[:, :, :-1]

    class SelfAttention(nn.Module):
        def __init__(self, dim: int, heads: int) -> None:
            super().__init__()
            self.heads = heads
            self.q_proj, self.k_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
            self.v_proj, self.out_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)

        def forward(self, x):  # (B, T, C)
            b, t, c = x.shape

            def split(y):
                return y.view(b, t, self.heads, c // self.heads).transpose(1, 2)

            y = F.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)))
            return self.out_proj(y.transpose(1, 2).reshape(b, t, c))

    class PostLnLayer(nn.Module):
        def __init__(self, dim: int, ffn: int, heads: int) -> None:
            super().__init__()
            self.self_attn = SelfAttention(dim, heads)
            self.fc1, self.fc2 = nn.Linear(dim, ffn), nn.Linear(ffn, dim)
            self.self_attn_layer_norm, self.final_layer_norm = nn.LayerNorm(dim), nn.LayerNorm(dim)

        def forward(self, x):
            x = self.self_attn_layer_norm(x + self.self_attn(x))
            return self.final_layer_norm(x + self.fc2(F.gelu(self.fc1(x))))

    class TransformerEncoder(nn.Module):
        def __init__(self, cfg: Utmos22Config) -> None:
            super().__init__()
            self.pos_conv = nn.Sequential(WeightNormConv1d(cfg.ssl_dim, cfg.pos_conv_kernel, cfg.pos_conv_groups),
                                          DropLastFrame() if cfg.pos_conv_kernel % 2 == 0 else nn.Identity(),
                                          nn.GELU())
            self.layer_norm = nn.LayerNorm(cfg.ssl_dim)
            self.layers = nn.ModuleList(PostLnLayer(cfg.ssl_dim, cfg.ffn_dim, cfg.num_heads)
                                        for _ in range(cfg.num_layers))

        def forward(self, x):
            x = self.layer_norm(x + self.pos_conv(x.transpose(1, 2)).transpose(1, 2))
            for layer in self.layers:
                x = layer(x)
            return x

    class ConvFeatureEncoder(nn.Module):
        def __init__(self, cfg: Utmos22Config) -> None:
            super().__init__()
            self.conv_layers = nn.ModuleList()
            c_in = 1
            for i, (c_out, kernel, stride) in enumerate(zip(cfg.conv_channels, cfg.conv_kernels, cfg.conv_strides,
                                                            strict=True)):
                # index 1 is upstream's Dropout(p=0), index 2 its GroupNorm (first conv only)
                norm = [nn.GroupNorm(c_out, c_out, affine=True)] if i == 0 else []
                self.conv_layers.append(nn.Sequential(nn.Conv1d(c_in, c_out, kernel, stride=stride, bias=False),
                                                      nn.Identity(), *norm, nn.GELU()))
                c_in = c_out

        def forward(self, wave):  # (B, T) → (B, C, frames)
            x = wave.unsqueeze(1)
            for conv in self.conv_layers:
                x = conv(x)
            return x

    class Wav2Vec2(nn.Module):
        def __init__(self, cfg: Utmos22Config) -> None:
            super().__init__()
            self.feature_extractor = ConvFeatureEncoder(cfg)
            self.layer_norm = nn.LayerNorm(cfg.conv_channels[-1])
            self.post_extract_proj = nn.Linear(cfg.conv_channels[-1], cfg.ssl_dim)
            self.encoder = TransformerEncoder(cfg)
            self.mask_emb = nn.Parameter(torch.zeros(cfg.ssl_dim))  # training-only, kept for the key set

        def forward(self, wave):
            x = self.feature_extractor(wave).transpose(1, 2)
            return self.encoder(self.post_extract_proj(self.layer_norm(x)))

    class Utmos22Strong(nn.Module):
        """(B, T) 16 kHz waveforms → (B,) predicted MOS."""

        def __init__(self, cfg: Utmos22Config | None = None) -> None:
            super().__init__()
            cfg = cfg or Utmos22Config()
            self.wav2vec2 = Wav2Vec2(cfg)
            self.domain_emb = nn.Parameter(torch.zeros(1, cfg.domain_dim), requires_grad=False)
            self.judge_emb = nn.Parameter(torch.zeros(1, cfg.judge_dim), requires_grad=False)
            self.blstm = nn.LSTM(cfg.ssl_dim + cfg.domain_dim + cfg.judge_dim, cfg.rnn_hidden, batch_first=True,
                                 bidirectional=True)
            self.projection = nn.Sequential(nn.Linear(2 * cfg.rnn_hidden, cfg.proj_hidden), nn.ReLU(),
                                            nn.Linear(cfg.proj_hidden, 1))

        def forward(self, wave):
            units = self.wav2vec2(wave)
            b, t, _ = units.shape
            x = torch.cat([units, self.domain_emb.expand(b, t, -1), self.judge_emb.expand(b, t, -1)], dim=2)
            frame_scores = self.projection(self.blstm(x)[0])
            return frame_scores.mean(dim=1).squeeze(1) * 2 + 3

    return Utmos22Strong


def build_model(state: dict):
    """UTMOS22 strong with the sizes of `state`, loaded with strict=True."""
    model = _torch_modules()(Utmos22Config.from_state_dict(state))
    model.load_state_dict(state, strict=True)
    return model.eval()


def torch_hub_checkpoint() -> Path | None:
    """Where `torch.hub.load(... "utmos22_strong")` leaves the file, if it did."""
    try:
        import torch

        folder = Path(torch.hub.get_dir())
    except ImportError:
        folder = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub"
    path = folder / "checkpoints" / CHECKPOINT_FILE
    return path if path.is_file() else None


def checkpoint_path() -> Path:
    """--scorer-weights utmos=PATH (file or folder), else torch.hub's cache; else the error saying how to get it."""
    try:
        path = resolve_weights(WEIGHTS)
    except MissingDependencyError:
        cached = torch_hub_checkpoint()
        if cached is None:
            raise
        return cached
    return path / CHECKPOINT_FILE if path.is_dir() else path


class Utmos22Strong(Scorer):
    meta = ScorerMeta(
        name="utmos",
        version=f"{CODE_VERSION}+{CHECKPOINT_FILE}",
        model=f"SpeechMOS {CHECKPOINT_FILE} (UTMOS22 strong learner: wav2vec 2.0 base + BLSTM)",
        needs=frozenset(),
        sample_rate=SAMPLE_RATE,
        metrics=(Metric("utmos", True, "UTMOS22 strong predicted naturalness MOS (1-5) of the clip alone"),),
        requirements=f"--scorer-weights {WEIGHTS.name}=/path/{CHECKPOINT_FILE} ({DOWNLOAD_URL})",
        gpu_compatible=True,
        settings={"batching": "equal-length clips only (no padding)", "upstream": UPSTREAM},
    )

    def __init__(self, max_items: int | None = None) -> None:
        self._model = None
        self._device = "cpu"
        self._checkpoint = ""
        self._max_items = max_items

    def load(self, device: str) -> None:
        import torch

        path = checkpoint_path()
        self._checkpoint = weights_fingerprint(path)
        self._device = "cuda" if device.startswith("cuda") and torch.cuda.is_available() else "cpu"
        state = torch.load(path, map_location="cpu", weights_only=True)
        self._model = build_model(state).to(self._device)
        if self._max_items is None:
            self._max_items = GPU_MAX_ITEMS if self._device == "cuda" else CPU_MAX_ITEMS

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        if self._model is None:
            self.load("cpu")
        results: list[dict[str, float | str]] = [{"utmos": math.nan} for _ in batch]
        groups: dict[int, list[int]] = {}
        for i, item in enumerate(batch):
            reason = unusable_reason(item.audio)
            if reason is not None:
                results[i]["utmos_error"] = reason
            else:
                groups.setdefault(item.audio.size, []).append(i)
        for indices in groups.values():
            for start in range(0, len(indices), self._max_items or 1):
                chunk = indices[start:start + (self._max_items or 1)]
                scores = self.predict([batch[i].audio for i in chunk])
                for i, value in zip(chunk, scores, strict=True):
                    results[i]["utmos"] = float(value)
        for row in results:
            row["utmos_checkpoint"] = self._checkpoint
        return results

    def predict(self, waves: list[np.ndarray]) -> np.ndarray:
        """MOS of equal-length 16 kHz waveforms in one forward pass."""
        import torch

        if len({w.size for w in waves}) != 1:
            raise ValueError("UTMOS batches must hold equal-length clips (padding changes the score)")
        x = torch.from_numpy(np.stack([np.asarray(w, dtype=np.float32) for w in waves])).to(self._device)
        with torch.inference_mode():
            return self._model(x).double().cpu().numpy()
