"""Random-weight check of GLM-TTS from its checkout (`rvcbench check-adapter glm_tts --random-weights`).

`Adapter.load` writes a random small GLM-TTS `ckpt/` folder in the layout `glmtts_inference.load_models` reads and
then runs the adapter's real `load` on it, so upstream's own loaders run (`yaml_util.load_speech_tokenizer`,
`AutoTokenizer`, `GLMTTS` + `LlamaForCausalLM.from_pretrained`, `yaml_util.load_flow_model` through HyperPyYAML,
`Token2Wav` -> `hift_util.load_hift`, the CAM++ `onnxruntime` session, WeTextProcessing's normalisers):
- `speech_tokenizer/`: a `WhisperVQConfig` (upstream's class) of width 64 with 2 encoder layers before the quantizer
  (pooling 2 and quantizer at layer 2, 128 mel bins, causal convolutions, 32768 codes: 16 kHz / (160*2*2) = 25
  tokens a second, upstream's TOKEN_RATE), its random `WhisperVQEncoder` saved as `model.safetensors` under the
  `model.encoder.` keys `load_quantize_encoder` reads, and a `WhisperFeatureExtractor` of 128 bins;
- `vq32k-phoneme-tokenizer/`: a byte-level fast tokenizer (the real one is GLM's own, a download) with the tokens
  `get_special_token_ids` checks: `<|endoftext|>`, `<|user|>`, `<|begin_of_audio|>`, `<|audio_0|>`..`<|audio_32767|>`;
- `llm/`: a random 2-layer Llama of width 64 over that vocabulary (`config.json` + `model.safetensors`);
- `flow/config.yaml` (`flow: !new:flow.flow.Flow`, 25 Hz tokens, 50 Hz mel, 80 mel bins, speaker adaLN, no
  speaker concat, no speech-token CFG, 32768 tokens of 64 dims) and `flow/flow.pt` (its state dict);
- `hift/hift.pt`: the state dict of upstream's HiFT (`HiFTInference._build_model`: upsampling 8*5*3 and iSTFT hop 4,
  480 samples a mel frame at 24 kHz).
Two sizes are hard-coded in upstream's code rather than in a config, so while the folder is written and loaded the
check wraps the classes upstream builds there: `flow.flow.DiT` gets trans_dim 64, depth 2, heads 2 (Flow fixes
768/18/12, or 1024/22/16 with `big_model`), and `utils.hift_util.HiFTGenerator` / `ConvRNNF0Predictor` get 64
channels (512 upstream). The classes themselves are upstream's.

Where the checkout lacks `frontend/campplus.onnx` (the snapshot this was built from lacks that blob), `load`
runs from a linked copy of the checkout (a temporary folder of links to the checkout's entries) whose
`frontend/campplus.onnx` is a random ONNX graph with CAM++'s interface ((1, frames, 80) fbank in, (1, 192) embedding
out: mean over frames, then a random 80x192 matrix); GLMTTS_ROOT names that copy while `load` runs.

On a machine without CUDA (this check's CPU runs), upstream's hard-coded `.cuda()`, `.to("cuda")` and the speech
tokenizer's `WhisperFeatureExtractor(..., device="cuda")` are redirected to the CPU, inside this check module only:
`torch.Tensor.cuda`/`torch.nn.Module.cuda` return the object unchanged and `.to(...)` and the feature extractor get
"cpu" for a CUDA device. Where CUDA is available nothing is redirected; the adapter itself never changes this.

One thing is scripted, after loading, outside the adapter's `clone`: a random LLM would pick any of its tokens
(text tokens too) and rarely `<|user|>` (upstream's end of audio), so a forward hook on the Llama allows only the
audio tokens for the fewest steps upstream allows (`int(text_len * 2)`, its `min_token_text_ratio`), then only
`<|user|>`. Which audio tokens come out is still sampled by upstream's RAS sampler from the random LLM, so the seed
is read. Everything else runs as upstream wrote it, in `clone`: text normalisation and splitting, the prompt's
speech tokens, 24 kHz mel and CAM++ embedding, `generate_long` with the cache, the flow's 10 Euler steps with CFG,
and HiFT to 24 kHz.
"""

from __future__ import annotations

import functools
import os
import tempfile
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module, byte_level_tokenizer

real = adapter_module(__file__)

AUDIO_TOKENS = 32768  # <|audio_0|> .. <|audio_32767|> (get_special_token_ids' "ats" and "ate")
MARKERS = ["<|endoftext|>", "<|user|>", "<|begin_of_audio|>"]  # added first: get_special_token_ids wants ids >= eot
CAMPPLUS = "frontend/campplus.onnx"
SPEECH_TOKENIZER = dict(d_model=64, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=128,
                        decoder_layers=1, decoder_attention_heads=4, decoder_ffn_dim=128, num_mel_bins=128,
                        max_source_positions=1500, pooling_kernel_size=2, pooling_type="avg", pooling_position=2,
                        quantize_position=2, quantize_vocab_size=AUDIO_TOKENS, encoder_causal_convolution=True,
                        quantize_causal_block_size=200)
FLOW_YAML = f"""flow: !new:flow.flow.Flow
    speech_token_dim: 64
    vocab_size: {AUDIO_TOKENS}
    input_frame_rate: 25
    spk_embed_dim: 80
    mel_dim: 80
    spkr_emb_adaLN: True
    speech_token_cfg: False
    remove_spkr_concat_condition: True
    mel_framerate: 50
"""
DIT = dict(trans_dim=64, depth=2, heads=2)  # Flow.__init__ hard-codes 768 / 18 / 12
HIFT_CHANNELS = 64  # HiFTInference._build_model hard-codes base_channels=512, cond_channels=512
MIN_TOKEN_TEXT_RATIO = 2  # GLMTTS.inference's default: end of audio is masked for int(text_len * 2) steps

SPEC = RandomWeightSpec(
    distributions=("transformers", "torch", "torchaudio", "onnxruntime-gpu", "WeTextProcessing", "HyperPyYAML",
                   "x-transformers", "safetensors", "peft", "librosa"),
    built=("GLM-TTS ckpt/ made small: WhisperVQ speech tokenizer of width 64 (2 layers, 32768 codes, 25 Hz); "
           "byte-level tokenizer with the audio tokens; 2-layer Llama of width 64; Flow from a HyperPyYAML config "
           "with a 2-layer DiT of width 64; HiFT of 64 channels; random CAM++ ONNX; loaded by the adapter's load "
           "through glmtts_inference.load_models"),
    batch_tolerance=None,
    expected_samples=None,
    seeded=True,
    failure_probes=(FailureProbe("an empty prompt transcript", prompt_text=" ", reason="empty prompt transcript"),
                    FailureProbe("an empty target text", target_text="  ", reason="empty target text")),
    notes=("batch size 1: generate_long takes one text and one prompt",
           "the LLM's token choices are scripted by a forward hook: audio tokens only for int(text_len * 2) steps "
           "(the fewest upstream allows), then <|user|>; which audio tokens is sampled by upstream's RAS sampler",
           "the DiT's and HiFT's sizes are hard-coded upstream: the check builds them at width 64 by wrapping "
           "flow.flow.DiT and utils.hift_util's HiFTGenerator / ConvRNNF0Predictor while loading",
           "no length is predicted: it follows the token count of WeTextProcessing's normalised text; each clip "
           "was 480 samples a mel frame, 2 mel frames a speech token",
           "on CPU upstream's hard-coded .cuda() / .to('cuda') are redirected to the CPU by the check module",
           "CAM++ is a random ONNX graph of the same interface where the checkout lacks frontend/campplus.onnx",
           "the upstream is the zai-org/GLM-TTS checkout (no distribution to record)"),
)


def _is_cuda(device) -> bool:
    import torch

    return (isinstance(device, str) and device.startswith("cuda")) or \
        (isinstance(device, torch.device) and device.type == "cuda")


def _cpu_for_cuda(method):
    @functools.wraps(method)
    def on_cpu(self, *args, **kwargs):
        args = tuple("cpu" if _is_cuda(arg) else arg for arg in args)
        if _is_cuda(kwargs.get("device")):
            kwargs["device"] = "cpu"
        return method(self, *args, **kwargs)

    on_cpu.rvcbench_cuda_on_cpu = True
    return on_cpu


def redirect_cuda_to_cpu() -> bool:
    """Without CUDA, make upstream's hard-coded CUDA placement land on the CPU (this process only); True if done."""
    import torch
    from transformers import WhisperFeatureExtractor

    if torch.cuda.is_available():
        return False
    if not getattr(torch.Tensor.to, "rvcbench_cuda_on_cpu", False):
        torch.Tensor.cuda = lambda self, *args, **kwargs: self
        torch.nn.Module.cuda = lambda self, *args, **kwargs: self
        torch.Tensor.to = _cpu_for_cuda(torch.Tensor.to)
        torch.nn.Module.to = _cpu_for_cuda(torch.nn.Module.to)
        WhisperFeatureExtractor.__call__ = _cpu_for_cuda(WhisperFeatureExtractor.__call__)
    return True


@contextmanager
def small_hard_coded_parts() -> Iterator[None]:
    """While the block runs, the DiT that Flow builds and the HiFT that HiFTInference builds are small."""
    import flow.flow
    import utils.hift_util

    dit, generator, predictor = flow.flow.DiT, utils.hift_util.HiFTGenerator, utils.hift_util.ConvRNNF0Predictor
    flow.flow.DiT = lambda **config: dit(**{**config, **DIT})
    utils.hift_util.HiFTGenerator = lambda **config: generator(**{**config, "base_channels": HIFT_CHANNELS})
    utils.hift_util.ConvRNNF0Predictor = lambda **config: predictor(**{**config, "cond_channels": HIFT_CHANNELS})
    try:
        yield
    finally:
        flow.flow.DiT, utils.hift_util.HiFTGenerator, utils.hift_util.ConvRNNF0Predictor = dit, generator, predictor


def text_tokenizer():
    """A fast tokenizer over bytes (no merges) with the tokens glmtts_inference looks up, each one token."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = byte_level_tokenizer(PreTrainedTokenizerFast, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tokenizer.add_tokens(MARKERS[1:] + [f"<|audio_{i}|>" for i in range(AUDIO_TOKENS)], special_tokens=True)
    return tokenizer


def write_campplus(path: Path) -> Path:
    """A random ONNX graph with CAM++'s interface: fbank (batch, frames, 80) -> embedding (batch, 192)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = np.random.default_rng(0).standard_normal((80, 192)).astype(np.float32) / np.sqrt(80)
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["input"], ["pooled"], axes=[1], keepdims=0),
         helper.make_node("MatMul", ["pooled", "weight"], ["output"])],
        "campplus_random",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", "frames", 80])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 192])],
        [numpy_helper.from_array(weight, "weight")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # onnxruntime 1.19 reads up to IR 10
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def linked_checkout(checkout: Path, folder: Path) -> Path:
    """`folder` made a copy of `checkout` by links, except `frontend/`, whose files are links plus a random CAM++."""
    folder.mkdir()
    for entry in checkout.iterdir():
        if entry.name != "frontend":
            (folder / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    (folder / "frontend").mkdir()
    for entry in (checkout / "frontend").glob("*") if (checkout / "frontend").is_dir() else ():
        (folder / "frontend" / entry.name).symlink_to(entry)
    write_campplus(folder / CAMPPLUS)
    return folder


def write_checkpoint(folder: Path) -> Path:
    """The random small `ckpt/` folder in the layout glmtts_inference.load_models reads; returns `folder`."""
    import torch
    from hyperpyyaml import load_hyperpyyaml
    from safetensors.torch import save_file
    from transformers import LlamaConfig, LlamaForCausalLM, WhisperFeatureExtractor
    from utils.hift_util import HiFTInference
    from utils.whisper_models.configuration_whisper import WhisperVQConfig
    from utils.whisper_models.modeling_whisper import WhisperVQEncoder

    torch.manual_seed(0)
    speech = folder / "speech_tokenizer"
    config = WhisperVQConfig(**SPEECH_TOKENIZER)
    config.save_pretrained(speech)
    encoder = WhisperVQEncoder(WhisperVQConfig(**SPEECH_TOKENIZER, quantize_encoder_only=True)).eval()
    save_file({f"model.encoder.{name}": tensor.detach().clone().contiguous()
               for name, tensor in encoder.state_dict().items()}, str(speech / "model.safetensors"))
    WhisperFeatureExtractor(feature_size=SPEECH_TOKENIZER["num_mel_bins"], sampling_rate=16000, hop_length=160,
                            chunk_length=30, n_fft=400).save_pretrained(speech)

    tokenizer = text_tokenizer()
    tokenizer.save_pretrained(folder / "vq32k-phoneme-tokenizer")
    LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=False,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|user|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"))).eval().save_pretrained(folder / "llm")

    (folder / "flow").mkdir()
    (folder / "flow" / "config.yaml").write_text(FLOW_YAML, encoding="utf-8")
    flow = load_hyperpyyaml(FLOW_YAML)["flow"]
    torch.save(flow.state_dict(), folder / "flow" / "flow.pt")

    (folder / "hift").mkdir()
    hift = HiFTInference._build_model(types.SimpleNamespace(sample_rate=24000, device="cpu"))
    torch.save(hift.state_dict(), folder / "hift" / "hift.pt")
    return folder


def script_tokens(llm) -> None:
    """Make GLMTTS.inference pick audio tokens for int(text_len * 2) steps, then <|user|> (its end of audio)."""
    import torch

    vocabulary = llm.llama.config.vocab_size
    audio_only = torch.ones(vocabulary, dtype=torch.bool)
    audio_only[llm.ats:llm.ate + 1] = False  # True: masked
    end_only = torch.ones(vocabulary, dtype=torch.bool)
    end_only[llm.eoa] = False
    state = {"step": 0, "tokens": 0}

    def hook(module, args, output):
        masked = audio_only if state["step"] < state["tokens"] else end_only
        output["logits"][:, -1, masked] = -torch.inf
        state["step"] += 1

    llm.llama.register_forward_hook(hook)
    inference = llm.inference

    @functools.wraps(inference)
    def scripted(*args, text_len, **kwargs):
        state.update(step=0, tokens=int(text_len * MIN_TOKEN_TEXT_RATIO))
        return inference(*args, text_len=text_len, **kwargs)

    llm.inference = scripted


class Adapter(real.Adapter):
    """The real adapter, loading a random small GLM-TTS `ckpt/` built on the fly; `clone` is the real one."""

    def load(self, device: str) -> None:
        self._scratch = tempfile.TemporaryDirectory(prefix="rvcbench-glmtts-check-")  # the copy must outlive load
        scratch = Path(self._scratch.name)
        checkout = real.support.upstream_checkout(self.checkout, self.name)
        previous = os.environ.get(real.ROOT_ENV)
        if not (checkout / CAMPPLUS).exists():
            os.environ[real.ROOT_ENV] = str(linked_checkout(checkout, scratch / "GLM-TTS"))
        try:
            redirect_cuda_to_cpu()
            with small_hard_coded_parts():
                self.weights = str(write_checkpoint(scratch / "ckpt"))
                super().load(device)
        finally:
            self.weights = None
            if previous is None:
                os.environ.pop(real.ROOT_ENV, None)
            else:
                os.environ[real.ROOT_ENV] = previous
        script_tokens(self._parts[2])
