"""Random-weight check of OpenAudio S1-mini from its fish-speech checkout (`rvcbench check-adapter fishspeech
--random-weights`).

`Adapter.load` writes a random small checkpoint folder in the layout of `fishaudio/openaudio-s1-mini` and then runs
the adapter's real `load` on it, so upstream's own loading code runs (`launch_thread_safe_queue` → `init_model` →
`DualARTransformer.from_pretrained`, and `fish_speech.models.dac.inference.load_model` with hydra):
- `config.json`, `model.pth`, `tokenizer.tiktoken`, `special_tokens.json`: a `DualARTransformer` from upstream's
  `DualARModelArgs` made small (2 slow layers of width 64, 1 fast layer; 10 codebooks of 4096 entries as the codec
  below makes, `max_seq_len` 4096), written with upstream's `save_pretrained`. Its tokenizer is a `FishTokenizer`
  over the 256 single bytes (no merges; the real one is a download) with upstream's `ALL_SPECIAL_TOKENS` (the
  control tokens and `<|semantic:0..4095|>`);
- `codec.pth`: the `modded_dac_vq` config composed by hydra with overrides that make it narrow (encoder width 4,
  latent 64, decoder width 64, one transformer layer of width 64 where upstream has 4 or 8, transformer block sizes
  4096/1024 instead of 16384/4096) and keep what fixes the arithmetic: 44.1 kHz, encoder rates 2*4*8*8, the
  quantizer's 2*2 downsampling (2048 samples a token), 1 semantic codebook of 4096 plus 9 residual codebooks of
  1024. The same overrides are given to upstream's `load_model` while the real `load` runs (its `compose` call gets
  them); its state dict is saved as `torch.save` writes it.
After loading, every saved tensor is compared with the one upstream loaded (both loaders use `strict=False`).

Two things are changed for the check, outside the adapter's `clone`:
- a random LLaMA would emit any token and never stop, so the slow transformer's logits are scripted on the loaded
  model (its `forward_generate` wrapped on the instance): only `<|semantic:*|>` tokens for `scripted_tokens(target
  text)` steps, then only `<|im_end|>`. Which semantic token, and all 9 residual codes from the fast transformer, are
  still sampled by upstream's `decode_one_token_ar` (top-p, repetition penalty, temperature, seeded by `set_seed`).
  A target holding `~` never gets its `<|im_end|>` and runs to `max_new_tokens`, which is 32 here (1024 for real);
- torchaudio 2.11 (the shared torch here) has no `list_audio_backends`, which `ReferenceLoader.__init__` calls at
  this commit (the pinned torchaudio 2.8.0 has it); while `load` runs, torchaudio is given one that answers
  `["soundfile"]`. torchaudio 2.11 ignores the backend argument and decodes the reference bytes with torchcodec.
Everything else runs as upstream wrote it: WAV bytes of the reference, resampling to 44.1 kHz, DAC encoding of the
prompt, the interleaved prompt (`ContentSequence`), dual-AR generation in upstream's worker thread, DAC decoding.
It proves call shapes, arguments, checkpoint layouts and failures; not quality, bf16 numerics on GPU, or the real
config's sizes.
"""

from __future__ import annotations

import base64
import contextlib
import tempfile
from pathlib import Path
from unittest import mock

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module

real = adapter_module(__file__)

RUNAWAY_MARK = "~"
MAX_NEW_TOKENS = 32  # 1024 for real (ServeTTSRequest's default), so the runaway probe stops sooner
HOP = 2048  # samples a token: encoder rates 2*4*8*8 = 512 at 44.1 kHz, times the quantizer's 2*2 downsampling
SPEAKER = "<|speaker:0|>"  # generate_long opens every turn with it (ContentSequence.append(speaker=0))
LLAMA = {"vocab_size": None, "n_layer": 2, "n_head": 4, "n_local_heads": 2, "dim": 64, "head_dim": 16,
         "intermediate_size": 128, "max_seq_len": 4096, "codebook_size": 4096, "num_codebooks": 10,
         "n_fast_layer": 1, "use_gradient_checkpointing": False}
TRANSFORMER = {"n_layer": 1, "n_head": 1, "dim": 64, "intermediate_size": 128, "block_size": 1024}
CODEC_OVERRIDES = (
    "encoder_dim=4", "decoder_dim=64", "encoder_transformer_layers=[0,0,0,1]", "decoder_transformer_layers=[1,0,0,0]",
    "transformer_general_config.block_size=4096", "quantizer.input_dim=64",
    *(f"quantizer.{module}.input_dim=64" for module in ("pre_module", "post_module")),
    *(f"quantizer.{module}.config.{name}={value}" for module in ("pre_module", "post_module")
      for name, value in TRANSFORMER.items()),
)


def scripted_tokens(text: str) -> int | None:
    """How many semantic tokens the scripted LLaMA makes for a target text: 3 to 9, from its UTF-8 length; None
    (it never emits `<|im_end|>`) for a text holding RUNAWAY_MARK."""
    return None if RUNAWAY_MARK in text else 3 + len(text.encode("utf-8")) % 7


def expected_samples(request) -> int:
    return scripted_tokens(request.target_text) * HOP


SPEC = RandomWeightSpec(
    distributions=("torch", "torchaudio", "torchcodec", "transformers", "hydra-core", "descript-audio-codec",
                   "descript-audiotools", "tiktoken", "pydantic", "numpy"),
    built=("openaudio-s1-mini folder made small: DualARTransformer of width 64 (2 slow, 1 fast layer; 10 codebooks, "
           "4096 semantic tokens) with a byte-level FishTokenizer; modded_dac_vq codec at 44.1 kHz narrowed by hydra "
           "overrides (2048 samples a token, 1+9 codebooks); saved with upstream's writers and loaded by the "
           "adapter's load"),
    batch_tolerance=None,
    expected_samples=expected_samples,
    seeded=True,
    failure_probes=(
        FailureProbe("an empty prompt transcript (in-context cloning reads it)", prompt_text="",
                     reason="empty prompt transcript"),
        FailureProbe("a target that never gets <|im_end|> (scripted) runs to max_new_tokens",
                     target_text=f"This one keeps on talking {RUNAWAY_MARK} forever.", reason="max_new_tokens"),
    ),
    notes=("the slow transformer's token choices are scripted: semantic tokens only for a count fixed by the target "
           "text, then <|im_end|>; which semantic token and the 9 residual codes are sampled by upstream",
           f"max_new_tokens is {MAX_NEW_TOKENS} here (1024 for real), so the runaway probe stops sooner",
           "torchaudio 2.11 lacks list_audio_backends (called by ReferenceLoader at this commit; torchaudio 2.8 has "
           "it): the check supplies one answering ['soundfile'] while load runs; torchcodec decodes the reference",
           "the upstream is the fishaudio/fish-speech checkout (its commit is recorded below)"),
)


def write_llama(folder: Path) -> dict:
    """The small random DualARTransformer and its tokenizer, by upstream's `save_pretrained`; its state dict."""
    import torch
    from fish_speech.models.text2semantic.llama import DualARModelArgs, DualARTransformer
    from fish_speech.tokenizer import ALL_SPECIAL_TOKENS, FishTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    ranks = folder / "tokenizer.tiktoken"  # upstream's format: "<base64 token> <rank>" a line
    ranks.write_text("".join(f"{base64.b64encode(bytes([i])).decode()} {i}\n" for i in range(256)), encoding="utf-8")
    tokenizer = FishTokenizer(str(ranks), ALL_SPECIAL_TOKENS)
    config = DualARModelArgs(**{**LLAMA, "vocab_size": 256 + len(ALL_SPECIAL_TOKENS)})
    torch.manual_seed(0)
    model = DualARTransformer(config, tokenizer=tokenizer).eval()
    model.save_pretrained(str(folder))
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def small_compose(compose):
    """Upstream's hydra `compose`, given the overrides that make the codec small."""
    def composed(config_name=None, overrides=(), **kwargs):
        return compose(config_name=config_name, overrides=[*overrides, *CODEC_OVERRIDES], **kwargs)

    return composed


def write_codec(path: Path, checkout: Path) -> dict:
    """The small random modded DAC, composed from upstream's config with CODEC_OVERRIDES; its state dict."""
    import torch
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.utils import instantiate

    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(checkout / "fish_speech" / "configs")):
        config = small_compose(compose)(config_name=real.DECODER_CONFIG)
    GlobalHydra.instance().clear()
    torch.manual_seed(1)
    codec = instantiate(config).eval()
    state = {name: tensor.detach().clone() for name, tensor in codec.state_dict().items()}
    torch.save(state, path)
    return state


def same_tensors(saved: dict, loaded: dict, what: str) -> None:
    """Every saved tensor came back (upstream loads with strict=False, which would hide a layout mismatch)."""
    wrong = [name for name, tensor in saved.items()
             if name not in loaded or not bool((loaded[name].cpu() == tensor.to(loaded[name].dtype)).all())]
    if wrong:
        raise AssertionError(f"{what}: {len(wrong)} of {len(saved)} tensors did not load as saved: {wrong[:5]}")


def script_tokens(model) -> None:
    """Make the slow transformer choose semantic tokens for `scripted_tokens(target)` steps, then `<|im_end|>`."""
    import torch
    from fish_speech.tokenizer import IM_END_TOKEN

    tokenizer = model.tokenizer
    im_end = tokenizer.get_token_id(IM_END_TOKEN)
    first, last = tokenizer.semantic_begin_id, tokenizer.semantic_end_id
    state = {"start": 0, "tokens": 0}
    forward_generate = model.forward_generate

    def scripted(inp, input_pos=None, *args, **kwargs):
        result = forward_generate(inp, input_pos, *args, **kwargs)
        if inp.shape[-1] > 1:  # the prefill: the whole prompt, whose last turn is the target text
            target = tokenizer.decode(inp[0, 0].tolist()).rpartition(SPEAKER)[2]
            state.update(start=inp.shape[-1], tokens=scripted_tokens(target))
            made = 0
        else:
            made = int(input_pos[0]) - state["start"] + 1
        logits = torch.full_like(result.logits, -torch.inf)
        if state["tokens"] is None or made < state["tokens"]:
            logits[..., first:last + 1] = result.logits[..., first:last + 1]
        else:
            logits[..., im_end] = 0.0
        result.logits = logits
        return result

    model.forward_generate = scripted


class Adapter(real.Adapter):
    """The real adapter, loading a random small S1-mini folder built on the fly; `clone` is the real one."""

    generation = {**real.GENERATION, "max_new_tokens": MAX_NEW_TOKENS}

    def load(self, device: str) -> None:
        import torchaudio

        checkout = real.support.upstream_checkout(self.checkout, self.name)  # the writers use upstream's classes
        from fish_speech.models.dac import inference as dac_inference
        from fish_speech.models.text2semantic import inference as t2s

        self._scratch = tempfile.TemporaryDirectory(prefix="rvcbench-fishspeech-")  # removed at exit
        folder = Path(self._scratch.name) / "openaudio-s1-mini"
        llama_state = write_llama(folder)
        codec_state = write_codec(folder / "codec.pth", checkout)
        init_model, loaded = t2s.init_model, {}

        def init_and_script(*args, **kwargs):  # runs in upstream's LLaMA worker thread, before load returns
            model, decode_one_token = init_model(*args, **kwargs)
            loaded["llama"] = model.state_dict()
            script_tokens(model)
            return model, decode_one_token

        self.weights = str(folder)
        backends = (contextlib.nullcontext() if hasattr(torchaudio, "list_audio_backends") else
                    mock.patch.object(torchaudio, "list_audio_backends", lambda: ["soundfile"], create=True))
        with mock.patch.object(t2s, "init_model", init_and_script), \
                mock.patch.object(dac_inference, "compose", small_compose(dac_inference.compose)), backends:
            super().load(device)
        self.weights = None
        same_tensors(llama_state, loaded["llama"], "model.pth")
        same_tensors(codec_state, self._engine.decoder_model.state_dict(), "codec.pth")
