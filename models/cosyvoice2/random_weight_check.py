"""Random-weight check of CosyVoice 2 from its checkout (`rvcbench check-adapter cosyvoice2 --random-weights`).

`Adapter.load` writes a random small CosyVoice2-0.5B folder in the layout `cosyvoice.cli.cosyvoice.CosyVoice2` reads
and then runs the adapter's real `load` on it, so upstream's own loading code runs (`load_hyperpyyaml` with its
`qwen_pretrain_path` override, `CosyVoiceFrontEnd` with its two onnxruntime sessions and the Qwen tokenizer,
`CosyVoice2Model.load` reading the three state dicts strictly, `Qwen2ForCausalLM.from_pretrained`):
- `cosyvoice2.yaml`: the checkout's `examples/libritts/cosyvoice2/conf/cosyvoice2.yaml` (the released checkpoint's
  yaml is a download; this is upstream's config for the same classes) edited with ruamel's round trip, so every
  `!new:`/`!ref`/`!name:` stays as upstream wrote it and only sizes change: LLM width 64; the flow's conformer with
  one block of 2 heads and feed-forward 128 (its width stays 512: `UpsampleConformerEncoder` hard-codes 512 in its
  look-ahead and up-sampling layers; its 4 up-sampled blocks are fixed upstream); the CFM estimator with channels
  [64], one block and one mid block of 2 heads of 16; HiFT with 32 base channels and an F0 predictor of 32. What
  the pipeline's arithmetic fixes stays: 24 kHz, 6561 speech tokens at 25 Hz, 2 mel frames a token, 80 mels, HiFT's
  upsampling 8*5*3 with an iSTFT hop of 4 (480 samples a mel frame), the CAM++ embedding of 192;
- `llm.pt`, `flow.pt`, `hift.pt`: the state dicts of the modules that yaml builds (random), as upstream saves them;
- `CosyVoice-BlankEN/`: a random 2-layer Qwen2 of width 64 and a byte-level Qwen2 tokenizer (no merges; the real one
  is Qwen2.5's), saved with `save_pretrained`;
- `campplus.onnx` and `speech_tokenizer_v2.onnx`: tiny random graphs exported with `torch.onnx.export`, with the
  interfaces the frontend feeds: CAM++ takes (1, frames, 80) kaldi fbank and gives a (1, 192) embedding; the speech
  tokenizer takes (1, 128, frames) whisper log-mel and its length and gives one token in [0, 6561) per 4 frames
  (25 Hz), as the real v2 tokenizer does.

One thing is scripted, after loading, outside the adapter's `clone`: a random LLM would rarely pick its end token,
so the LLM's sampling function (`Qwen2LM.sampling`, upstream's `ras_sampling` from the yaml) is wrapped: while
upstream masks the end token (`min_token_text_ratio`: fewer than 2 speech tokens per target text token), the other
two stop tokens are masked too and upstream's `ras_sampling` picks the token (so the seed is read); at the first step
upstream lets the end token through, the end token is chosen. Each text segment thus gets 2 speech tokens per
target text token, i.e. 1920 samples a byte of the normalised target text here (byte-level tokenizer).
Text normalisation: ttsfrd is not installed and wetext's FSTs are not in the ModelScope cache (no download here),
so upstream's frontend takes its fallback (`text_frontend == ''`: inflect spells out numbers, then upstream's own
sentence splitting); that is the path that ran.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module, byte_level_tokenizer

real = adapter_module(__file__)

WIDTH = 64
CONFIG = "examples/libritts/cosyvoice2/conf/cosyvoice2.yaml"  # in the checkout
SMALL = {  # (path in the yaml) -> value; everything else as upstream has it
    ("llm_input_size",): WIDTH,
    ("llm_output_size",): WIDTH,
    ("flow", "encoder", "attention_heads"): 2,  # width stays 512: its look-ahead and up-sampling layers hard-code it
    ("flow", "encoder", "linear_units"): 2 * WIDTH,
    ("flow", "encoder", "num_blocks"): 1,
    ("flow", "decoder", "estimator", "channels"): [WIDTH],
    ("flow", "decoder", "estimator", "attention_head_dim"): 16,
    ("flow", "decoder", "estimator", "n_blocks"): 1,
    ("flow", "decoder", "estimator", "num_mid_blocks"): 1,
    ("flow", "decoder", "estimator", "num_heads"): 2,
    ("hift", "base_channels"): 32,
    ("hift", "f0_predictor", "cond_channels"): 32,
}
SPEECH_TOKENS = 6561  # the v2 tokenizer's codebook (llm.speech_token_size, flow.vocab_size)
SPEAKER_DIM = 192  # CAM++ embedding (spk_embed_dim)
SAMPLES_PER_TEXT_BYTE = 2 * 2 * 480  # scripted 2 speech tokens a text token * 2 mel frames a token * 480 samples
END_PUNCTUATION = ".?!;:"  # split_paragraph (English) appends "." to a text that does not end in one of these


def expected_samples(request) -> int:
    """The clip length upstream's arithmetic gives with the scripted end, for English text without digits (the
    probes): the fallback normalisation keeps the stripped text, adding a final "." where upstream does."""
    text = request.target_text.strip()
    return SAMPLES_PER_TEXT_BYTE * (len(text.encode("utf-8")) + (text[-1] not in END_PUNCTUATION))


SPEC = RandomWeightSpec(
    distributions=("torch", "torchaudio", "transformers", "onnxruntime", "HyperPyYAML", "openai-whisper",
                   "diffusers", "conformer", "lightning", "inflect", "wetext", "modelscope", "torchcodec"),
    built=("CosyVoice2-0.5B folder made small: upstream's cosyvoice2.yaml (libritts example conf) with a 2-layer Qwen2 "
           "of width 64 and a byte-level tokenizer (CosyVoice-BlankEN), a flow with 1 conformer block (width 512, "
           "hard-coded upstream) and a CFM estimator [64], HiFT of 32 base channels; random state dicts as "
           "llm.pt/flow.pt/hift.pt; tiny random ONNX graphs with the interfaces of campplus.onnx and "
           "speech_tokenizer_v2.onnx; loaded by the adapter's load through CosyVoice2"),
    batch_tolerance=None,
    expected_samples=expected_samples,
    seeded=True,
    failure_probes=(FailureProbe("an empty prompt transcript", prompt_text="  ", reason="empty prompt transcript"),
                    FailureProbe("an empty target text", target_text="  ", reason="empty target text")),
    notes=("the LLM's end is scripted: upstream's ras_sampling picks every token while upstream masks the end token "
           "(min_token_text_ratio 2), then the end token is chosen, so each segment has 2 speech tokens a target text "
           "token",
           "text normalisation ran upstream's fallback (no ttsfrd; wetext's FSTs are a ModelScope download, not cached "
           "here)",
           "onnxruntime (CPU) in place of upstream's onnxruntime-gpu pin; shared torch 2.14.1 in place of 2.3.1",
           "the upstream is the FunAudioLLM/CosyVoice checkout with Matcha-TTS at third_party/ (no distribution to "
           "record)"),
)


def small_config(checkout: Path) -> str:
    """Upstream's cosyvoice2.yaml with the sizes in SMALL, every tag and reference kept (ruamel round trip)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    config = yaml.load((checkout / CONFIG).read_text(encoding="utf-8"))
    for path, value in SMALL.items():
        node = config
        for key in path[:-1]:
            node = node[key]
        if path[-1] not in node:
            raise KeyError(f"{CONFIG} has no {'.'.join(path)}")
        node[path[-1]] = value
    out = io.StringIO()
    yaml.dump(config, out)
    return out.getvalue()


def write_onnx(folder: Path) -> None:
    """Tiny random graphs with the interfaces of CAM++ and the v2 speech tokenizer, as the frontend feeds them."""
    import torch

    class Speaker(torch.nn.Module):  # (1, frames, 80) fbank -> (1, 192)
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(80, SPEAKER_DIM)

        def forward(self, feats):
            return self.proj(feats).mean(dim=1)

    class Tokenizer(torch.nn.Module):  # (1, 128, frames) log-mel + length -> (1, frames // 4) tokens
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(128, SPEECH_TOKENS, kernel_size=4, stride=4)

        def forward(self, feats, feats_length):
            tokens = torch.div(feats_length[0].to(torch.int64), 4, rounding_mode="floor")
            return self.conv(feats).argmax(dim=1)[:, :tokens].to(torch.int32)

    torch.onnx.export(Speaker().eval(), (torch.randn(1, 100, 80),), str(folder / "campplus.onnx"),
                      input_names=["input"], output_names=["output"], dynamic_axes={"input": {1: "frames"}},
                      opset_version=17, dynamo=False)
    torch.onnx.export(Tokenizer().eval(), (torch.randn(1, 128, 400), torch.tensor([400], dtype=torch.int32)),
                      str(folder / "speech_tokenizer_v2.onnx"), input_names=["feats", "feats_length"],
                      output_names=["indices"], dynamic_axes={"feats": {2: "frames"}, "indices": {1: "tokens"}},
                      opset_version=17, dynamo=False)


def write_checkpoint(folder: Path, checkout: Path) -> Path:
    """The random small model in the layout of FunAudioLLM/CosyVoice2-0.5B; returns `folder`."""
    import torch
    from hyperpyyaml import load_hyperpyyaml
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    blank = folder / "CosyVoice-BlankEN"
    tokenizer = byte_level_tokenizer(eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    Qwen2ForCausalLM(Qwen2Config(
        vocab_size=320, hidden_size=WIDTH, intermediate_size=2 * WIDTH, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=True,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"))).eval().save_pretrained(blank)
    tokenizer.save_pretrained(blank)
    if len(tokenizer) + 19 > 320:  # CosyVoice2Tokenizer adds 19 special tokens; the embedding must hold them all
        raise ValueError(f"the byte-level tokenizer has {len(tokenizer)} tokens; widen the Qwen2 vocabulary")

    text = small_config(checkout)
    (folder / "cosyvoice2.yaml").write_text(text, encoding="utf-8")
    configs = load_hyperpyyaml(text, overrides={"qwen_pretrain_path": str(blank)})
    for part in ("llm", "flow", "hift"):
        torch.save(configs[part].state_dict(), folder / f"{part}.pt")
    write_onnx(folder)
    return folder


def script_end(cosyvoice) -> None:
    """Wrap the LLM's sampling: upstream's ras_sampling while the end token is masked, then the end token."""
    llm = cosyvoice.model.llm
    sample, end, stops = llm.sampling, llm.speech_token_size, list(llm.stop_token_ids)

    def scripted(weighted_scores, decoded_tokens, sampling):
        if bool(weighted_scores[end].isfinite()):  # upstream allows the end from min_len on
            return end
        weighted_scores[stops] = -float("inf")
        return sample(weighted_scores, decoded_tokens, sampling)

    llm.sampling = scripted


class Adapter(real.Adapter):
    """The real adapter, loading a random small CosyVoice2 folder built on the fly; `clone` is the real one."""

    def load(self, device: str) -> None:
        with tempfile.TemporaryDirectory(prefix="cosyvoice2-random-") as folder:
            checkout = real.support.upstream_checkout(self.checkout, self.name)  # built with upstream's classes
            self.weights = str(write_checkpoint(Path(folder), checkout))
            super().load(device)
        self.weights = None
        script_end(self._model)
