"""Random-weight check of Spark-TTS from its checkout (`rvcbench check-adapter sparktts --random-weights`).

`Adapter.load` writes a random small Spark-TTS-0.5B folder in the layout `cli.SparkTTS.SparkTTS` reads and then runs
the adapter's real `load` on it, so upstream's own loading code runs (`AutoTokenizer` / `AutoModelForCausalLM` on
`LLM/`, `BiCodec.load_from_checkpoint` on `BiCodec/`, `Wav2Vec2FeatureExtractor` / `Wav2Vec2Model` on
`wav2vec2-large-xlsr-53/`):
- `config.yaml`: the values SparkTTS and BiCodecTokenizer read (16 kHz, 6 s reference clip, hop 320, volume
  normalisation; as upstream's runtime/triton_trtllm hard-codes them and the released BiCodec config's `datasets`);
- `BiCodec/config.yaml` + `model.safetensors`: the released BiCodec config (mel 128 bins, hop 320; decoder rates
  8*5*4*2 = 320 samples a semantic token; semantic codebook 8192; 32 global tokens of FSQ levels 4^6) made narrow
  (width 32, one or two ConvNeXt layers, decoder channels 64), built with upstream's modules and saved as their
  state dict; ECAPA's 512 channels are hard-coded upstream and stay;
- `wav2vec2-large-xlsr-53/`: a random `Wav2Vec2Model` of width 32 with 16 layers (upstream mixes hidden states 11,
  14 and 16) and the XLSR-53 layout (stable layer norm, conv strides 5*2^6 = 320), with its feature extractor;
- `LLM/`: a random 2-layer Qwen2 of width 64 and a byte-level Qwen2 tokenizer (no merges; the real one is Qwen2.5's)
  with Spark-TTS's added tokens (`<|task_tts|>`, content and global/semantic markers, `<|bicodec_global_0..4095|>`,
  `<|bicodec_semantic_0..8191|>`), `<|im_end|>` as EOS.

One thing is scripted, after loading, outside the adapter's `clone`: a random LLM would emit any token and never end,
so a logits processor (added to those `generate` builds; upstream's temperature, top-k and top-p still follow it)
allows only semantic tokens for `scripted_tokens(content)` steps, where content is the text upstream puts between
`<|start_content|>` and `<|end_content|>` (the prompt transcript and the target text), then only `<|im_end|>`. Which
semantic tokens come out is still sampled by upstream's `generate(do_sample=True)` from the random LLM, so the seed is
read. Everything else runs as upstream wrote it: prompt loading, resampling and volume normalisation, the 6 s
reference clip, wav2vec2 features, BiCodec tokenization of the prompt (global and semantic tokens into the LLM
prompt), decoding of the generated text and BiCodec detokenization to 16 kHz.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module, byte_level_tokenizer

real = adapter_module(__file__)

HOP = 320  # samples a semantic token: BiCodec's decoder rates 8*5*4*2 at 16 kHz (50 tokens a second)
SEMANTIC_CODES = 8192  # BiCodec/config.yaml quantizer.codebook_size
GLOBAL_CODES = 4**6  # speaker_encoder.fsq_levels [4, 4, 4, 4, 4, 4]
MARKERS = ["<|task_tts|>", "<|task_controllable_tts|>", "<|start_content|>", "<|end_content|>",
           "<|start_global_token|>", "<|end_global_token|>", "<|start_semantic_token|>", "<|end_semantic_token|>"]
TOP_CONFIG = {"sample_rate": 16000, "latent_hop_length": HOP, "ref_segment_duration": 6,  # the keys upstream reads
              "volume_normalize": True}
WIDTH = 32
BICODEC = {
    "mel_params": {"sample_rate": 16000, "n_fft": 1024, "win_length": 640, "hop_length": HOP, "mel_fmin": 10,
                   "mel_fmax": None, "num_mels": 128},
    "encoder": {"input_channels": WIDTH, "vocos_dim": WIDTH, "vocos_intermediate_dim": 2 * WIDTH,
                "vocos_num_layers": 2, "out_channels": WIDTH, "sample_ratios": [1, 1]},
    "decoder": {"input_channel": WIDTH, "channels": 64, "rates": [8, 5, 4, 2], "kernel_sizes": [16, 11, 8, 4]},
    "quantizer": {"input_dim": WIDTH, "codebook_size": SEMANTIC_CODES, "codebook_dim": 8, "commitment": 0.25,
                  "codebook_loss_weight": 2.0, "use_l2_normlize": True, "threshold_ema_dead_code": 0.2},
    "speaker_encoder": {"input_dim": 128, "out_dim": WIDTH, "latent_dim": 16, "token_num": 32,
                        "fsq_levels": [4, 4, 4, 4, 4, 4], "fsq_num_quantizers": 1},
    "prenet": {"input_channels": WIDTH, "vocos_dim": WIDTH, "vocos_intermediate_dim": 2 * WIDTH,
               "vocos_num_layers": 2, "out_channels": WIDTH, "condition_dim": WIDTH, "sample_ratios": [1, 1],
               "use_tanh_at_final": False},
    "postnet": {"input_channels": WIDTH, "vocos_dim": WIDTH, "vocos_intermediate_dim": 2 * WIDTH,
                "vocos_num_layers": 1, "out_channels": WIDTH, "use_tanh_at_final": False},
}


def scripted_tokens(content: str) -> int:
    """How many semantic tokens the scripted LLM makes for the content text: 5 to 15, from its UTF-8 length."""
    return 5 + len(content.encode("utf-8")) % 11


def expected_samples(request) -> int:
    content = (real.prompt_text_for_model(request.prompt_text) or "") + request.target_text
    return scripted_tokens(content) * HOP


SPEC = RandomWeightSpec(
    distributions=("transformers", "torch", "torchaudio", "omegaconf", "einx", "einops", "soxr", "safetensors"),
    built=("Spark-TTS-0.5B folder made small: 2-layer Qwen2 LLM of width 64 with a byte-level tokenizer and Spark's "
           "added tokens; BiCodec from the released config at width 32 (hop 320, 8192 semantic codes, 32 global "
           "tokens); a 16-layer wav2vec2 of width 32; saved in the checkpoint layout and loaded by the adapter's load "
           "through SparkTTS"),
    batch_tolerance=None,
    expected_samples=expected_samples,
    seeded=True,
    failure_probes=(FailureProbe("an empty target text", target_text="  ", reason="empty target text"),),
    notes=("the LLM's token choices are scripted by a logits processor: semantic tokens only for a count fixed by "
           "the content text, then <|im_end|>; which semantic tokens is sampled by upstream's generate",
           "the upstream is the SparkAudio/Spark-TTS checkout (no distribution to record)"),
)


def llm_tokenizer():
    """A Qwen2 fast tokenizer over bytes (no merges) with Spark-TTS's added tokens, not special (upstream's
    `batch_decode(skip_special_tokens=True)` must keep the bicodec tokens)."""
    tokenizer = byte_level_tokenizer(unk_token=None, bos_token=None,
                                   eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.add_tokens(MARKERS + [f"<|bicodec_global_{i}|>" for i in range(GLOBAL_CODES)]
                         + [f"<|bicodec_semantic_{i}|>" for i in range(SEMANTIC_CODES)])
    return tokenizer


def write_checkpoint(folder: Path) -> Path:
    """The random small model in the layout of SparkAudio/Spark-TTS-0.5B; returns `folder`."""
    import torch
    from omegaconf import OmegaConf
    from safetensors.torch import save_file
    from sparktts.models.bicodec import BiCodec
    from sparktts.modules.encoder_decoder.feat_decoder import Decoder
    from sparktts.modules.encoder_decoder.feat_encoder import Encoder
    from sparktts.modules.encoder_decoder.wave_generator import WaveGenerator
    from sparktts.modules.speaker.speaker_encoder import SpeakerEncoder
    from sparktts.modules.vq.factorized_vector_quantize import FactorizedVectorQuantize
    from transformers import Qwen2Config, Qwen2ForCausalLM, Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(0)
    OmegaConf.save(OmegaConf.create(TOP_CONFIG), folder / "config.yaml")

    (folder / "BiCodec").mkdir()
    OmegaConf.save(OmegaConf.create({"audio_tokenizer": BICODEC}), folder / "BiCodec" / "config.yaml")
    codec = BiCodec(mel_params=BICODEC["mel_params"], encoder=Encoder(**BICODEC["encoder"]),
                    decoder=WaveGenerator(**BICODEC["decoder"]),
                    quantizer=FactorizedVectorQuantize(**BICODEC["quantizer"]),
                    speaker_encoder=SpeakerEncoder(**BICODEC["speaker_encoder"]),
                    prenet=Decoder(**BICODEC["prenet"]), postnet=Decoder(**BICODEC["postnet"]))
    state = {name: tensor.detach().clone().contiguous() for name, tensor in codec.state_dict().items()}
    save_file(state, str(folder / "BiCodec" / "model.safetensors"))

    ssl = folder / "wav2vec2-large-xlsr-53"
    Wav2Vec2Model(Wav2Vec2Config(
        hidden_size=WIDTH, num_hidden_layers=16, num_attention_heads=2, intermediate_size=2 * WIDTH,
        conv_dim=(WIDTH,) * 7, conv_stride=(5, 2, 2, 2, 2, 2, 2), conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_bias=True,
        feat_extract_norm="layer", do_stable_layer_norm=True, num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4, mask_time_prob=0.0)).eval().save_pretrained(ssl)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=True).save_pretrained(ssl)

    tokenizer = llm_tokenizer()
    llm = folder / "LLM"
    Qwen2ForCausalLM(Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=True,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"))).eval().save_pretrained(llm)
    tokenizer.save_pretrained(llm)
    return folder


def script_tokens(spark) -> None:
    """Make the LLM's `generate` emit `scripted_tokens(content)` sampled semantic tokens, then `<|im_end|>`."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    tokenizer = spark.tokenizer
    vocab = tokenizer.get_vocab()
    semantic = torch.tensor(sorted(index for token, index in vocab.items() if token.startswith("<|bicodec_semantic_")))
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")

    class Scripted(LogitsProcessor):
        def __init__(self, start: int, tokens: int):
            self.start, self.tokens = start, tokens

        def __call__(self, input_ids, scores):
            allowed = semantic if input_ids.shape[1] - self.start < self.tokens else torch.tensor([eos])
            forced = torch.full_like(scores, -torch.inf)
            forced[:, allowed] = scores[:, allowed]
            return forced

    generate = spark.model.generate

    def scripted_generate(*args, input_ids=None, **kwargs):
        prompt = tokenizer.decode(input_ids[0])
        content = re.search(r"<\|start_content\|>(.*)<\|end_content\|>", prompt, re.S).group(1)
        processors = LogitsProcessorList([Scripted(input_ids.shape[1], scripted_tokens(content))])
        return generate(*args, input_ids=input_ids, logits_processor=processors, **kwargs)

    spark.model.generate = scripted_generate


class Adapter(real.Adapter):
    """The real adapter, loading a random small Spark-TTS folder built on the fly; `clone` is the real one."""

    def load(self, device: str) -> None:
        with tempfile.TemporaryDirectory(prefix="rvcbench-sparktts-") as folder:
            real.support.upstream_checkout(self.checkout, self.name)  # the folder is built with upstream's modules
            self.weights = str(write_checkpoint(Path(folder)))
            super().load(device)
        self.weights = None
        script_tokens(self._model)
