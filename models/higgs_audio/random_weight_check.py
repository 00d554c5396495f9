"""Random-weight check of Higgs Audio v2 (`rvcbench check-adapter higgs_audio --random-weights`, offline).

`Adapter.load` writes the three checkpoints the real `load` resolves, small and random, in upstream's own layouts, and
then runs the real adapter's `load` on them, so `support.resolve_weights`, `support.upstream_checkout` (the clone),
`support.hub_ids_as_folders` and `HiggsAudioServeEngine.__init__` (`HiggsAudioModel.from_pretrained`,
`AutoTokenizer.from_pretrained`, `load_higgs_audio_tokenizer`, the StaticCache buckets, the collator) run as they do
with the released weights:

- `bosonai/higgs-audio-v2-generation-3B-base` as a folder: a `HiggsAudioModel` from `HiggsAudioConfig` with the
  released config's architecture (DualFFN fast-forward adapter on every layer, audio tower skipped, no Whisper
  embedding, audio-in tokens encoded, 8 codebooks of 1024 codes with the delay pattern) but a 2-layer Llama of width
  64, saved with `save_pretrained`; beside it a byte-level BPE text tokenizer (no merges; the real one is Llama 3's,
  a download) with the special tokens upstream's chat format uses, their ids written into the config as the
  released config names Llama 3's;
- `bosonai/higgs-audio-v2-tokenizer`: `config.json` (upstream's keys; 24 kHz, 8 quantizers of 1024 bins,
  `hubert_base_general`; ratios 8*5*4*6 for upstream's 960-sample hop, 25 frames a second, in four stages instead
  of the released five, since `HiggsAudioTokenizer` doubles a fixed width of 64 per stage) and `model.pth`, the
  state dict of a `HiggsAudioTokenizer` built from it, with its RVQ codebooks filled with random vectors and marked
  initialised (a trained checkpoint's are; left empty, upstream would k-means them on the first prompt);
- `bosonai/hubert_base`: a 1-layer `HubertModel` of upstream's fixed width 768 (`HiggsAudioTokenizer` hard-codes
  `semantic_dim = 768`) with narrow feature convolutions at HuBERT's 320-sample stride, saved with `save_pretrained`.
The last two go into a temporary rvcbench weights store (RVCBENCH_WEIGHTS_DIR while `load` runs), the way
`rvcbench env create higgs_audio --with-weights` leaves them.

A random model never chooses to speak or to stop, so its logits are scripted on the loaded model's instance (its
`forward` and `generate` wrapped; nothing of upstream's sampling is replaced): the first text token is
`<|audio_out_bos|>`; in audio mode the stream's bos/eos codes are masked, so the 8 codebooks are sampled from the
random model's own logits with upstream's temperature, top-k/top-p, repetition-aware sampling and seeded generator,
until codebook 0 is made to emit the stream eos after `scripted_frames(target text)` frames; upstream's delay
pattern then closes the other codebooks and emits `<|audio_eos|>`, and the next text token is made `<|eot_id|>`
(a stop string). A target holding `~` never gets its eos, so it runs to `max_new_tokens` (48 here, 2048 for real).

It proves the checkpoint layouts, the Hub-id redirection of the semantic teacher, the chat sample, the prompt's
encoding (HuBERT features, acoustic encoder, RVQ), the delay-pattern generation and its reversal, the decoding
arithmetic (960 samples a frame at 24 kHz), seeding and the adapter's failures; not output quality, the real
config's sizes, bf16 or CUDA graphs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from unittest import mock

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module

real = adapter_module(__file__)

HIDDEN = 64
SEMANTIC_WIDTH = 768  # HiggsAudioTokenizer: semantic_dim = encoder_semantic_dim = 768 for the HuBERT teachers
RATIOS = [8, 5, 4, 6]  # 960 samples a frame, as the released [8, 5, 4, 2, 3]
HOP = 960
RUNAWAY_MARK = "~"
MAX_NEW_TOKENS = 48
# the special tokens of upstream's chat format (chatml_dataset.prepare_chatml_sample, serve_engine, the system turn)
SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
           "<|eom_id|>", "<|recipient|>", "<|audio_bos|>", "<|audio_eos|>", "<|audio_out_bos|>", "<|AUDIO|>",
           "<|AUDIO_OUT|>", "<|scene_desc_start|>", "<|scene_desc_end|>"]


def scripted_frames(text: str) -> int | None:
    """Audio frames the scripted model makes for a target text as the model reads it (None: it never stops)."""
    return None if RUNAWAY_MARK in text else 3 + len(text.encode("utf-8")) % 7


def expected_samples(request) -> int:
    return scripted_frames(real.target_text_for_model(request.target_text)) * HOP


SPEC = RandomWeightSpec(
    distributions=("boson_multimodal", "transformers", "torch", "torchaudio", "librosa", "descript-audio-codec",
                   "vector-quantize-pytorch"),
    built=(f"HiggsAudioConfig as released (dual_ffn_fast_forward on every layer, 8x1024 codes, delay pattern) with "
           f"a 2-layer Llama of width {HIDDEN} and a byte-level tokenizer; HiggsAudioTokenizer at 24 kHz with 960-"
           "sample frames in 4 stages; a 1-layer HuBERT of width 768; saved in upstream's layouts and loaded by "
           "the adapter's load"),
    expected_samples=expected_samples,
    seeded=True,
    failure_probes=(
        FailureProbe(what="an empty prompt transcript (the cloning turn needs it)", prompt_text="",
                     reason="empty prompt transcript"),
        FailureProbe(what="a target that never ends its audio (scripted) runs to max_new_tokens",
                     target_text=f"This one keeps on talking {RUNAWAY_MARK} forever.", reason="max_new_tokens"),
    ),
    notes=("logits scripted on the loaded model: speak first, stream eos after scripted_frames(text) frames, then "
           "<|eot_id|>; the audio codes themselves are sampled from the random model with upstream's sampling",
           f"max_new_tokens is {MAX_NEW_TOKENS} here (2048 for real), so the runaway probe stops sooner",
           "audio tokenizer in 4 stages (8*5*4*6) instead of the released 5 (8*5*4*2*3): same 960-sample hop"),
)


def text_tokenizer():
    """A byte-level BPE without merges, with the special tokens Higgs Audio's chat format uses, as single tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    vocab = {char: index for index, char in enumerate(bytes_to_unicode().values())}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|begin_of_text|>",
                                        eos_token="<|end_of_text|>")
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL[2:]})
    return tokenizer


def write_model(folder: Path) -> None:
    """The small random HiggsAudioModel and its text tokenizer, in the layout of the released checkpoint."""
    import torch
    from boson_multimodal.model.higgs_audio import HiggsAudioConfig, HiggsAudioModel

    tokenizer = text_tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL}
    text_config = dict(model_type="llama", vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=2 * HIDDEN,
                       num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                       max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=500000.0,
                       rope_scaling={"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                       bos_token_id=ids["<|begin_of_text|>"], eos_token_id=ids["<|end_of_text|>"],
                       tie_word_embeddings=True)
    config = HiggsAudioConfig(
        text_config=text_config, audio_adapter_type="dual_ffn_fast_forward", audio_dual_ffn_layers=[0, 1],
        audio_ffn_hidden_size=HIDDEN, audio_ffn_intermediate_size=2 * HIDDEN, audio_decoder_proj_num_layers=0,
        encode_whisper_embed=False, encode_audio_in_tokens=True, skip_audio_tower=True, use_delay_pattern=True,
        use_audio_out_self_attention=False, audio_num_codebooks=8, audio_codebook_size=1024,
        audio_stream_bos_id=1024, audio_stream_eos_id=1025, audio_in_token_idx=ids["<|AUDIO|>"],
        audio_out_token_idx=ids["<|AUDIO_OUT|>"], pad_token_id=ids["<|end_of_text|>"],
        audio_out_bos_token_id=ids["<|audio_out_bos|>"], audio_eos_token_id=ids["<|audio_eos|>"],
        hidden_size=HIDDEN)
    torch.manual_seed(0)
    HiggsAudioModel(config).eval().save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))


def write_audio_tokenizer(folder: Path, hubert: Path) -> None:
    """`config.json` and `model.pth` as `load_higgs_audio_tokenizer` reads them (its teacher opened from `hubert`)."""
    import torch
    from boson_multimodal.audio_processing import higgs_audio_tokenizer as codec

    from rvcbench.adapters import support

    config = {"n_filters": 32, "D": 64, "codebook_dim": 64, "target_bandwidths": [0.5, 1, 1.5, 2, 4],
              "ratios": RATIOS, "sample_rate": real.OUTPUT_RATE, "bins": 1024, "n_q": 8,
              "semantic_techer": real.SEMANTIC_TEACHER_DEFAULT}
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    torch.manual_seed(0)
    with support.hub_ids_as_folders((codec.AutoModel,), {real.SEMANTIC_MODEL_ID: hubert}, real.KEY):
        model = codec.HiggsAudioTokenizer(**config, device="cpu")
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("_codebook.embed"):
                tensor.copy_(torch.randn_like(tensor))
            elif name.endswith("_codebook.inited"):
                tensor.fill_(1.0)
    torch.save(model.state_dict(), folder / "model.pth")


def write_hubert(folder: Path) -> None:
    """A 1-layer HuBERT of width 768 with narrow convolutions at HuBERT's strides (320 samples a frame at 16 kHz)."""
    import torch
    from transformers import HubertConfig, HubertModel

    config = HubertConfig(hidden_size=SEMANTIC_WIDTH, num_hidden_layers=1, num_attention_heads=4,
                          intermediate_size=128, conv_dim=(32,) * 7, conv_stride=(5, 2, 2, 2, 2, 2, 2),
                          conv_kernel=(10, 3, 3, 3, 3, 2, 2), num_conv_pos_embeddings=16,
                          num_conv_pos_embedding_groups=16)
    torch.manual_seed(0)
    HubertModel(config).eval().save_pretrained(str(folder))


def script_generation(model, tokenizer, frames_for=scripted_frames) -> None:
    """Script the loaded model's logits as the module docstring says (on the instance, per `generate` call)."""
    import functools

    import torch

    config = model.config
    audio_out_bos, eot = (tokenizer.convert_tokens_to_ids(token) for token in ("<|audio_out_bos|>", "<|eot_id|>"))
    user = "<|start_header_id|>user<|end_header_id|>\n\n"
    state = {"frames": None, "audio_steps": 0}
    forward, generate = model.forward, model.generate

    @functools.wraps(generate)
    def scripted_generate(*args, input_ids=None, **kwargs):
        prompt = tokenizer.decode(input_ids[0])
        target = prompt.rpartition(user)[2].partition("<|eot_id|>")[0]
        state.update(frames=frames_for(target), audio_steps=0)
        return generate(*args, input_ids=input_ids, **kwargs)

    @functools.wraps(forward)  # generate validates its keyword arguments against forward's signature
    def scripted_forward(*args, **kwargs):
        outputs = forward(*args, **kwargs)
        last = int(kwargs["input_ids"][0, -1])
        if last == config.audio_out_token_idx:  # an audio step: the logits of the 8 codebooks for the next frame
            logits = outputs.audio_logits[-1]
            logits[:, config.audio_stream_bos_id:] = -torch.inf
            if state["audio_steps"] == state["frames"]:
                logits[0, :] = -torch.inf
                logits[0, config.audio_stream_eos_id] = 0.0
            state["audio_steps"] += 1
        elif last != audio_out_bos:  # a text step (after <|audio_out_bos|> upstream forces <|AUDIO_OUT|> itself)
            token = eot if state["audio_steps"] else audio_out_bos
            outputs.logits[:, -1, :] = -torch.inf
            outputs.logits[:, -1, token] = 0.0
        return outputs

    model.generate = scripted_generate
    model.forward = scripted_forward


class Adapter(real.Adapter):
    """The real adapter, loading small random checkpoints written in upstream's layouts; `clone` is the real one."""

    max_new_tokens = MAX_NEW_TOKENS

    def load(self, device: str) -> None:
        from rvcbench import weights_store

        real.support.upstream_checkout(self.checkout, self.name)  # the writers below import upstream's classes
        self._scratch = tempfile.TemporaryDirectory(prefix="rvcbench-higgs-audio-random-")  # removed at exit
        scratch = Path(self._scratch.name)
        source = scratch / "hub"
        write_hubert(source / real.SEMANTIC_MODEL_ID)
        write_audio_tokenizer(source / real.AUDIO_TOKENIZER_ID, source / real.SEMANTIC_MODEL_ID)
        write_model(scratch / "higgs-audio-v2-generation-3B-base")
        with mock.patch.dict(os.environ, {weights_store.WEIGHTS_DIR_VARIABLE: str(scratch / "store")}):
            for repo_id in (real.AUDIO_TOKENIZER_ID, real.SEMANTIC_MODEL_ID):
                weights_store.download(repo_id, source=source, echo=lambda line: None)
            shutil.rmtree(source)
            self.weights = str(scratch / "higgs-audio-v2-generation-3B-base")
            super().load(device)
        script_generation(self._engine.model, self._engine.tokenizer)
