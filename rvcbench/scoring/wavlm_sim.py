"""Seed-TTS-eval / F5-TTS speaker similarity (SIM): WavLM-large hidden states + an ECAPA-TDNN head.

What upstream computes (BytedanceSpeech/seed-tts-eval `cal_sim.sh` → UniSpeech
`downstreams/speaker_verification/verification_pair_list_v2.py`, and F5-TTS `eval/utils_eval.py:run_sim`):
the cosine similarity of the speaker embeddings of the GENERATED clip and the PROMPT wav of the meta line
(`get_wav_res_ref_text.py` writes `clone|prompt_wav|text`; the ground-truth recording is not used). Each wav is
resampled to 16 kHz and embedded alone (batch of one) by `ECAPA_TDNN_SMALL(feat_dim=1024, feat_type='wavlm_large')`
loaded from `wavlm_large_finetune.pth` (`state_dict['model']`, `strict=False`):

  1. s3prl's `wavlm_large` expert: the waveform is layer-normalised over its samples (`cfg.normalize` is True
     for WavLM-large), WavLM-large runs, and forward hooks collect 25 hidden states: the input of each of the 24
     transformer layers and the encoder's output (after its final LayerNorm).
  2. The ECAPA head: softmax(`feature_weight`)-weighted sum of the 25 states, + 1e-6, InstanceNorm1d over time,
     ECAPA-TDNN (Conv1d-ReLU-BN, three SE-Res2Blocks with dilations 2/3/4, 1x1 conv over their concatenation,
     attentive statistics pooling, BN, Linear) → a 256-d embedding; SIM = cosine of two embeddings.

Here WavLM-large is `transformers.WavLMModel`; the checkpoint's `feature_extract.model.*` keys (UniSpeech/s3prl
WavLM names) are renamed to transformers' names by `map_wavlm_keys` (the renaming is one-to-one: same modules,
same maths — feature-extractor convs with per-layer LayerNorm, no conv bias, weight-normed positional conv,
pre-LN layers with gated relative position bias, 320 buckets, max distance 800) and loaded with `strict=True`,
as is the ECAPA head, whose module names are upstream's. Every size is read from the checkpoint's tensor shapes
(`wavlm_config`, `EcapaConfig.from_state_dict`), so the same code builds the full model and the small random ones
of the tests. The 25 hidden states are collected by running transformers' own submodules in order
(`WavlmEcapa.hidden_states`), not through `output_hidden_states`, whose meaning has changed across releases.

Metrics: `sim_wavlm` = clone vs prompt (the Seed-TTS / F5-TTS number), `sim_wavlm_target` = clone vs the real
target recording. Every row records `sim_wavlm_checkpoint` (sha256 prefix of the checkpoint file).

Batching: clips are grouped by length (`length_buckets`), zero-padded, and WavLM runs with an attention mask;
each clip's hidden states are then cut to its own frame count (the conv-stack length of its unpadded waveform,
what a batch of one gives) and the ECAPA head runs per clip (its InstanceNorm, convolutions and pooling would
otherwise see the padding). Normalisation (step 1) is per clip, before padding. Measured with random weights
(CPU, float32): on the 11 demo clips of different lengths, batched vs one at a time differs by at most 2.2e-7
relative per embedding value (1.4e-8 in SIM); a full-size WavLM-large + ECAPA with random weights matches
upstream's own s3prl WavLM + UniSpeech ECAPA_TDNN code to 7e-7 relative. Padding with the attention mask but
running the head over the padded length moves the shorter clip's embedding by 15 % (cosine 0.991 to its
unpadded self), which is why the frames are cut per clip.

Reference embeddings (prompts, targets) are cached on disk by `EmbeddingCache`, keyed by the audio's hash under
this code version + the checkpoint's fingerprint. Audio that is missing, shorter than 0.1 s, non-finite or silent
(`unusable_reason`) gets NaN with the reason under `sim_wavlm_error`.

Not bit-faithful: resampling to 16 kHz is the engine's (polyphase), not torchaudio's sinc `Resample`; upstream
reads multi-channel files' first channel, the engine mixes to mono.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from rvcbench.environment import package_version
from rvcbench.errors import MissingDependencyError
from rvcbench.scoring.bucketing import length_buckets
from rvcbench.scoring.contract import NEEDS_PROMPT_AUDIO, NEEDS_TARGET_AUDIO, Metric, ScoreInput, Scorer, ScorerMeta
from rvcbench.scoring.embedding_cache import audio_hash
from rvcbench.scoring.inputs import unusable_reason
from rvcbench.scoring.reference_embeddings import Embedding, ReferenceEmbeddings, cosine
from rvcbench.scoring.weights import ScorerWeights, resolve_weights, weights_fingerprint

CODE_VERSION = "1"
SAMPLE_RATE = 16000
CHECKPOINT_FILE = "wavlm_large_finetune.pth"
DOWNLOAD_URL = "https://drive.google.com/file/d/1-aE1NfzpRCLxA4GUxX9ITI3F9LlbtEGP/view"
WEIGHTS = ScorerWeights(
    name="wavlm_ecapa",
    hf_repo=None,
    files=(CHECKPOINT_FILE,),
    description=(f"UniSpeech WavLM-large + ECAPA-TDNN speaker-verification checkpoint {CHECKPOINT_FILE}, not on the "
                 f"Hugging Face Hub; download it from {DOWNLOAD_URL} (the 'WavLM large, Fix pre-train: No' row of "
                 "github.com/microsoft/UniSpeech downstreams/speaker_verification/README.md, also linked from the "
                 "seed-tts-eval and F5-TTS eval READMEs)"),
    licence="MIT (UniSpeech code); checkpoint terms as published by Microsoft",
)
REQUIREMENTS = "pip install transformers==5.24.0"
UPSTREAM = {
    "seed-tts-eval": "BytedanceSpeech/seed-tts-eval@752f4297f090c46bb1a55a1f7439e5944ddefe8d",
    "unispeech": "microsoft/UniSpeech@40d322798fba7fbaef8c882e04ac06ae5e784435",
    "s3prl": "s3prl/s3prl@ec8064b5889f81ca460fbe2c094ce576a6f120b7",
    "f5-tts": "SWivid/F5-TTS@2ae2c9bd9b64dab2cb069c4b97e5e7673c521e01",
}
CHECKPOINT_PREFIX = "feature_extract.model."
# WavLM-large settings that no tensor shape reveals (s3prl wavlm_large cfg; transformers' microsoft/wavlm-large)
CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)
MAX_BUCKET_DISTANCE = 800
NORMALIZE_WAVEFORM = True
FEATURE_EPS = 1e-6  # upstream adds it to the weighted hidden states before InstanceNorm
# training-only WavLM/HuBERT parameters upstream's ECAPA_TDNN freezes and never uses at inference
UNUSED_UPSTREAM = ("final_proj", "label_embs_concat", "project_q", "quantizer")
REFERENCE_CACHE_ITEMS = 4096
CPU_BATCH = (4, 16000 * 40)  # (items, padded samples) per WavLM forward
GPU_BATCH = (32, 16000 * 600)

_WAVLM_RULES = [(re.compile(pattern), replacement) for pattern, replacement in (
    (r"^feature_extractor\.conv_layers\.(\d+)\.0\.(weight|bias)$", r"feature_extractor.conv_layers.\1.conv.\2"),
    (r"^feature_extractor\.conv_layers\.(\d+)\.2\.1\.(weight|bias)$",
     r"feature_extractor.conv_layers.\1.layer_norm.\2"),
    (r"^layer_norm\.(weight|bias)$", r"feature_projection.layer_norm.\1"),
    (r"^post_extract_proj\.(weight|bias)$", r"feature_projection.projection.\1"),
    (r"^mask_emb$", "masked_spec_embed"),
    (r"^encoder\.pos_conv\.0\.bias$", "encoder.pos_conv_embed.conv.bias"),
    (r"^encoder\.pos_conv\.0\.(weight_g|parametrizations\.weight\.original0)$",
     "encoder.pos_conv_embed.conv.parametrizations.weight.original0"),
    (r"^encoder\.pos_conv\.0\.(weight_v|parametrizations\.weight\.original1)$",
     "encoder.pos_conv_embed.conv.parametrizations.weight.original1"),
    (r"^encoder\.layer_norm\.(weight|bias)$", r"encoder.layer_norm.\1"),
    (r"^encoder\.layers\.(\d+)\.self_attn\.(q_proj|k_proj|v_proj|out_proj)\.(weight|bias)$",
     r"encoder.layers.\1.attention.\2.\3"),
    (r"^encoder\.layers\.(\d+)\.self_attn\.grep_linear\.(weight|bias)$",
     r"encoder.layers.\1.attention.gru_rel_pos_linear.\2"),
    (r"^encoder\.layers\.(\d+)\.self_attn\.grep_a$", r"encoder.layers.\1.attention.gru_rel_pos_const"),
    (r"^encoder\.layers\.(\d+)\.self_attn\.relative_attention_bias\.weight$",
     r"encoder.layers.\1.attention.rel_attn_embed.weight"),
    (r"^encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)$", r"encoder.layers.\1.layer_norm.\2"),
    (r"^encoder\.layers\.(\d+)\.fc1\.(weight|bias)$", r"encoder.layers.\1.feed_forward.intermediate_dense.\2"),
    (r"^encoder\.layers\.(\d+)\.fc2\.(weight|bias)$", r"encoder.layers.\1.feed_forward.output_dense.\2"),
    (r"^encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)$", r"encoder.layers.\1.final_layer_norm.\2"),
)]


class CheckpointError(MissingDependencyError):
    """The file is not a usable wavlm_large_finetune.pth (says which keys are missing or unknown)."""


def map_wavlm_keys(upstream: dict) -> dict:
    """UniSpeech/s3prl WavLM state-dict names (without `feature_extract.model.`) → transformers `WavLMModel` names.

    Training-only parameters (`UNUSED_UPSTREAM`) are dropped; any other name no rule knows is an error."""
    out, unknown = {}, []
    for key, tensor in upstream.items():
        for pattern, replacement in _WAVLM_RULES:
            if pattern.match(key):
                out[pattern.sub(replacement, key)] = tensor
                break
        else:
            if not any(key.startswith(name) for name in UNUSED_UPSTREAM):
                unknown.append(key)
    if unknown:
        raise CheckpointError(f"{len(unknown)} WavLM parameter(s) of the checkpoint have no transformers "
                              f"counterpart: {', '.join(sorted(unknown)[:8])}")
    return out


def split_checkpoint(state: dict) -> tuple[dict, dict]:
    """`state_dict['model']` of wavlm_large_finetune.pth → (WavLM part, upstream-named; ECAPA head part)."""
    wavlm = {k[len(CHECKPOINT_PREFIX):]: v for k, v in state.items() if k.startswith(CHECKPOINT_PREFIX)}
    head = {k: v for k, v in state.items() if not k.startswith("feature_extract.")}
    if not wavlm:
        raise CheckpointError("the checkpoint holds no `feature_extract.model.*` (WavLM) weights: it is not the "
                              f"fine-tuned {CHECKPOINT_FILE} (a 'Fix pre-train: Yes' file needs s3prl's WavLM-large "
                              "too, which this scorer does not combine)")
    return wavlm, head


def wavlm_config(upstream: dict):
    """A transformers `WavLMConfig` with every size read from the upstream-named WavLM tensors."""
    from transformers import WavLMConfig

    conv = sorted((int(m.group(1)), t) for k, t in upstream.items()
                  if (m := re.match(r"^feature_extractor\.conv_layers\.(\d+)\.0\.weight$", k)))
    if not conv or not any(re.match(r"^feature_extractor\.conv_layers\.\d+\.2\.1\.weight$", k) for k in upstream):
        raise CheckpointError("the WavLM feature extractor is not the layer-norm kind of WavLM-large")
    layers = {int(m.group(1)) for k in upstream if (m := re.match(r"^encoder\.layers\.(\d+)\.", k))}
    hidden = upstream["post_extract_proj.weight"].shape[0]
    pos_v = upstream.get("encoder.pos_conv.0.weight_v",
                         upstream.get("encoder.pos_conv.0.parametrizations.weight.original1"))
    if len(conv) != len(CONV_STRIDES) or pos_v is None:
        raise CheckpointError(f"unexpected WavLM layout ({len(conv)} conv layers, positional conv "
                              f"{'found' if pos_v is not None else 'missing'})")
    return WavLMConfig(
        hidden_size=hidden,
        num_hidden_layers=len(layers),
        num_attention_heads=upstream["encoder.layers.0.self_attn.grep_a"].shape[1],
        intermediate_size=upstream["encoder.layers.0.fc1.weight"].shape[0],
        conv_dim=tuple(t.shape[0] for _, t in conv),
        conv_kernel=tuple(t.shape[2] for _, t in conv),
        conv_stride=CONV_STRIDES,
        conv_bias="feature_extractor.conv_layers.0.0.bias" in upstream,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        num_conv_pos_embeddings=pos_v.shape[2],
        num_conv_pos_embedding_groups=hidden // pos_v.shape[1],
        num_buckets=upstream["encoder.layers.0.self_attn.relative_attention_bias.weight"].shape[0],
        max_bucket_distance=MAX_BUCKET_DISTANCE,
        layer_norm_eps=1e-5,
    )


@dataclass(frozen=True)
class EcapaConfig:
    """Sizes of upstream's ECAPA_TDNN head (ECAPA_TDNN_SMALL: channels 512, 1536 after the 1x1 conv, emb 256)."""

    feat_dim: int = 1024
    num_states: int = 25
    channels: int = 512
    pooled_channels: int = 1536
    attention_channels: int = 128
    se_bottleneck: int = 128
    emb_dim: int = 256
    scale: int = 8

    @classmethod
    def from_state_dict(cls, head: dict) -> EcapaConfig:
        channels, feat_dim, _ = head["layer1.conv.weight"].shape
        return cls(feat_dim=feat_dim, num_states=head["feature_weight"].shape[0], channels=channels,
                   pooled_channels=head["conv.weight"].shape[0],
                   attention_channels=head["pooling.linear1.weight"].shape[0],
                   se_bottleneck=head["layer2.SE_Connect.linear1.weight"].shape[0],
                   emb_dim=head["linear.weight"].shape[0],
                   scale=1 + sum(1 for k in head if re.match(r"^layer2\.Res2Conv1dReluBn\.convs\.\d+\.weight$", k)))


@cache
def _torch_modules():
    """The ECAPA head's modules (attribute names = upstream's, so its state_dict keys are upstream's)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class ConvReluBn(nn.Module):
        def __init__(self, c_in: int, c_out: int, kernel: int = 1, padding: int = 0, dilation: int = 1) -> None:
            super().__init__()
            self.conv = nn.Conv1d(c_in, c_out, kernel, padding=padding, dilation=dilation)
            self.bn = nn.BatchNorm1d(c_out)

        def forward(self, x):
            return self.bn(F.relu(self.conv(x)))

    class Res2ConvReluBn(nn.Module):
        """Channels cut in `scale` groups; group i (but the last) = conv(group i + previous output)."""

        def __init__(self, channels: int, kernel: int, padding: int, dilation: int, scale: int) -> None:
            super().__init__()
            self.width = channels // scale
            self.convs = nn.ModuleList(nn.Conv1d(self.width, self.width, kernel, padding=padding, dilation=dilation)
                                       for _ in range(scale - 1))
            self.bns = nn.ModuleList(nn.BatchNorm1d(self.width) for _ in range(scale - 1))

        def forward(self, x):
            groups = torch.split(x, self.width, dim=1)
            outputs, previous = [], None
            for i, (conv, bn) in enumerate(zip(self.convs, self.bns, strict=True)):
                piece = groups[i] if previous is None else previous + groups[i]
                previous = bn(F.relu(conv(piece)))
                outputs.append(previous)
            outputs.append(groups[len(self.convs)])
            return torch.cat(outputs, dim=1)

    class SqueezeExcite(nn.Module):
        def __init__(self, channels: int, bottleneck: int) -> None:
            super().__init__()
            self.linear1 = nn.Linear(channels, bottleneck)
            self.linear2 = nn.Linear(bottleneck, channels)

        def forward(self, x):
            gate = torch.sigmoid(self.linear2(F.relu(self.linear1(x.mean(dim=2)))))
            return x * gate.unsqueeze(2)

    class SeRes2Block(nn.Module):
        def __init__(self, channels: int, dilation: int, scale: int, bottleneck: int) -> None:
            super().__init__()
            self.Conv1dReluBn1 = ConvReluBn(channels, channels)
            self.Res2Conv1dReluBn = Res2ConvReluBn(channels, 3, dilation, dilation, scale)
            self.Conv1dReluBn2 = ConvReluBn(channels, channels)
            self.SE_Connect = SqueezeExcite(channels, bottleneck)

        def forward(self, x):
            return x + self.SE_Connect(self.Conv1dReluBn2(self.Res2Conv1dReluBn(self.Conv1dReluBn1(x))))

    class AttentiveStatsPool(nn.Module):
        def __init__(self, channels: int, attention_channels: int) -> None:
            super().__init__()
            self.linear1 = nn.Conv1d(channels, attention_channels, kernel_size=1)
            self.linear2 = nn.Conv1d(attention_channels, channels, kernel_size=1)

        def forward(self, x):
            alpha = torch.softmax(self.linear2(torch.tanh(self.linear1(x))), dim=2)
            mean = (alpha * x).sum(dim=2)
            var = (alpha * x * x).sum(dim=2) - mean * mean
            return torch.cat([mean, var.clamp(min=1e-9).sqrt()], dim=1)

    class EcapaHead(nn.Module):
        """Hidden states (states, batch, frames, feat) → speaker embeddings (batch, emb_dim)."""

        def __init__(self, cfg: EcapaConfig) -> None:
            super().__init__()
            c = cfg.channels
            self.feature_weight = nn.Parameter(torch.zeros(cfg.num_states))
            self.instance_norm = nn.InstanceNorm1d(cfg.feat_dim)
            self.layer1 = ConvReluBn(cfg.feat_dim, c, kernel=5, padding=2)
            self.layer2 = SeRes2Block(c, 2, cfg.scale, cfg.se_bottleneck)
            self.layer3 = SeRes2Block(c, 3, cfg.scale, cfg.se_bottleneck)
            self.layer4 = SeRes2Block(c, 4, cfg.scale, cfg.se_bottleneck)
            self.conv = nn.Conv1d(3 * c, cfg.pooled_channels, kernel_size=1)
            self.pooling = AttentiveStatsPool(cfg.pooled_channels, cfg.attention_channels)
            self.bn = nn.BatchNorm1d(2 * cfg.pooled_channels)
            self.linear = nn.Linear(2 * cfg.pooled_channels, cfg.emb_dim)

        def forward(self, states):
            weights = torch.softmax(self.feature_weight, dim=-1).view(-1, 1, 1, 1)
            x = (weights * states).sum(dim=0).transpose(1, 2) + FEATURE_EPS
            x = self.instance_norm(x)
            out1 = self.layer1(x)
            out2 = self.layer2(out1)
            out3 = self.layer3(out2)
            out4 = self.layer4(out3)
            x = F.relu(self.conv(torch.cat([out2, out3, out4], dim=1)))
            return self.linear(self.bn(self.pooling(x)))

    class WavlmEcapa(nn.Module):
        """transformers WavLM (hidden states as s3prl's hooks collect them) + the ECAPA head."""

        def __init__(self, config, head: EcapaConfig) -> None:
            super().__init__()
            from transformers import WavLMModel

            self.wavlm = WavLMModel(config)
            self.head = EcapaHead(head)

        def frame_count(self, samples: int) -> int:
            for kernel, stride in zip(self.wavlm.config.conv_kernel, self.wavlm.config.conv_stride, strict=True):
                samples = (samples - kernel) // stride + 1
            return samples

        def hidden_states(self, waves, frames: list[int] | None):
            """(batch, samples) → (num_layers + 1, batch, frames, hidden): every layer's input, then the encoder's
            LayerNorm'd output. `frames`: each row's own frame count when rows are padded (None: no padding)."""
            model = self.wavlm
            x = model.feature_extractor(waves).transpose(1, 2)
            x, _ = model.feature_projection(x)
            mask = None
            if frames is not None:
                lengths = torch.tensor(frames, device=x.device)
                mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
                x = x.masked_fill(~mask[..., None], 0.0)
            x = x + model.encoder.pos_conv_embed(x)
            states, bias = [x], None
            with warnings.catch_warnings():  # torch: a bool key-padding mask beside the float position bias
                warnings.filterwarnings("ignore", message="Support for mismatched key_padding_mask")
                for layer in model.encoder.layers:
                    x, bias = layer(x, attention_mask=mask, position_bias=bias)
                    states.append(x)
            states[-1] = model.encoder.layer_norm(x)
            return torch.stack(states)

        def embed(self, waves: list[np.ndarray], device: str) -> list[np.ndarray]:
            """Speaker embeddings of 16 kHz waveforms, one batched WavLM pass, the head per clip."""
            tensors = [torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)) for w in waves]
            if NORMALIZE_WAVEFORM:
                tensors = [F.layer_norm(t, t.shape) for t in tensors]
            lengths = [t.numel() for t in tensors]
            padded = torch.zeros(len(tensors), max(lengths))
            for i, t in enumerate(tensors):
                padded[i, :t.numel()] = t
            frames = [self.frame_count(n) for n in lengths]
            equal = len(set(lengths)) == 1
            states = self.hidden_states(padded.to(device), None if equal else frames)
            if equal:
                return list(self.head(states).cpu().numpy())
            return [self.head(states[:, i:i + 1, :n]).cpu().numpy()[0] for i, n in enumerate(frames)]

    return EcapaHead, WavlmEcapa


def build_model(state: dict):
    """The WavLM + ECAPA model of a `state_dict['model']`, sizes from its shapes, loaded with strict=True."""
    _, model_cls = _torch_modules()
    wavlm_part, head_part = split_checkpoint(state)
    config = wavlm_config(wavlm_part)
    model = model_cls(config, EcapaConfig.from_state_dict(head_part))
    mapped = map_wavlm_keys(wavlm_part)
    if "masked_spec_embed" not in mapped and "masked_spec_embed" in model.wavlm.state_dict():
        mapped["masked_spec_embed"] = model.wavlm.masked_spec_embed.detach().clone()  # training-only mask vector
    model.wavlm.load_state_dict(mapped, strict=True)
    model.head.load_state_dict(head_part, strict=True)
    return model.eval()


def load_checkpoint(path: Path) -> dict:
    """`torch.load(path)['model']` (upstream's own loading; weights only)."""
    import torch

    loaded = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(loaded, dict) or not isinstance(loaded.get("model"), dict):
        raise CheckpointError(f"{path} is not a UniSpeech speaker-verification checkpoint (no 'model' state dict)")
    return loaded["model"]


class WavlmSimilarity(Scorer):
    meta = ScorerMeta(
        name="sim_wavlm",
        version=f"{CODE_VERSION}+{CHECKPOINT_FILE}+transformers-{package_version('transformers')}",
        model=f"UniSpeech {CHECKPOINT_FILE}: WavLM-large (transformers WavLMModel) + ECAPA-TDNN head, 256-d",
        needs=frozenset({NEEDS_PROMPT_AUDIO, NEEDS_TARGET_AUDIO}),
        sample_rate=SAMPLE_RATE,
        metrics=(
            Metric("sim_wavlm", True, "Seed-TTS-eval SIM: cosine of WavLM-large/ECAPA-TDNN embeddings, clone vs "
                                      "prompt"),
            Metric("sim_wavlm_target", True, "Cosine of WavLM-large/ECAPA-TDNN embeddings, clone vs real target "
                                             "recording"),
        ),
        requirements=f"{REQUIREMENTS}; --scorer-weights {WEIGHTS.name}=/path/{CHECKPOINT_FILE} ({DOWNLOAD_URL})",
        gpu_compatible=True,
        settings={"compared": "clone vs prompt_wav (seed-tts-eval get_wav_res_ref_text.py)", "normalize": True,
                  "hidden_states": "25 (24 layer inputs + final LayerNorm'd output)", "upstream": UPSTREAM},
    )

    def __init__(self, max_items: int | None = None, max_samples: int | None = None) -> None:
        self._model = None
        self._device = "cpu"
        self._checkpoint = ""
        self._batch = (max_items, max_samples)
        self._references = ReferenceEmbeddings(SAMPLE_RATE, REFERENCE_CACHE_ITEMS)

    def load(self, device: str) -> None:
        try:
            import torch
            import transformers  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError(f"WavLM SIM needs transformers ({exc}): {REQUIREMENTS}") from exc
        path = resolve_weights(WEIGHTS)
        path = path / CHECKPOINT_FILE if path.is_dir() else path
        self._checkpoint = weights_fingerprint(path)
        self._device = "cuda" if device.startswith("cuda") and torch.cuda.is_available() else "cpu"
        self._model = build_model(load_checkpoint(path)).to(self._device)
        defaults = GPU_BATCH if self._device == "cuda" else CPU_BATCH
        self._batch = (self._batch[0] or defaults[0], self._batch[1] or defaults[1])
        self._references.use_disk(self.meta.name, f"{CODE_VERSION}+{self._checkpoint}")

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        if self._model is None:
            self.load("cpu")
        references = [w for item in batch for w in (item.prompt_audio, item.target_audio) if w is not None]
        embeddings = self.embeddings([item.audio for item in batch], references)
        return [self._score_one(item, embeddings) for item in batch]

    def _score_one(self, item: ScoreInput, embeddings: dict[str, Embedding]) -> dict[str, float | str]:
        clip = embeddings[audio_hash(item.audio, SAMPLE_RATE)]
        out: dict[str, float | str] = {"sim_wavlm": math.nan, "sim_wavlm_target": math.nan}
        errors = [f"clip: {clip.error}"] if clip.error else []
        for metric, ref_wav, label in (("sim_wavlm", item.prompt_audio, "prompt"),
                                       ("sim_wavlm_target", item.target_audio, "target")):
            ref = embeddings[audio_hash(ref_wav, SAMPLE_RATE)] if ref_wav is not None else Embedding(None, "no audio")
            if ref.error:
                errors.append(f"{label}: {ref.error}")
            if clip.vector is not None and ref.vector is not None:
                out[metric] = cosine(clip.vector, ref.vector)
        if errors:
            out[f"{self.meta.name}_error"] = "; ".join(errors)
        out["sim_wavlm_checkpoint"] = self._checkpoint
        return out

    def embeddings(self, clips: list[np.ndarray], references: list[np.ndarray] = ()) -> dict[str, Embedding]:
        """Embedding of every distinct waveform, keyed by `audio_hash`; references go through the caches."""
        return self._references.all(clips, list(references), self._embed)

    def _embed(self, wavs: dict[str, np.ndarray]) -> dict[str, Embedding]:
        import torch

        out: dict[str, Embedding] = {}
        for key, wav in list(wavs.items()):
            reason = unusable_reason(wav)
            if reason is not None:
                out[key] = Embedding(None, reason)
        keys = [k for k in wavs if k not in out]
        max_items, max_samples = self._batch
        with torch.inference_mode():
            for bucket in length_buckets([wavs[k].size for k in keys], max_items or 1, max_samples or 1):
                vectors = self._model.embed([np.asarray(wavs[keys[i]], dtype=np.float32) for i in bucket], self._device)
                out.update({keys[i]: Embedding(v.astype(np.float32)) for i, v in zip(bucket, vectors, strict=True)})
        return out
