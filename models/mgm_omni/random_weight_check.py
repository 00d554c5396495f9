"""Random-weight check of MGM-Omni TTS from its checkout (`rvcbench check-adapter mgm_omni --random-weights`).

`Adapter.load` writes a small random MGM-Omni-TTS folder in the layout the adapter's real `load` reads
(`builder.load_pretrained_model`'s `mgm-omni-tts` branch) and then runs that `load` on it, so upstream's own loading
code runs: `MGMTTSForCausalLM.from_pretrained` (fp16, `low_cpu_mem_usage`), `load_cosyvoice` (CosyVoice 2's
`load_hyperpyyaml` on `cosyvoice2/cosyvoice2.yaml`, `flow.pt` / `hift.pt` loaded strictly, two onnxruntime sessions)
and `AutoTokenizer.from_pretrained(use_fast=False)`:
- `config.json` + `model.safetensors`: an `MGMTTSConfig` (Qwen3) of 2 layers, width 64, with its speech decoder
  (`tts_adapter_type="qwen3"`, `tts_adapter_config="[2,64,4_2,128]"`: 2 Qwen3 layers of width 64) and what
  `initialize_tts_training` saves (`tokenizer_text_size`, `tokenizer_speech_size` 6563); the vocabulary keeps
  upstream's arithmetic: 151672 text ids (Qwen3's 151669 and `<|audio_start|>`, `<|audio_end|>`, `<|audio_sep|>`
  last, since `audio_start = tokenizer_text_size - 3`; the reference transcript is padded with the hard-coded id
  151643) and 4 x 6563 speech ids, tied embeddings;
- a slow `Qwen2Tokenizer` (`vocab.json`, `merges.txt`) over bytes, no merges (the real one is Qwen3's BPE), with
  Qwen's specials at their ids (`<|endoftext|>` 151643 as pad, `<|im_start|>`, `<|im_end|>` 151645 as EOS), reserved
  tokens up to 151668 and the three audio tokens; `speech_layer_*` tokens are not added (never tokenized);
- `cosyvoice2/cosyvoice2.yaml`: the sections the vendored `CosyVoice2` reads (`sample_rate`, `flow`, `hift`,
  `feat_extractor`), following CosyVoice's `examples/libritts/cosyvoice2/conf/cosyvoice2.yaml`
  (FunAudioLLM/CosyVoice @ 1c062ab; the checkpoint's own copy is not readable here) made small where upstream
  allows it: the flow encoder keeps width 512 (`UpsampleConformerEncoder` hard-codes 512 for its lookahead and
  upsampling layers) with 1 + 4 blocks of 128 feed-forward units, the flow-matching estimator has channels [64], one
  block and one mid block, HiFT has 64 base channels; kept as upstream has them: 24 kHz, 80 mel bins (the CFM's
  fixed noise is 80-wide), 6561 speech codes, 25 tokens a second, token_mel_ratio 2, HiFT upsampling 8*5*3 with
  an istft hop of 4 (480 samples a mel frame, so 960 a speech token); `flow.pt` and `hift.pt` are the state dicts
  of the modules that `load_hyperpyyaml` builds from that file;
- `campplus.onnx` and `speech_tokenizer_v2.onnx`: random stand-ins written with `onnx.helper` with the interfaces
  `CosyVoice2` calls: fbank (1, T, 80) -> a 192-dim speaker embedding (mean over time, random projection), and
  whisper log-mel (1, 128, T) + length -> 25 Hz codes in [0, 6560] (a stride-4 convolution to 8 dims, each rounded
  to 3 levels, as an FSQ of 3^8 = 6561 codes).

Two things are set after loading, outside the adapter's `clone`:
- the speech decoder's attention: `Qwen3TTSAdapter` hard-codes `flash_attention_2`, which needs flash-attn and a
  CUDA GPU; where flash-attn does not import (here), its layers run transformers' SDPA with the all-ones 2-D mask
  that `generate` hands them dropped, so the prefill is causal, which is what flash-attn computes for one unpadded
  sequence (the adapter's own `load` asks for flash-attn instead; this check overrides that one method);
- the speech token choices: upstream's `_sample` writes the text tokens itself and stops a sentence when all four
  speech tokens are EOS; a random model would not say EOS, so a logits processor (added to those `generate` builds;
  upstream's temperature 0.3 sampling still follows it) allows only non-blank speech codes while text remains and
  for `padding_steps(text tokens)` steps after it, then only EOS. Which codes come out is still sampled by upstream
  from the random model, so the seed is read. A target holding `~` never gets EOS, so upstream's own runaway rule
  (more than 8 speech steps per text token) sets `tts_error`, which the adapter must return as a `CloneFailure`.
Everything else runs as upstream wrote it: the `qwen2vl` conversation and `tokenizer_speech_token`, the reference
through CosyVoice 2's front end (24 kHz mel, CAM++ embedding, speech tokens), the reference rows spliced into the
prompt, upstream's text/speech interleaving in `_sample`, `token2audio` and the flow + HiFT vocoder.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from pathlib import Path

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module, append_logits_processor

real = adapter_module(__file__)

WIDTH = 64
SPEECH_CODES = 6561  # CosyVoice 2's speech tokenizer (3^8)
SPEECH_SIZE = 6563  # tokenizer_speech_size: the codes, then EOS and pad
SPEECH_COUNT = 4  # speech_token_count (mgm_tts.py's default): four speech tokens per step
PAD_ID = 151643  # <|endoftext|>; prepare_inputs_for_speech_generation pads the reference transcript with this id
TEXT_SIZE = 151672  # Qwen3's 151669 ids and the three audio tokens added by initialize_tts_training
SAMPLES_PER_TOKEN = 960  # 2 mel frames a speech token (token_mel_ratio) x 480 samples a frame (8*5*3 x hop 4)
RUNAWAY_MARK = "~"
RESERVED = [f"<|reserved_{i}|>" for i in range(151646, TEXT_SIZE - 3)]  # Qwen3's other specials, up to 151668

COSYVOICE_YAML = """\
sample_rate: 24000
spk_embed_dim: 192
token_frame_rate: 25
token_mel_ratio: 2

flow: !new:cosyvoice.flow.flow.CausalMaskedDiffWithXvec
    input_size: 512
    output_size: 80
    spk_embed_dim: !ref <spk_embed_dim>
    output_type: 'mel'
    vocab_size: 6561
    input_frame_rate: !ref <token_frame_rate>
    only_mask_loss: True
    token_mel_ratio: !ref <token_mel_ratio>
    pre_lookahead_len: 3
    encoder: !new:cosyvoice.transformer.upsample_encoder.UpsampleConformerEncoder
        output_size: 512
        attention_heads: 8
        linear_units: 128
        num_blocks: 1
        dropout_rate: 0.1
        positional_dropout_rate: 0.1
        attention_dropout_rate: 0.1
        normalize_before: True
        input_layer: 'linear'
        pos_enc_layer_type: 'rel_pos_espnet'
        selfattention_layer_type: 'rel_selfattn'
        input_size: 512
        use_cnn_module: False
        macaron_style: False
        use_dynamic_chunk: True
    decoder: !new:cosyvoice.flow.flow_matching.CausalConditionalCFM
        in_channels: 240
        n_spks: 1
        spk_emb_dim: 80
        cfm_params: !new:omegaconf.DictConfig
            content:
                sigma_min: 1e-06
                solver: 'euler'
                t_scheduler: 'cosine'
                training_cfg_rate: 0.2
                inference_cfg_rate: 0.7
                reg_loss_type: 'l1'
        estimator: !new:cosyvoice.flow.decoder.CausalConditionalDecoder
            in_channels: 320
            out_channels: 80
            channels: [64]
            dropout: 0.0
            attention_head_dim: 32
            n_blocks: 1
            num_mid_blocks: 1
            num_heads: 2
            act_fn: 'gelu'
            static_chunk_size: !ref <token_frame_rate> * <token_mel_ratio>
            num_decoding_left_chunks: 2

hift: !new:cosyvoice.hifigan.generator.HiFTGenerator
    in_channels: 80
    base_channels: 64
    nb_harmonics: 8
    sampling_rate: !ref <sample_rate>
    nsf_alpha: 0.1
    nsf_sigma: 0.003
    nsf_voiced_threshold: 10
    upsample_rates: [8, 5, 3]
    upsample_kernel_sizes: [16, 11, 7]
    istft_params:
        n_fft: 16
        hop_len: 4
    resblock_kernel_sizes: [3, 7, 11]
    resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    source_resblock_kernel_sizes: [7, 7, 11]
    source_resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    lrelu_slope: 0.1
    audio_limit: 0.99
    f0_predictor: !new:cosyvoice.hifigan.f0_predictor.ConvRNNF0Predictor
        num_class: 1
        in_channels: 80
        cond_channels: 64

feat_extractor: !name:matcha.utils.audio.mel_spectrogram
    n_fft: 1920
    num_mels: 80
    sampling_rate: !ref <sample_rate>
    hop_size: 480
    win_size: 1920
    fmin: 0
    fmax: 8000
    center: False
"""


def buffered_text(target_text: str) -> str:
    """The target as it sits in upstream's text buffer: the assistant turn after `<|audio_start|>`, less the leading
    blank and markdown tokens that `process_first_token` drops."""
    return real.conversation_turns("en", target_text)[1][len(real.AUDIO_START):].lstrip(" \n*#")


def padding_steps(text_tokens: int) -> int:
    """Speech steps the scripted model makes after the last text token before its EOS: 2 to 5."""
    return 2 + text_tokens % 4


def expected_samples(request) -> int:
    """Upstream's arithmetic for one sentence of B byte tokens and P scripted padding steps: B + P sampled rows, an EOS
    row, `<|audio_end|>` and EOS; `token2audio` drops the last two rows, the first (`speech_token_pre_pad` 1) and the
    EOS row, so B + P - 1 rows of four speech tokens reach the flow model, 960 samples each."""
    tokens = len(buffered_text(request.target_text).encode("utf-8"))
    return (tokens + padding_steps(tokens) - 1) * SPEECH_COUNT * SAMPLES_PER_TOKEN


SPEC = RandomWeightSpec(
    distributions=("transformers", "torch", "torchaudio", "accelerate", "HyperPyYAML", "onnxruntime-gpu", "onnx",
                   "openai-whisper", "diffusers", "lightning", "deepspeed", "modelscope"),
    built=("MGM-Omni-TTS folder made small: a 2-layer Qwen3 speech LM of width 64 with a 2-layer speech decoder, "
           "151672 text + 4 x 6563 speech ids, a byte-level slow Qwen2 tokenizer with Qwen's special ids; CosyVoice "
           "2 flow (encoder width 512, 1 + 4 blocks; estimator channels [64]) and HiFT (64 channels) from a small "
           "cosyvoice2.yaml, random ONNX stand-ins for CAM++ and the speech tokenizer; loaded by the adapter's load"),
    batch_tolerance=None,
    expected_samples=expected_samples,
    seeded=True,
    failure_probes=(
        FailureProbe("an empty prompt transcript", prompt_text=" ", reason="empty prompt transcript"),
        FailureProbe("a target whose speech never ends (upstream's tts_error)",
                     target_text=f"Go on {RUNAWAY_MARK}", reason="runaway"),
    ),
    notes=("batch size 1: MGMTTSForCausalLM.generate reshapes its output to one conversation",
           "speech token choices scripted by a logits processor: non-blank codes while text remains and 2-5 steps "
           "after it, then EOS; which codes is sampled by upstream's generate",
           "speech decoder on SDPA instead of its hard-coded flash_attention_2 (flash-attn is CUDA-only)",
           "cosyvoice2.yaml follows CosyVoice's published cosyvoice2 config, made small; CAM++ and the speech "
           "tokenizer are random ONNX stand-ins with their interfaces",
           "the upstream is the dvlab-research/MGM-Omni checkout with its Matcha-TTS submodule (no distribution "
           "to record)"),
)


def write_tokenizer(folder: Path):
    """A slow Qwen2Tokenizer over bytes with Qwen's special ids and MGM-Omni's audio tokens, saved in `folder`."""
    from transformers import AddedToken, Qwen2Tokenizer
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    vocab = {char: index for index, char in enumerate(bytes_to_unicode().values())}
    vocab.update({f"<|unused_{index}|>": index for index in range(len(vocab), PAD_ID)})  # never produced: no merges
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    tokenizer = Qwen2Tokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), unk_token=None, bos_token=None,
                               eos_token=None, pad_token=None, clean_up_tokenization_spaces=False)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]})
    tokenizer.add_tokens([AddedToken(token, special=True) for token in RESERVED])
    tokenizer.add_tokens([real.AUDIO_START, real.AUDIO_END, "<|audio_sep|>"])  # as initialize_tts_training does
    tokenizer.eos_token, tokenizer.pad_token = "<|im_end|>", "<|endoftext|>"
    ids = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_end|>", real.AUDIO_START, "<|audio_sep|>"])
    assert ids == [PAD_ID, PAD_ID + 2, TEXT_SIZE - 3, TEXT_SIZE - 1], ids
    tokenizer.save_pretrained(str(folder))
    return tokenizer


def write_speech_lm(folder: Path, tokenizer) -> None:
    """The random speech LM in upstream's own format (`save_pretrained`: config.json + model.safetensors)."""
    import torch
    from mgm.model.language_model.mgm_tts import MGMTTSConfig, MGMTTSForCausalLM

    config = MGMTTSConfig(
        vocab_size=TEXT_SIZE + SPEECH_COUNT * SPEECH_SIZE, hidden_size=WIDTH, intermediate_size=2 * WIDTH,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=4096,
        tie_word_embeddings=True, bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tts_adapter_type="qwen3",
        tts_adapter_config=f"[2,{WIDTH},4_2,{2 * WIDTH}]", tokenizer_text_size=TEXT_SIZE,
        tokenizer_speech_size=SPEECH_SIZE)
    model = MGMTTSForCausalLM(config).eval().to(torch.float16)
    model.save_pretrained(str(folder))


def onnx_model(graph):
    import onnx

    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 13)])
    model.ir_version = 8  # what onnxruntime 1.18 reads
    onnx.checker.check_model(model)
    return model.SerializeToString()


def campplus_stand_in() -> bytes:
    """fbank (1, T, 80) -> embedding (1, 192): the mean over time through a random projection."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.random.default_rng(0).standard_normal((80, 192)).astype(np.float32) * 0.1, "w")
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1], keepdims=0),
         helper.make_node("MatMul", ["mean", "w"], ["embedding"])],
        "campplus_stand_in",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, "T", 80])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, 192])], initializer=[weight])
    return onnx_model(graph)


def speech_tokenizer_stand_in() -> bytes:
    """whisper log-mel (1, 128, T) and its length -> codes (1, T // 4) in [0, 6560]: 8 dims at 3 levels."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    tensors = [numpy_helper.from_array(rng.standard_normal((8, 128, 4)).astype(np.float32) * 0.3, "w"),
               numpy_helper.from_array(np.ones(1, np.float32), "one"),
               numpy_helper.from_array(3.0 ** np.arange(8, dtype=np.float32), "powers")]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["feats", "w"], ["h"], strides=[4]),
         helper.make_node("Tanh", ["h"], ["t"]), helper.make_node("Round", ["t"], ["r"]),
         helper.make_node("Add", ["r", "one"], ["levels"]),
         helper.make_node("Transpose", ["levels"], ["frames"], perm=[0, 2, 1]),
         helper.make_node("MatMul", ["frames", "powers"], ["code"]),
         helper.make_node("Cast", ["code"], ["codes"], to=TensorProto.INT32)],
        "speech_tokenizer_stand_in",
        [helper.make_tensor_value_info("feats", TensorProto.FLOAT, [1, 128, "T"]),
         helper.make_tensor_value_info("feats_length", TensorProto.INT32, [1])],
        [helper.make_tensor_value_info("codes", TensorProto.INT32, [1, "N"])], initializer=tensors)
    return onnx_model(graph)


def write_cosyvoice(folder: Path) -> None:
    """cosyvoice2/: the small yaml, the state dicts of the flow and HiFT it builds, the two ONNX stand-ins."""
    import torch
    from hyperpyyaml import load_hyperpyyaml

    folder.mkdir()
    (folder / "cosyvoice2.yaml").write_text(COSYVOICE_YAML, encoding="utf-8")
    torch.manual_seed(0)
    configs = load_hyperpyyaml(COSYVOICE_YAML)
    torch.save(configs["flow"].state_dict(), str(folder / "flow.pt"))
    torch.save(configs["hift"].state_dict(), str(folder / "hift.pt"))
    (folder / "campplus.onnx").write_bytes(campplus_stand_in())
    (folder / "speech_tokenizer_v2.onnx").write_bytes(speech_tokenizer_stand_in())


def write_checkpoint(folder: Path) -> Path:
    """The random small model in the layout of wcy1122/MGM-Omni-TTS-2B-0927; returns `folder`."""
    import torch

    torch.manual_seed(0)
    tokenizer = write_tokenizer(folder)
    write_speech_lm(folder, tokenizer)
    write_cosyvoice(folder / "cosyvoice2")
    return folder


def decoder_on_sdpa(model) -> None:
    """Run the speech decoder's Qwen3 layers on SDPA: without a mask it is causal over a prefill and full over one
    new token, as flash-attn is for the one unpadded sequence `generate` makes (its 2-D mask is all ones)."""
    decoder = model.tts_adapter
    decoder.config._attn_implementation = "sdpa"  # the config its layers share (Qwen3TTSAdapter's copy)
    forward = decoder.forward

    def without_mask(**kwargs):
        kwargs["attention_mask"] = None
        return forward(**kwargs)

    decoder.forward = without_mask


def scripted_speech(model):
    """A logits processor for upstream's speech scores (4 rows, one per speech token of the step)."""
    import torch
    from mgm.constants import BLANK_SPEECH_TOKENS
    from transformers import LogitsProcessor

    eos = SPEECH_SIZE - 2
    allowed = torch.tensor(sorted(set(range(SPEECH_CODES)) - set(BLANK_SPEECH_TOKENS)))

    class Scripted(LogitsProcessor):
        def __init__(self):
            self.extra = None  # padding steps before EOS (None: never EOS), set when the first step shows the text
            self.after_text = 0
            self.started = False

        def __call__(self, input_ids, scores):
            if not self.started:
                self.started = True
                text = model.tokenizer.decode(model.text_tokens_buffer)
                self.extra = None if RUNAWAY_MARK in text else padding_steps(len(model.text_tokens_buffer))
            forced = torch.full_like(scores, -torch.inf)
            if len(model.text_tokens_buffer) == 0:
                self.after_text += 1
                if self.extra is not None and self.after_text > self.extra:
                    forced[:, eos] = 0.0
                    return forced
            forced[:, allowed] = scores[:, allowed]
            return forced

    return Scripted()


class Adapter(real.Adapter):
    """The real adapter, loading a random small MGM-Omni-TTS folder built on the fly; `clone` is the real one."""

    def _require_flash_attn(self) -> None:
        self._decoder_on_sdpa = importlib.util.find_spec("flash_attn") is None
        if not self._decoder_on_sdpa:
            super()._require_flash_attn()

    def load(self, device: str) -> None:
        root = real.support.upstream_checkout(self.checkout, self.name)  # the folder is built with upstream's code
        assert (root / "third_party" / "cosyvoice").is_dir()
        self._scratch = tempfile.TemporaryDirectory(prefix="rvcbench-mgm_omni-")
        self.weights = str(write_checkpoint(Path(self._scratch.name)))
        try:
            super().load(device)
        finally:
            self.weights = None
        if self._decoder_on_sdpa:
            decoder_on_sdpa(self._model)
        append_logits_processor(self._model, lambda: scripted_speech(self._model))
