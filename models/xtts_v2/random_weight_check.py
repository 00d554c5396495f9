"""Random-weight check of XTTS-v2 (`rvcbench check-adapter xtts_v2 --random-weights`; no weights, no network).

`Adapter.load` builds `Xtts` from an `XttsConfig` with random weights: upstream's XTTS-v2 architecture (perceiver
resampler, 1026 audio codes, 1024-sample code stride, 22.05 kHz GPT side, 24 kHz HiFi-GAN decoder with its
512-d ResNet speaker encoder, all at upstream's sizes, which `XttsArgs` does not expose) with the GPT made small
(2 layers of width 64, 4 heads), and a BPE tokenizer made here with XTTS's special and language tokens over single
characters (the real `vocab.json` is a download). It writes them in the layout of `coqui/XTTS-v2`: `config.json`
(`XttsConfig.save_json`), `vocab.json` (`tokenizers`) and `model.pth` (`{"model": state_dict, "config": ...}`, the
trainer's checkpoint format), then runs the adapter's real `load` on that folder: `XttsConfig.load_json`,
`Xtts(config)`, `load_checkpoint(config, checkpoint_dir=...)` (tokenizer, model rebuilt from it, strict
`load_state_dict`, GPT set up for inference). `load` then checks that the loaded weights are the saved ones.
`clone` is the adapter's own.

A random GPT samples its codes at random and almost never picks the stop code, so a logits processor, appended
after upstream's own (repetition penalty, temperature, top-k, top-p), bars the stop code for the first
`SAMPLED_CODES` steps and then forces it. The codes themselves are still drawn by upstream's sampler from the
random logits, so the seed matters. Everything else runs as upstream wrote it: WAV loading and resampling of the
prompt, the speaker encoder, mel conditioning and the perceiver, text normalisation and tokenisation, HF
`generate` with upstream's settings, the latent pass and the HiFi-GAN decoder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module, append_logits_processor

real = adapter_module(__file__)
SAMPLED_CODES = 11  # then the stop code: 12 codes per generate call
CODE_STRIDE = 1024  # XttsArgs.gpt_code_stride_len: 22.05 kHz samples per code
HOP = 256  # XttsArgs.output_hop_length: the HiFi-GAN decoder's upsampling (8 * 8 * 2 * 2)
# The shipped coqui/XTTS-v2 config.json's voice and sampling values (XttsConfig's own defaults differ).
SHIPPED = dict(temperature=0.75, length_penalty=1.0, repetition_penalty=5.0, top_k=50, top_p=0.85,
               gpt_cond_len=30, gpt_cond_chunk_len=4, max_ref_len=30, sound_norm_refs=False)
CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"-()"


def expected_samples(request) -> int:
    """Upstream's arithmetic for one sentence: codes x (1024 / 256) frames, x 24000 / 22050 (floored), x 256."""
    codes = SAMPLED_CODES + 1
    frames = int(codes * CODE_STRIDE // HOP * real.OUTPUT_RATE / 22050)
    return frames * HOP


SPEC = RandomWeightSpec(
    distributions=("coqui-tts", "coqui-tts-trainer", "coqpit-config", "transformers", "tokenizers", "spacy",
                   "torch", "torchaudio"),
    built="XttsConfig with the GPT made small (2 layers of width 64, perceiver resampler, 1026 codes) and "
          "upstream's HiFi-GAN decoder and speaker encoder, saved as config.json/vocab.json/model.pth and loaded by "
          "the adapter's load (Xtts.load_checkpoint)",
    expected_samples=expected_samples,
    seeded=True,
    failure_probes=(FailureProbe("an empty target text", target_text="   ", reason="empty target text"),),
    notes=(f"the stop code is barred for {SAMPLED_CODES} steps and then forced (a random GPT never stops); the "
           "codes are sampled by upstream's sampler",),
)


def write_vocab(path: Path) -> None:
    """A BPE without merges over single characters, with XTTS's special tokens and one tag per language."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    specials = ["[STOP]", "[UNK]", "[SPACE]"]
    vocab = {token: index for index, token in enumerate(specials + list(CHARACTERS))}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens(specials + ["[START]"] + [f"[{code}]" for code in real.LANGUAGES.values()])
    tokenizer.save(str(path))


def small_config():
    from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig

    args = XttsArgs(gpt_layers=2, gpt_n_model_channels=64, gpt_n_heads=4, gpt_num_audio_tokens=1026,
                    gpt_start_audio_token=1024, gpt_stop_audio_token=1025, gpt_use_perceiver_resampler=True,
                    decoder_input_dim=64)
    return XttsConfig(model_args=args, **SHIPPED)


def write_checkpoint(folder: Path):
    """config.json, vocab.json and model.pth of a small random Xtts; returns the saved state dict."""
    import torch
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    config = small_config()
    config.save_json(str(folder / "config.json"))
    write_vocab(folder / "vocab.json")
    torch.manual_seed(0)
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(vocab_file=folder / "vocab.json")
    model.init_models()  # the GPT needs the tokenizer's size, as in load_checkpoint
    model.mel_stats.copy_(torch.linspace(2.0, 4.0, 80))  # a checkpoint's mel normalisation, not the ones() default
    state = model.state_dict()
    torch.save({"model": state, "config": config.to_dict()}, folder / "model.pth")
    return state


def script_stop(gpt_inference) -> None:
    """Bar the stop code for SAMPLED_CODES steps, then force it, after the processors `generate` builds."""
    from transformers.generation import LogitsProcessor

    stop = 1025

    class StopAfter(LogitsProcessor):
        def __init__(self):
            self.start = None

        def __call__(self, input_ids, scores):
            if self.start is None:
                self.start = input_ids.shape[1]
            scores = scores.clone()
            if input_ids.shape[1] - self.start < SAMPLED_CODES:
                scores[:, stop] = -float("inf")
            else:
                scores[:] = -float("inf")
                scores[:, stop] = 0.0
            return scores

    append_logits_processor(gpt_inference, StopAfter)


class Adapter(real.Adapter):
    def load(self, device: str) -> None:
        import torch

        self._scratch = tempfile.TemporaryDirectory(prefix="xtts-v2-random-")  # removed at exit
        folder = Path(self._scratch.name)
        saved = write_checkpoint(folder)
        self.weights = str(folder)
        super().load(device)
        loaded = self._model.state_dict()
        differing = [name for name, value in saved.items()
                     if not torch.equal(loaded[name].detach().cpu(), value.detach().cpu())]
        if differing or set(saved) - set(loaded):
            raise RuntimeError(f"load_checkpoint did not restore the saved weights: {differing[:5]}")
        script_stop(self._model.gpt.gpt_inference)
