"""Random-weight check of VibeVoice (`rvcbench check-adapter vibevoice --random-weights`; no weights, no network).

`Adapter.load` builds `VibeVoiceForConditionalGenerationInference` from a `VibeVoiceConfig` with random weights
(the real architecture, made small: a 2-layer Qwen2 decoder of width 64, speech tokenizers with 8 filters and one
block per stage but upstream's strides 8*5*5*4*2*2 = 3200, a 2-layer diffusion head) and a byte-level text
tokenizer with VibeVoice's special tokens (the real one is Qwen2.5's, a download), saves both in upstream's own
format (`save_pretrained`, a `preprocessor_config.json` naming the tokenizer folder) and then runs the adapter's
real `load` on that folder: `VibeVoiceProcessor.from_pretrained` and `from_pretrained` of the model, as with
the real checkpoint. `clone` is the adapter's own.

Two things are set after loading, because a random model cannot make them happen by itself:
- a logits processor (added to the ones `generate` builds) scripts the token choices: `2 + frames % 5` diffusion
  steps for a prompt of `frames` latent frames, then speech end, then end of text; a target text holding `~`
  never stops, so it runs to upstream's length limit (the failure probe);
- the diffusion noise is zero: upstream draws one noise tensor for the whole batch, so a seeded batch and a seeded
  single item differ by design; with zero noise, batch == single tests that nothing else crosses between items.
Everything else runs as upstream wrote it: prompt encoding by the acoustic tokenizer, the language model with
left padding, classifier-free guidance with the negative-prompt cache surgery, the DPM-solver diffusion head,
streaming acoustic decoding and semantic re-encoding with per-item caches.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from rvcbench.adapters.random_weights import (
    FailureProbe,
    RandomWeightSpec,
    adapter_module,
    append_logits_processor,
    byte_level_tokenizer,
)

real = adapter_module(__file__)
HOP = 3200  # samples per latent frame: the product of encoder_ratios, 24000 / 7.5
RUNAWAY_MARK = "~"
POSITIONS = 480  # the decoder's positions after loading: prompt (~300 byte tokens here) + at most ~180 steps


def prompt_frames(request) -> int:
    return int(np.ceil(len(real.prompt_for_model(request.prompt_audio, request.prompt_sample_rate)) / HOP))


def scripted_steps(frames: int) -> int:
    return 2 + frames % 5


SPEC = RandomWeightSpec(
    distributions=("vibevoice", "transformers", "diffusers", "accelerate", "torch"),
    built="VibeVoiceConfig made small (2-layer Qwen2 of width 64, 8-filter speech tokenizers with upstream's "
          "3200x strides, 2-layer diffusion head), saved with save_pretrained and loaded by the adapter's load",
    expected_samples=lambda request: scripted_steps(prompt_frames(request)) * HOP,
    failure_probes=(FailureProbe("a target that never stops (runs to upstream's length limit)",
                                 target_text=f"This one keeps on talking {RUNAWAY_MARK} forever.",
                                 reason="length limit"),),
    notes=("token choices scripted by a logits processor (a random language model picks tokens at random)",
           "diffusion noise zeroed: upstream draws one noise tensor per batch",
           f"decoder positions lowered to {POSITIONS} after loading, so the runaway probe stops sooner"),
)


def vibevoice_tokenizer():
    """A Qwen2-style byte-level BPE (no merges) with the special tokens VibeVoice's tokenizer looks up."""
    from vibevoice.modular.modular_vibevoice_text_tokenizer import VibeVoiceTextTokenizerFast

    tokenizer = byte_level_tokenizer(VibeVoiceTextTokenizerFast)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|image_pad|>"]})
    return tokenizer


def small_model(vocab_size: int):
    import torch
    from vibevoice.modular.configuration_vibevoice import VibeVoiceConfig
    from vibevoice.modular.modeling_vibevoice_inference import VibeVoiceForConditionalGenerationInference

    speech = dict(encoder_n_filters=8, encoder_ratios=[8, 5, 5, 4, 2, 2], encoder_depths="1-1-1-1-1-1-1")
    config = VibeVoiceConfig(
        acoustic_tokenizer_config=dict(vae_dim=64, decoder_n_filters=8, fix_std=0.5, std_dist_type="gaussian",
                                       **speech),
        semantic_tokenizer_config=dict(vae_dim=128, fix_std=0, std_dist_type="none", **speech),
        decoder_config=dict(model_type="qwen2", vocab_size=vocab_size, hidden_size=64, intermediate_size=128,
                            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                            max_position_embeddings=8192, tie_word_embeddings=True),
        diffusion_head_config=dict(hidden_size=64, head_layers=2, head_ffn_ratio=3.0, latent_size=64,
                                   speech_vae_dim=64, ddpm_num_inference_steps=20),
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = VibeVoiceForConditionalGenerationInference(config).float().eval()
    model.model.speech_scaling_factor.fill_(1.0)  # NaN buffers until a checkpoint sets them
    model.model.speech_bias_factor.fill_(0.0)
    return model


def write_checkpoint(folder: Path) -> None:
    """The small random model, its tokenizer and processor config, in the layout of microsoft/VibeVoice-1.5B."""
    tokenizer_dir = folder / "qwen2-byte-tokenizer"  # from_pretrained takes only tokenizers named Qwen
    tokenizer = vibevoice_tokenizer()
    tokenizer.save_pretrained(tokenizer_dir)
    small_model(len(tokenizer)).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "processor_class": "VibeVoiceProcessor", "speech_tok_compress_ratio": HOP, "db_normalize": True,
        "audio_processor": {"feature_extractor_type": "VibeVoiceTokenizerProcessor", "sampling_rate": 24000,
                            "normalize_audio": True, "target_dB_FS": -25, "eps": 1e-6},
        "language_model_pretrained_name": str(tokenizer_dir)}))


def script_tokens(model, tokenizer) -> None:
    """Make generate's token choices: the scripted diffusion steps per row, then speech end, then end of text."""
    import torch
    from transformers.generation import LogitsProcessor

    mark = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(RUNAWAY_MARK))[0]

    class Scripted(LogitsProcessor):
        def __init__(self):
            self.start = None
            self.steps = None

        def __call__(self, input_ids, scores):
            if self.start is None:
                self.start = input_ids.shape[1]
                self.steps = [10**9 if bool((row == mark).any()) else
                              scripted_steps(int((row == tokenizer.speech_diffusion_id).sum())) for row in input_ids]
            step = input_ids.shape[1] - self.start
            forced = torch.full_like(scores, -1e9)
            for row, steps in enumerate(self.steps):
                token = (tokenizer.speech_diffusion_id if step < steps
                         else tokenizer.speech_end_id if step == steps else tokenizer.eos_token_id)
                forced[row, token] = 0.0
            return scores * 0 + forced

    append_logits_processor(model, Scripted)


def zero_diffusion_noise() -> None:
    import torch
    from vibevoice.modular import modeling_vibevoice_inference as modeling

    class ZeroNoise:
        def __getattr__(self, name):
            return getattr(torch, name)

        @staticmethod
        def randn(*shape, **kwargs):
            return torch.zeros(*shape, **kwargs)

    modeling.torch = ZeroNoise()


class Adapter(real.Adapter):
    def load(self, device: str) -> None:
        self._scratch = tempfile.TemporaryDirectory(prefix="vibevoice-random-")  # removed at exit
        folder = Path(self._scratch.name)
        write_checkpoint(folder)
        self.weights = str(folder)
        super().load(device)
        script_tokens(self._model, self._processor.tokenizer)
        zero_diffusion_noise()
        # generate's limit is max_position_embeddings - prompt (and at most 2x the prompt): lowered from 8192 so
        # the runaway probe reaches it in ~100 steps instead of ~600; upstream's limit arithmetic is unchanged
        self._model.config.decoder_config.max_position_embeddings = POSITIONS
