"""Random-weight check of the VibeVoice code path the adapter uses (no weights, no network).

Run inside the model's environment (vibevoice==0.0.1 and its pins), from the repository root:

    python models/vibevoice/random_weight_check.py

It builds `VibeVoiceForConditionalGenerationInference` from a `VibeVoiceConfig` with random weights (the real
architecture, made small: a 2-layer Qwen2 decoder of width 64, speech tokenizers with 8 filters and one block per
stage but upstream's strides 8*5*5*4*2*2 = 3200, a 2-layer diffusion head), a `VibeVoiceProcessor` around a
byte-level text tokenizer made here (the real one is Qwen2.5's, a download) with VibeVoice's special tokens, and
injects both into the adapter. Then:

1. `Adapter.clone` runs a batch of two requests of different prompt lengths and texts through the adapter's own
   code (its `script` and `prompt_for_model`, the processor call, `generate` with the adapter's arguments) and
   each item must come back as a float32 mono waveform of exactly (speech steps) x 3200 samples, i.e. 7.5 latent
   frames a second at the declared 24 kHz.
2. The same two requests one at a time give the same waveforms as in the batch (within 1e-4 relative to
   the peak), with the diffusion noise set to zero for this comparison, since upstream draws one noise tensor
   for the whole batch and a seeded batch and a seeded single draw different noise by design.
3. An item that hits upstream's length limit comes back as a `CloneFailure`, beside a good one.

A random language model picks its tokens at random, so a logits processor (added to the ones `generate` builds)
scripts the token choices: N_i diffusion steps, then speech end, then end of text, N_i derived from each item's
own prompt. Everything else runs as upstream wrote it: the prompt encoding by the acoustic tokenizer, the
language model with left padding, classifier-free guidance with the negative-prompt cache surgery, the DPM-solver
diffusion head, streaming acoustic decoding and semantic re-encoding with per-item caches.

What this proves: the call shapes, argument names, per-item stopping and batching of the upstream code path the
adapter uses. What it does not prove: anything about output quality, the real checkpoint's config or loading,
or bf16/flash-attention on CUDA.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")  # generate's progress bar

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rvcbench.adapters.contract import CloneFailure, CloneRequest  # noqa: E402

HOP = 3200  # samples per latent frame: the product of encoder_ratios, 24000 / 7.5
FAILURES: list[str] = []


def check(condition: bool, what: str) -> None:
    print(("ok    " if condition else "FAIL  ") + what)
    if not condition:
        FAILURES.append(what)


def load_adapter_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("vibevoice_adapter", ROOT / "models" / "vibevoice" / "adapter.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def byte_level_tokenizer():
    """A Qwen2-style byte-level BPE (no merges) with the special tokens VibeVoice's tokenizer looks up."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode
    from vibevoice.modular.modular_vibevoice_text_tokenizer import VibeVoiceTextTokenizerFast

    vocab = {char: index for index, char in enumerate(bytes_to_unicode().values())}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    tokenizer = VibeVoiceTextTokenizerFast(tokenizer_object=backend)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|image_pad|>"]})
    tokenizer._pad_id = tokenizer.convert_tokens_to_ids("<|image_pad|>")  # upstream reads it in __init__
    return tokenizer


def small_model(vocab_size: int):
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
    config._attn_implementation = "sdpa"
    config.decoder_config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = VibeVoiceForConditionalGenerationInference(config).float().eval()
    model.model.speech_scaling_factor.fill_(1.0)  # NaN buffers until a checkpoint sets them
    model.model.speech_bias_factor.fill_(0.0)
    return model


def script_tokens(model, tokenizer, steps_for_row) -> None:
    """Make generate's token choices: steps_for_row(row) diffusion steps, then speech end, then end of text."""
    from transformers.generation import LogitsProcessor

    class Scripted(LogitsProcessor):
        def __init__(self):
            self.start = None
            self.steps = None

        def __call__(self, input_ids, scores):
            if self.start is None:
                self.start = input_ids.shape[1]
                self.steps = [steps_for_row(row) for row in input_ids]
            step = input_ids.shape[1] - self.start
            forced = torch.full_like(scores, -1e9)
            for row, steps in enumerate(self.steps):
                token = (tokenizer.speech_diffusion_id if step < steps
                         else tokenizer.speech_end_id if step == steps else tokenizer.eos_token_id)
                forced[row, token] = 0.0
            return scores * 0 + forced

    original = type(model)._get_logits_processor

    def with_script(self, *args, **kwargs):
        processors = original(self, *args, **kwargs)
        processors.append(Scripted())
        return processors

    model._get_logits_processor = with_script.__get__(model)


def main() -> int:
    started = time.time()
    from importlib.metadata import version

    import transformers
    import vibevoice  # noqa: F401
    from vibevoice.modular import modeling_vibevoice_inference as modeling
    from vibevoice.processor.vibevoice_processor import VibeVoiceProcessor
    from vibevoice.processor.vibevoice_tokenizer_processor import VibeVoiceTokenizerProcessor

    print(f"vibevoice {version('vibevoice')}, transformers {transformers.__version__}, torch {torch.__version__}")
    adapter_module = load_adapter_module()
    tokenizer = byte_level_tokenizer()
    processor = VibeVoiceProcessor(tokenizer=tokenizer, audio_processor=VibeVoiceTokenizerProcessor(),
                                   speech_tok_compress_ratio=HOP, db_normalize=True)
    model = small_model(len(tokenizer))
    model.set_ddpm_inference_steps(num_steps=adapter_module.DDPM_STEPS)

    def prompt_frames(row) -> int:
        return int((row == tokenizer.speech_diffusion_id).sum())

    steps = {}  # prompt frames -> scripted diffusion steps: 3 for the short prompt, 5 for the long one

    def steps_for_row(row) -> int:
        return steps[prompt_frames(row)]

    script_tokens(model, tokenizer, steps_for_row)

    adapter = adapter_module.Adapter()
    adapter._model, adapter._processor, adapter._torch = model, processor, torch

    rng = np.random.default_rng(0)
    requests = [
        CloneRequest(pair_id="a", prompt_audio=rng.standard_normal(16000 * 2).astype(np.float32) * 0.1,
                     prompt_sample_rate=16000, prompt_text="", prompt_language="en",
                     target_text="A somewhat longer target sentence for the first item.", target_language="en",
                     seed=1),
        CloneRequest(pair_id="b", prompt_audio=rng.standard_normal(44100 * 1).astype(np.float32) * 0.1,
                     prompt_sample_rate=44100, prompt_text="", prompt_language="en",
                     target_text="Short one.", target_language="en", seed=1),
    ]
    frames = [int(np.ceil(len(adapter_module.prompt_for_model(r.prompt_audio, r.prompt_sample_rate)) / HOP))
              for r in requests]
    check(frames == [15, 8], f"prompts at 24 kHz give {frames} latent frames (2 s and 1 s at 7.5 Hz, rounded up)")
    steps.update({frames[0]: 5, frames[1]: 3})

    inputs = processor(text=[adapter_module.script(r.target_text) for r in requests],
                       voice_samples=[[adapter_module.prompt_for_model(r.prompt_audio, r.prompt_sample_rate)]
                                      for r in requests],
                       padding=True, return_tensors="pt", return_attention_mask=True)
    check(inputs["speech_tensors"].shape == (2, 48000), f"speech_tensors {tuple(inputs['speech_tensors'].shape)} "
                                                         "= (2 prompts, 2 s at 24 kHz)")
    check(inputs["speech_masks"].shape == (2, 15) and inputs["speech_masks"].sum(1).tolist() == frames,
          "speech_masks: one row per prompt, its own frame count")
    check(bool((inputs["attention_mask"][1, 0] == 0) and (inputs["attention_mask"][:, -1] == 1).all()),
          "left padding: the shorter item's mask starts with 0, both end with 1")
    check(inputs["speech_input_mask"].sum(1).tolist() == frames, "speech_input_mask marks each prompt's frames")

    clips = adapter.clone(requests)
    for index, (clip, n) in enumerate(zip(clips, (5, 3), strict=True)):
        good = isinstance(clip, np.ndarray)
        check(good and clip.dtype == np.float32 and clip.ndim == 1 and np.isfinite(clip).all(),
              f"batch item {index}: float32 mono, finite")
        check(good and clip.shape[0] == n * HOP,
              f"batch item {index}: {clip.shape[0] if good else clip} samples = {n} steps x {HOP} "
              f"({n * HOP / adapter.sample_rate:.3f} s at {adapter.sample_rate} Hz)")

    # Batch independence: zero diffusion noise (upstream draws one noise tensor for the whole batch).
    class ZeroNoise:
        def __getattr__(self, name):
            return getattr(torch, name)

        @staticmethod
        def randn(*shape, **kwargs):
            return torch.zeros(*shape, **kwargs)

    modeling.torch = ZeroNoise()
    try:
        batch = adapter.clone(requests)
        singles = [adapter.clone([r])[0] for r in requests]
    finally:
        modeling.torch = torch
    for index, (together, alone) in enumerate(zip(batch, singles, strict=True)):
        same_shape = together.shape == alone.shape
        error = float(np.max(np.abs(together - alone)) / (np.max(np.abs(alone)) + 1e-12)) if same_shape else np.inf
        check(same_shape and error < 1e-4,
              f"item {index} in a batch of 2 equals item {index} alone (max difference {error:.1e} of the peak)")

    # Length limit: an item still speaking when generate reaches max_length (max_position_embeddings, made
    # 8 tokens past the prompt here) is flagged in reach_max_step_sample; the adapter makes it a failure.
    steps.update({frames[0]: 10_000})
    limit = model.config.decoder_config.max_position_embeddings
    model.config.decoder_config.max_position_embeddings = inputs["input_ids"].shape[1] + 8
    seen = {}
    generate = model.generate

    def generate_and_keep(*args, **kwargs):
        seen["outputs"] = generate(*args, **kwargs)
        return seen["outputs"]

    model.generate = generate_and_keep
    try:
        mixed = adapter.clone(requests)
    finally:
        model.config.decoder_config.max_position_embeddings = limit
        model.generate = generate
    flags = seen["outputs"].reach_max_step_sample.tolist()
    print(f"      upstream's reach_max_step_sample: {flags} (the longest item of a batch is never flagged: the "
          "adapter's ran_away also checks that the item reached EOS)")
    check(isinstance(mixed[0], CloneFailure) and "length limit" in mixed[0].reason,
          f"an item that runs to upstream's length limit is a CloneFailure: {mixed[0]!r}"[:160])
    check(isinstance(mixed[1], np.ndarray) and mixed[1].shape[0] == 3 * HOP,
          "and its batch-mate still comes back whole")

    print(f"{len(FAILURES)} failed; {time.time() - started:.1f} s")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
