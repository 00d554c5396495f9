"""Random-weight check of the qwen-tts code path the adapter uses (no checkpoint, no network).

`Adapter.load` builds upstream's `Qwen3TTSForConditionalGeneration` (Base type, 12 Hz tokenizer) from a
`Qwen3TTSConfig` made small, with random weights: a 2-layer Qwen3 talker of width 64 with upstream's codec
vocabulary of 3072 and 16 code groups, a 1-layer code predictor, a small ECAPA speaker encoder (128 mels at
24 kHz as upstream computes them), and a `Qwen3TTSTokenizerV2Model` speech tokenizer whose Mimi encoder and
decoder are 1-layer and narrow but keep upstream's strides (1920 samples a frame, 12.5 Hz at 24 kHz). It saves
them with `save_pretrained` in the layout of the real repository (`config.json`, `model.safetensors`,
`generation_config.json`, the text tokenizer files, `speech_tokenizer/` with its `preprocessor_config.json`),
and then the real `Adapter.load` loads that folder through `Qwen3TTSModel.from_pretrained`, so upstream's own
loading code runs too. The text tokenizer is a byte-level BPE without merges made here (the real one is
Qwen2's, a download), with the chat-template tokens upstream slices on (`<|im_start|>`, `assistant`, ...).

Two things are scripted, both outside the adapter's `clone`:
- the checkpoint's `generation_config.json` turns sampling off (talker and sub-talker), so that a batch can be
  compared with each item alone (sampling draws one random tensor for the whole batch);
- a random talker never emits the codec EOS, so a logits processor (added to the talker's `generate`) makes
  each item stop after `scripted_frames(text)` frames, a function of its own target text, and never for texts
  longer than RUNAWAY_BYTES; `max_new_tokens` is 48 instead of 2048 so that such an item reaches the limit soon.

What this proves: the call shapes and argument names of `generate_voice_clone` in ICL mode, batching with left
padding, per-item stopping and upstream's trimming of the prompt's frames, the output rate and length arithmetic,
and the adapter's runaway rule. It does not prove anything about output quality, the real config or weights,
sampling, or bf16/flash-attention on CUDA.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module, byte_level_tokenizer

real = adapter_module(__file__)

HIDDEN = 64
RUNAWAY_BYTES = 300  # a target text longer than this never stops (scripted)
CODEC = dict(codec_pad_id=2148, codec_bos_id=2149, codec_eos_token_id=2150, codec_think_id=2154,
             codec_nothink_id=2155, codec_think_bos_id=2156, codec_think_eos_id=2157)
LANGUAGE_IDS = {name.lower(): 2200 + index for index, name in enumerate(real.LANGUAGE_NAMES.values())}
GREEDY = {"do_sample": False, "top_k": 50, "top_p": 1.0, "temperature": 0.9, "repetition_penalty": 1.05,
          "subtalker_dosample": False, "subtalker_top_k": 50, "subtalker_top_p": 1.0, "subtalker_temperature": 0.9,
          "max_new_tokens": 8192}
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tts_pad>", "<tts_text_bos>", "<tts_text_eod>"]


def scripted_frames(text: str) -> int:
    """How many codec frames the scripted talker makes for a target text: 3 to 9, from its UTF-8 length."""
    size = len(text.encode("utf-8"))
    return 10**9 if size > RUNAWAY_BYTES else 3 + size % 7


def expected_samples(request) -> int:
    return scripted_frames(request.target_text) * real.SAMPLES_PER_FRAME


SPEC = RandomWeightSpec(
    distributions=("qwen-tts", "transformers", "accelerate", "torch", "librosa"),
    built=(f"Qwen3TTSForConditionalGeneration (Base, 12 Hz): 2-layer Qwen3 talker of width {HIDDEN}, codec "
           "vocabulary 3072, 16 code groups, 1-layer code predictor, small ECAPA speaker encoder; "
           "Qwen3TTSTokenizerV2Model with a 1-layer Mimi encoder and decoder at upstream's 1920-sample stride; "
           "saved with save_pretrained and loaded by the adapter's load"),
    batch_tolerance=1e-4,
    expected_samples=expected_samples,
    seeded=False,
    failure_probes=(
        FailureProbe(what="an empty prompt transcript (in-context cloning needs it)", prompt_text="",
                     reason="empty prompt transcript"),
        FailureProbe(what="a target that never reaches the codec EOS (scripted) runs to max_new_tokens",
                     target_text="A target that the scripted talker never ends. " * 8, reason="max_new_tokens"),
    ),
    notes=("sampling is off in the random checkpoint's generation_config.json (the real one samples, seeded per "
           "batch), so the seed is not read here",
           "the talker's stop is scripted per item from its target text; max_new_tokens is 48 here, 2048 for real"),
)


def text_tokenizer():
    """A Qwen2 fast tokenizer over bytes (no merges) with the special tokens the templates use."""
    tokenizer = byte_level_tokenizer(unk_token=None, bos_token=None,
                                   eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL[1:]})
    tokenizer.add_tokens(["assistant"])  # one token, as in Qwen's vocabulary: upstream slices [:, :3] and [3:-5]
    return tokenizer


def build_checkpoint(folder: Path) -> Path:
    """Random small Qwen3-TTS Base saved in the layout of the real repository; returns `folder`."""
    import torch
    from qwen_tts.core.models import Qwen3TTSConfig, Qwen3TTSForConditionalGeneration, Qwen3TTSProcessor
    from qwen_tts.core.tokenizer_12hz.configuration_qwen3_tts_tokenizer_v2 import Qwen3TTSTokenizerV2Config
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import Qwen3TTSTokenizerV2Model
    from transformers import EncodecFeatureExtractor

    tokenizer = text_tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL}
    small = dict(hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_attention_heads=4, num_key_value_heads=2,
                 head_dim=16, max_position_embeddings=4096)
    config = Qwen3TTSConfig(
        talker_config=dict(
            **small, vocab_size=3072, num_hidden_layers=2, num_code_groups=16, text_hidden_size=HIDDEN,
            text_vocab_size=len(tokenizer), rope_theta=1000000,
            rope_scaling={"rope_type": "default", "mrope_section": [4, 2, 2], "interleaved": True},
            codec_language_id={**LANGUAGE_IDS, "beijing_dialect": 2240, "sichuan_dialect": 2241},
            spk_id={}, spk_is_dialect={}, **CODEC,
            code_predictor_config=dict(**small, vocab_size=2048, num_hidden_layers=1, num_code_groups=16)),
        speaker_encoder_config=dict(enc_dim=HIDDEN, enc_channels=[32, 32, 32, 32, 96], enc_attention_channels=16,
                                    enc_res2net_scale=4, enc_se_channels=16, sample_rate=real.PROMPT_RATE),
        tokenizer_type="qwen3_tts_tokenizer_12hz", tts_model_size="1b7", tts_model_type="base",
        im_start_token_id=ids["<|im_start|>"], im_end_token_id=ids["<|im_end|>"],
        tts_pad_token_id=ids["<tts_pad>"], tts_bos_token_id=ids["<tts_text_bos>"],
        tts_eos_token_id=ids["<tts_text_eod>"])
    torch.manual_seed(0)
    Qwen3TTSForConditionalGeneration(config).eval().save_pretrained(folder)
    # save_pretrained writes `"model_type": ""` into speaker_encoder_config, which Qwen3TTSSpeakerEncoderConfig
    # (no **kwargs) refuses on loading; the released config.json has no such key
    saved = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    saved["speaker_encoder_config"].pop("model_type", None)
    (folder / "config.json").write_text(json.dumps(saved, indent=2), encoding="utf-8")
    Qwen3TTSProcessor(tokenizer=tokenizer).save_pretrained(folder)
    tokenizer.backend_tokenizer.model.save(str(folder))  # vocab.json and merges.txt, as the real repository has
    (folder / "generation_config.json").write_text(json.dumps(GREEDY, indent=2), encoding="utf-8")

    codec = Qwen3TTSTokenizerV2Config(
        encoder_config=dict(hidden_size=32, num_filters=8, num_residual_layers=1, num_hidden_layers=1,
                            intermediate_size=64, num_attention_heads=2, num_key_value_heads=2, head_dim=16,
                            codebook_size=2048, codebook_dim=32, vector_quantization_hidden_dimension=32,
                            num_quantizers=32, upsample_groups=32, sampling_rate=real.PROMPT_RATE),
        decoder_config=dict(codebook_size=2048, codebook_dim=32, hidden_size=32, latent_dim=32, num_hidden_layers=1,
                            num_attention_heads=2, num_key_value_heads=2, head_dim=16, intermediate_size=64,
                            num_quantizers=16, decoder_dim=32),
        encoder_valid_num_quantizers=16, input_sample_rate=real.PROMPT_RATE, output_sample_rate=real.OUTPUT_RATE,
        decode_upsample_rate=real.SAMPLES_PER_FRAME, encode_downsample_rate=real.SAMPLES_PER_FRAME)
    speech = folder / "speech_tokenizer"
    speech_model = Qwen3TTSTokenizerV2Model(codec).eval()
    with torch.no_grad():  # the codebooks start as zeros (a trained checkpoint fills them): all codes would decode
        for name, tensor in speech_model.state_dict().items():  # to silence and encode to code 0
            if name.endswith(("embed_sum", "embedding_sum")):
                tensor.normal_()
    speech_model.save_pretrained(speech)
    EncodecFeatureExtractor(feature_size=1, sampling_rate=real.PROMPT_RATE, padding_value=0.0).save_pretrained(speech)
    return folder


def script_stops(model, frames_for=scripted_frames) -> None:
    """Make the talker stop each item after `frames_for(its target text)` frames (EOS suppressed before)."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    eos = model.config.talker_config.codec_eos_token_id
    tokenizer_decode = model._rvcbench_decode  # set by Adapter.load: the text tokenizer's decode
    budgets: list[int] = []

    class Scripted(LogitsProcessor):
        def __call__(self, input_ids, scores):
            step = input_ids.shape[1]  # tokens generated so far (generation from embeddings starts empty)
            for row, frames in enumerate(budgets):
                if step < frames:
                    scores[row, eos] = -torch.inf
                else:
                    scores[row, :] = -torch.inf
                    scores[row, eos] = 0.0
            return scores

    outer, talker = model.generate, model.talker.generate

    def generate(*args, input_ids=None, **kwargs):
        texts = [tokenizer_decode(ids[0, 3:-5]) for ids in input_ids]
        budgets[:] = [frames_for(text) for text in texts]
        return outer(*args, input_ids=input_ids, **kwargs)

    def talker_generate(*args, **kwargs):
        return talker(*args, logits_processor=LogitsProcessorList([Scripted()]), **kwargs)

    model.generate = generate
    model.talker.generate = talker_generate


class Adapter(real.Adapter):
    """The real adapter, loading a random small checkpoint built on the fly; `clone` is the real one."""

    max_new_tokens = 48

    def load(self, device: str) -> None:
        with tempfile.TemporaryDirectory(prefix="rvcbench-qwen3-tts-") as folder:
            self.weights = str(build_checkpoint(Path(folder)))
            super().load(device)
        self.weights = None
        inner = self._model.model
        inner._rvcbench_decode = lambda ids: self._model.processor.tokenizer.decode(ids)
        script_stops(inner)
