"""Random-weight check of PlayDiffusion's TTS path (`rvcbench check-adapter playdiffusion --random-weights`).

`Adapter.load` writes the six files of `PlayHT/inpainter` under their real names, each in the format upstream's
loaders read, built with upstream's own classes at a small size and random weights, and then runs the adapter's
real `load` on that folder, so upstream's `PlayDiffusionModelManager` loads every part itself:
- `last_250k_fixed.pkl` (`load_maskgct_inpainter`: `{"config", "model"}`): a `MaskGCT` of width 64, 2 layers,
  2 heads, with upstream's 10,000 audio units and a text vocabulary of the tokenizer below plus BOS/EOS;
- `tokenizer-multi_bpe16384_merged_extended_58M.json` (`VoiceBpeTokenizer`): a character-level `tokenizers` BPE
  without merges over printable ASCII with `[STOP]`, `[UNK]` and `[SPACE]` (the real one is a 16k BPE);
- `voice_encoder_1992000.pt` (`{"config", "model_state_dict"}`): a `ConditioningEncoder` over upstream's 100-bin
  24 kHz mel, width 64 (one head of 64), one attention block;
- `v090_g_01105000` (`load_ldm_bigvgan`: `{"params", "generator"}`): a `BigVGAN` of 64 initial channels with
  speaker FiLM conditioning, saved with its weight norm as upstream's loader expects. Its `params` are not public
  (they live in the checkpoint): chosen here are `sampling_rate` 48000 (the adapter's declaration) and hops that
  give 960 samples per 50 Hz unit (upsampler x4, then 5*4*4*3 = 240);
- `kmeans_10k.npy`: 10,000 random centroids of dimension 32 (the vocoder's lookup table and the unit extractor);
- `xlsr2_1b_v2_custom.pt`: the state dict of upstream's XLS-R unit extractor built by its own
  `load_xlsr_encoder` (fairseq2 `Wav2Vec2Factory`) with `_encoder_xlsr2_1b_v2` made narrow for the build (width 32,
  2 heads, conv channels 32, upstream's strides, 35 layers as upstream keeps). TTS never runs it; it is built
  because upstream's model manager always loads it.

Three things differ from a GPU run, all outside the adapter's `clone`: upstream creates CUDA streams
unconditionally (`SpeechTokenizer.__init__`, `get_voice_embeddings`), so where no GPU is present the check replaces
`torch.cuda.Stream`, `torch.cuda.stream` and `torch.cuda.current_stream` with no-op stand-ins for the worker's life;
torch runs on one CPU thread (on the two shared cores here, two threads made a clone ten times slower); and
`nltk.download` in upstream's constructor fails offline (quietly, as upstream allows). Everything else runs as
upstream wrote it: `TTSInput` validation, unidecode and text splitting, the syllable-count frame estimate, the voice
embedding (30 s padding, mel, voice encoder), the masked-diffusion sampling with guidance and top-k (30 steps, Gumbel
noise from torch's generator, so the seed is read), the fp16 vocoder and upstream's int16 conversion.
"""

from __future__ import annotations

import contextlib
import string
import tempfile
from pathlib import Path

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module

real = adapter_module(__file__)

UNITS = 10000  # kmeans_10k: the audio vocabulary (MaskGCT's default vocab_audio)
UNIT_DIM = 32  # the small XLS-R width; the kmeans centroids live in its feature space
SAMPLES_PER_UNIT = 960  # 48 kHz / 50 Hz units: the vocoder hops chosen below
INPAINTER = {"codebook_size": UNITS, "num_layers_lm": 2, "num_heads": 2, "num_kv_heads": 2, "hidden_size": 64}
VOICE_ENCODER = {"mel_dim": 100, "model_dim": 64, "voice_encoder_depth": 1}  # 100 mels: upstream's MelSpectrogram
VOCODER = {
    "sampling_rate": real.OUTPUT_RATE, "codes_hop_size": SAMPLES_PER_UNIT, "ar_tokens_hop_size": SAMPLES_PER_UNIT,
    "hop_size": 240, "ar_tokens_dim": 32, "num_mels": 32, "upsample_initial_channel": 64,
    "upsample_rates": [5, 4, 4, 3], "upsample_kernel_sizes": [10, 8, 8, 6], "resblock_kernel_sizes": [3],
    "resblock_dilation_sizes": [[1, 3, 5]], "activation": "snakebeta", "snake_logscale": True,
    "use_mrf": False, "add_upsampler": True, "use_ar_speaker_cond": True,
    "speaker_cond_dim": VOICE_ENCODER["model_dim"], "no_mel_simulation": False, "use_snake_pre_processing": False,
    "use_scaler": False, "use_tanh_at_final": True, "use_bias_at_final": True,
}
SPECIAL = ["[STOP]", "[UNK]", "[SPACE]"]

SPEC = RandomWeightSpec(
    distributions=("playdiffusion", "fairseq2", "fairseq2n", "torch", "torchaudio", "torchtune", "syllables",
                   "tokenizers", "librosa", "unidecode", "pydantic"),
    built=("PlayHT/inpainter folder made small, in upstream's formats: MaskGCT inpainter of width 64 (2 layers, "
           "10,000 units), character-level BPE text tokenizer, ConditioningEncoder of width 64, BigVGAN of 64 "
           "channels at 48 kHz (960 samples a unit; the real params are in the checkpoint), 10k x 32 kmeans, XLS-R "
           "extractor built by upstream's load_xlsr_encoder at width 32; loaded by the adapter's load through "
           "PlayDiffusion's model manager"),
    batch_tolerance=None,
    expected_samples=None,
    seeded=True,
    failure_probes=(FailureProbe("an empty target text", target_text="  ", reason="empty target text"),),
    notes=("no GPU here: torch.cuda.Stream/stream/current_stream replaced with no-op stand-ins (upstream creates "
           "CUDA streams unconditionally); fp16 vocoder and unit extractor run on CPU, on one torch thread",
           "clip length is int(syllables.estimate(text) * 12.5) x 960 samples; the harness cannot recompute it "
           "(upstream's syllables fork is not in the main environment), so it was checked in the model environment",
           "vocoder params (sampling_rate, hops) are chosen here: the real ones are inside the checkpoint"),
)


def write_tokenizer(path: Path) -> int:
    """A character-level BPE (no merges) in `tokenizers`' JSON, with the markers `VoiceBpeTokenizer` replaces;
    returns its vocabulary size."""
    from tokenizers import Tokenizer, models

    vocab = {token: index for index, token in enumerate(SPECIAL + sorted(set(string.printable.strip())))}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tokenizer.add_special_tokens(SPECIAL)
    tokenizer.save(str(path))
    return tokenizer.get_vocab_size()


@contextlib.contextmanager
def narrow_xlsr():
    """While the block runs, upstream's `_encoder_xlsr2_1b_v2` returns its config made narrow (same strides)."""
    from dataclasses import replace

    from playdiffusion.models.speech_tokenizer import xlsr_encoder

    original = xlsr_encoder._encoder_xlsr2_1b_v2

    def narrow():
        config = original()
        return replace(config, model_dim=UNIT_DIM, feature_dim=UNIT_DIM, num_encoder_attn_heads=2,
                       ffn_inner_dim=2 * UNIT_DIM, pos_conv_kernel_size=16, num_pos_conv_groups=4,
                       feature_extractor_layer_descs=[(UNIT_DIM, kernel, stride) for _, kernel, stride
                                                      in config.feature_extractor_layer_descs])

    xlsr_encoder._encoder_xlsr2_1b_v2 = narrow
    try:
        yield
    finally:
        xlsr_encoder._encoder_xlsr2_1b_v2 = original


def write_checkpoint(folder: Path) -> Path:
    """The six files of PlayHT/inpainter, random and small, in the formats upstream's loaders read."""
    import numpy as np
    import torch
    from playdiffusion.models.ar.conditioning_encoder import ConditioningEncoder
    from playdiffusion.models.inpainter.masklm_text import MaskGCT
    from playdiffusion.models.speech_tokenizer.xlsr_encoder import load_xlsr_encoder
    from playdiffusion.models.vocoder.ldm_bigvgan import BigVGAN, DotDict

    files = real.FILES
    torch.manual_seed(0)
    kmeans = folder / files["kmeans"]
    np.save(kmeans, np.random.default_rng(0).standard_normal((UNITS, UNIT_DIM)).astype(np.float32))

    vocab = write_tokenizer(folder / files["tokenizer"])
    inpainter = dict(INPAINTER, vocab_size=vocab + 2)  # + BOS, EOS (MaskGCT: vocab_text includes them)
    model = MaskGCT(vocab_text=inpainter["vocab_size"], vocab_audio=UNITS, num_layers=inpainter["num_layers_lm"],
                    num_heads=inpainter["num_heads"], num_kv_heads=inpainter["num_kv_heads"],
                    embed_dim=inpainter["hidden_size"], intermediate_dim=4 * inpainter["hidden_size"],
                    rope_base=50000.0)
    torch.save({"config": inpainter, "model": model.state_dict()}, folder / files["inpainter"])

    encoder = ConditioningEncoder(VOICE_ENCODER["mel_dim"], VOICE_ENCODER["model_dim"],
                                  VOICE_ENCODER["voice_encoder_depth"])
    for parameter in encoder.parameters():  # upstream zero-initialises the residual outputs; make them speak
        if not parameter.detach().abs().sum():
            torch.nn.init.normal_(parameter, std=0.02)
    torch.save({"config": VOICE_ENCODER, "model_state_dict": encoder.state_dict()}, folder / files["voice_encoder"])

    vocoder = BigVGAN(DotDict(VOCODER, xlsr_centroids=str(kmeans)))
    torch.save({"params": dict(VOCODER), "generator": vocoder.state_dict()}, folder / files["vocoder"])

    xlsr, _, _ = load_xlsr_encoder(device=torch.device("cpu"), dtype=torch.float32)
    torch.save(xlsr.state_dict(), folder / files["speech_tokenizer"])
    return folder


class _NoStream:
    """Stands in for a CUDA stream where there is no GPU: waiting on it does nothing."""

    def wait_stream(self, stream) -> None:
        return None


def on_cpu_only() -> None:
    """Where no GPU is present: replace torch's CUDA stream API with no-ops (upstream creates streams regardless)
    and run torch on one thread (two threads on the two shared cores here were ten times slower than one)."""
    import torch

    if torch.cuda.is_available():
        return
    torch.set_num_threads(1)
    torch.cuda.Stream = lambda *args, **kwargs: _NoStream()
    torch.cuda.current_stream = lambda *args, **kwargs: _NoStream()
    torch.cuda.stream = lambda stream: contextlib.nullcontext()


class Adapter(real.Adapter):
    """The real adapter, loading a random small PlayHT/inpainter folder built on the fly; `clone` is the real one."""

    def load(self, device: str) -> None:
        real.support.require("playdiffusion", self.name)
        on_cpu_only()
        self._scratch = tempfile.TemporaryDirectory(prefix="rvcbench-playdiffusion-")
        try:
            with narrow_xlsr():
                self.weights = str(write_checkpoint(Path(self._scratch.name)))
                super().load(device)
        finally:
            self.weights = None
            self._scratch.cleanup()  # every part is read into memory by load
