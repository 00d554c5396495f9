"""Random-weight check of the MOSS-TTSD v0.7 code path the adapter uses (no checkpoint, no network).

`rvcbench check-adapter moss_ttsd --random-weights` runs this module through the worker in the model's environment,
with the v0.7 clone recorded for it. `Adapter.load` writes a small random model in upstream's own formats into a
temporary folder and then runs the real adapter's `load` on it, so upstream's `generation_utils.load_model` runs
unchanged (`AutoTokenizer.from_pretrained`, `AsteroidTTSInstruct.from_pretrained`, `XY_Tokenizer.load_from_checkpoint`):

- the speech LM: `modeling_asteroid.AsteroidTTSConfig` made small (2-layer Qwen3 of width 64, 4 heads of 16) but with
  the released model's token layout: 8 channels, speech vocabulary 1025 with pad 1024, channel-0 speech tokens at
  151665..152688 (the offset `process_inputs` adds), a text vocabulary of 152697 so that 152694 (the id
  `CustomMixin._sample` bans while it teacher-forces the prompt's delayed channels) is the end token; saved with
  `save_pretrained`, with a `generation_config.json` of this check's own (greedy, at most 40 new tokens);
- the text tokenizer: a byte-level Qwen2 fast tokenizer without merges (the real one is Qwen3's plus MOSS-TTSD's
  added tokens, a download) with the tokens `process_inputs` writes (`<|begin_of_style|>` ... `<|begin_of_speech|>`,
  `<speaker1>`, `<speaker2>`) and `<|endoftext|>` as pad;
- the XY codec: the clone's `XY_Tokenizer/config/MOSS_TTSD_tokenizer.yaml` with every width made small (32, one
  layer, 2 heads, a 1-layer Vocos of width 32, codebooks of dimension 32) and everything that fixes the arithmetic
  kept (16 kHz in, 32 kHz out, 80 mels, hop 160, strides 2 and 4, 8 quantizers of 1024 codes, Vocos n_fft 1280 /
  hop 320), its random state dict saved with `torch.save` as upstream's checkpoint file is; the codebooks are drawn
  at random and marked initialised, as a trained checkpoint's are (a fresh `VectorQuantize` would run k-means on the
  first prompt it sees). The adapter's `_codec_config` and `_codec_checkpoint` point `load` at these two files.

One thing is scripted after loading, because a random LM never ends: a logits processor, passed to the model's
`generate` (process_batch calls it with input_ids and attention_mask only), restricts channel 0 to the speech tokens
(the model's own greedy choice among them) for `7 + frames % 5` steps, where `frames` is the number of prompt codec
frames in the row, then makes it emit the end token; 7 is the least upstream allows (it bans the end token during
the 7 teacher-forced steps). Channels 1 to 7 are the random model's greedy choices. Sampling is off (the checkpoint's
`generation_config.json` here has `do_sample: false` and no per-channel `do_samples`, so `_sample` applies the
passed processors to every channel): one sampling run covers a whole batch, so only greedy decoding can show that
a batch equals its items alone.

`clone` is the real adapter's: upstream's `process_batch` with text normalisation, Format-2 items, codec encoding of
each prompt, delay-pattern shifting, left padding, one batched `generate`, per-item slicing and the prompt-augmented
decode (the reference padded to 20 s, re-encoded and decoded in front of the generated codes, then cut off).

It proves call shapes, argument names, loading of upstream's formats, batching with left padding, per-item stopping
and the length arithmetic; not output quality (random weights speak no words), the real config, tokenizer or weights,
sampling, or bf16 / flash-attention on CUDA.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module, byte_level_tokenizer

real = adapter_module(__file__)

HIDDEN = 64
VOCAB = 152697  # text + speech + added tokens
SPEECH_RANGE = (151665, 152689)  # generation_utils.process_inputs: channel-0 codes + 151665
END_TOKEN = 152694  # modeling_asteroid: banned on channel 0 while the prompt's delayed channels are forced
CHANNELS = 8
FORCED_STEPS = CHANNELS - 1
MAX_NEW_TOKENS = 40
CODEC_RATE = 16000  # MOSS_TTSD_tokenizer.yaml: input_sample_rate
CODEC_HOP = 1280  # encoder_downsample_rate: 16 kHz samples per codec frame (12.5 Hz)
SAMPLES_PER_FRAME = 2560  # 32 kHz output samples per codec frame (process_batch: out_sr / tokens_per_second)
SPECIAL = ["<|endoftext|>", "<|begin_of_style|>", "<|end_of_style|>", "<|begin_of_text|>", "<|end_of_text|>",
           "<|begin_of_speech|>", "<|end_of_speech|>", "<speaker1>", "<speaker2>"]


def scripted_frames(prompt_frames: int) -> int:
    """Channel-0 speech steps the scripted LM makes for a prompt of `prompt_frames` codec frames: 7 to 11."""
    return FORCED_STEPS + prompt_frames % 5


def prompt_frames(request) -> int:
    """Codec frames of the prompt as process_batch encodes it: torchaudio's resampling to 16 kHz, then // 1280."""
    samples = len(request.prompt_audio)
    rate = int(request.prompt_sample_rate)
    if rate != CODEC_RATE:
        step = math.gcd(rate, CODEC_RATE)
        samples = math.ceil(CODEC_RATE // step * samples / (rate // step))  # torchaudio.functional.resample
    return samples // CODEC_HOP


def expected_samples(request) -> int:
    # process_batch reads the generated frames from the first step on (outputs[:, input length - 8 + 1:], undone
    # delay pattern) up to the last valid channel-1 code, the step before the end token's first pad: one frame per
    # scripted speech step, each decoded to 2560 samples by the prompt-augmented decode (reference cut off)
    return scripted_frames(prompt_frames(request)) * SAMPLES_PER_FRAME


SPEC = RandomWeightSpec(
    distributions=("transformers", "torch", "torchaudio", "accelerate", "librosa", "einops", "PyYAML"),
    built=(f"AsteroidTTSInstruct: 2-layer Qwen3 of width {HIDDEN}, 8 channels, speech vocabulary 1025, the released "
           "token layout (speech 151665..152688, end 152694, vocabulary 152697), byte-level Qwen2 tokenizer; "
           "XY_Tokenizer from MOSS_TTSD_tokenizer.yaml made small (width 32, 1 layer, 8x1024 codebooks of dim 32, "
           "1-layer Vocos, upstream's rates and strides); saved in upstream's formats and loaded by the adapter's "
           "load through generation_utils.load_model"),
    batch_tolerance=1e-4,
    expected_samples=expected_samples,
    seeded=False,
    failure_probes=(
        FailureProbe("an empty prompt transcript (MOSS-TTSD conditions on it)", prompt_text=" ",
                     reason="empty prompt transcript"),
        FailureProbe("an empty target text", target_text="", reason="empty target text"),
    ),
    notes=("channel 0's stop is scripted per item from its prompt's codec frames (a random LM never ends); the "
           "speech-token choice itself and channels 1-7 are the random model's greedy picks",
           "sampling is off in the random checkpoint's generation_config.json (the real one samples, seeded per "
           "batch), so the seed is not read here",
           f"max_new_tokens is {MAX_NEW_TOKENS} here; the upstream code is the v0.7 clone (commit recorded)"),
)


def text_tokenizer():
    """A Qwen2 fast tokenizer over bytes (no merges) with the tokens process_inputs writes; pad <|endoftext|>."""
    tokenizer = byte_level_tokenizer(unk_token=None, bos_token=None,
                                   eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL[1:]})
    return tokenizer


def write_model(folder: Path) -> None:
    """The small random AsteroidTTSInstruct, its tokenizer and generation config, as the released folder has."""
    import torch
    from modeling_asteroid import AsteroidTTSConfig, AsteroidTTSInstruct

    tokenizer = text_tokenizer()
    pad = tokenizer.pad_token_id
    config = AsteroidTTSConfig(
        channels=CHANNELS, speech_pad_token=1024, speech_vocab_size=1025, speech_token_range=list(SPEECH_RANGE),
        vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=4096,
        rope_theta=1000000, pad_token_id=pad, bos_token_id=pad, eos_token_id=END_TOKEN)
    torch.manual_seed(0)
    AsteroidTTSInstruct(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "generation_config.json").write_text(json.dumps({
        "do_sample": False, "do_samples": None, "max_new_tokens": MAX_NEW_TOKENS, "eos_token_id": END_TOKEN,
        "pad_token_id": pad, "bos_token_id": pad}, indent=2), encoding="utf-8")


def small_codec_params(root: Path) -> dict:
    """The clone's MOSS_TTSD_tokenizer.yaml with every width made small and every rate and stride kept."""
    import yaml

    params = yaml.safe_load((root / real.CODEC_CONFIG).read_text(encoding="utf-8"))["generator_params"]
    width, ffn = 32, 64
    for name in ("semantic_encoder_kwargs", "acoustic_encoder_kwargs"):
        params[name].update(d_model=width, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=ffn)
    for name, (source, target) in {"semantic_encoder_adapter_kwargs": (width, width),
                                   "pre_rvq_adapter_kwargs": (2 * width, width),
                                   "post_rvq_adapter_kwargs": (4 * width, 4 * width)}.items():
        params[name].update(input_dim=source, output_dim=target, d_model=width, encoder_layers=1,
                            encoder_attention_heads=2, encoder_ffn_dim=ffn)
    params["downsample_kwargs"].update(d_model=width)
    params["upsample_kwargs"].update(d_model=width)
    params["quantizer_kwargs"].update(input_dim=4 * width, rvq_dim=width, output_dim=4 * width,
                                      codebook_dim=width)  # = rvq_dim, as upstream (decode_codes adds them)
    params["acoustic_decoder_kwargs"].update(d_model=width, decoder_layers=1, decoder_attention_heads=2,
                                             decoder_ffn_dim=ffn)
    params["vocos_kwargs"].update(dim=width, intermediate_dim=ffn, num_layers=1)
    return params


def write_codec(root: Path, folder: Path) -> tuple[Path, Path]:
    """The small XY codec's config (yaml, upstream's layout) and random checkpoint (torch.save of its state)."""
    import torch
    import yaml
    from XY_Tokenizer.xy_tokenizer.model import XY_Tokenizer

    params = small_codec_params(root)
    config = folder / "MOSS_TTSD_tokenizer_small.yaml"
    config.write_text(yaml.safe_dump({"generator_params": params}), encoding="utf-8")
    torch.manual_seed(1)
    codec = XY_Tokenizer(params)
    with torch.no_grad():
        for quantizer in codec.quantizer.quantizers:  # a trained checkpoint's codebooks, not k-means on first use
            quantizer.codebook.normal_()
            quantizer.embed_avg.copy_(quantizer.codebook)
            quantizer.inited.fill_(True)
    checkpoint = folder / real.CODEC_FILE
    torch.save(codec.state_dict(), checkpoint)
    return config, checkpoint


def script_stops(model) -> None:
    """Make channel 0 pick speech tokens for scripted_frames(prompt frames) steps per row, then the end token."""
    import functools

    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    low, high = SPEECH_RANGE

    class Scripted(LogitsProcessor):
        def __init__(self):
            self.start = None
            self.steps: list[int] = []

        def __call__(self, input_ids, scores):
            if scores.shape[-1] != VOCAB:  # channels 1-7 (speech vocabulary): the model's own choice
                return scores
            if self.start is None:  # the first step: the rows hold the prompt's codes on channel 0
                self.start = input_ids.shape[1]
                self.steps = [scripted_frames(int(((row >= low) & (row < high)).sum())) for row in input_ids]
            step = input_ids.shape[1] - self.start
            forced = torch.full_like(scores, -torch.inf)
            for row, steps in enumerate(self.steps):
                if step < steps:
                    forced[row, low:high] = scores[row, low:high]
                else:
                    forced[row, END_TOKEN] = 0.0
            return forced

    generate = model.generate

    @functools.wraps(generate)
    def with_script(*args, **kwargs):
        return generate(*args, logits_processor=LogitsProcessorList([Scripted()]), **kwargs)

    model.generate = with_script


class Adapter(real.Adapter):
    """The real adapter, loading a random small checkpoint and codec built on the fly; `clone` is the real one."""

    _codec_files: tuple[Path, Path] | None = None

    def _codec_config(self, root: Path) -> Path:
        return self._codec_files[0]

    def _codec_checkpoint(self, root: Path) -> Path:
        return self._codec_files[1]

    def load(self, device: str) -> None:
        from rvcbench.adapters import support

        root = support.upstream_checkout(self.checkout, self.name)  # the clone: upstream's classes and yaml
        with tempfile.TemporaryDirectory(prefix="rvcbench-moss-ttsd-") as folder:
            model_dir = Path(folder) / "MOSS-TTSD-v0.7"
            model_dir.mkdir()
            write_model(model_dir)
            self._codec_files = write_codec(root, Path(folder))
            self.weights = str(model_dir)
            super().load(device)
        self.weights = None
        script_stops(self._parts[1])
