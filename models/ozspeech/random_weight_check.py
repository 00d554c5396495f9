"""Random-weight check of OZSpeech from its checkout (`rvcbench check-adapter ozspeech --random-weights`).

`Adapter.load` writes a small random OZSpeech in upstream's own formats and then runs the real adapter's `load` on
it, so upstream's loading code runs too (`FACodecEncoder/FACodecDecoder.from_pretrained`, `ZACT.from_pretrained`):

1. A working copy of the checkout (OZSPEECH_ROOT or the recorded one) in a temporary folder, pointed at by
   OZSPEECH_ROOT while `load` runs, whose `configs/codec.yaml` is upstream's made small: encoder `ngf` 4 (channels
   8 to 64 instead of 64 to 512), decoder `upsample_initial_channel` 64 (1024 upstream) and `use_gr_x_timbre` off
   (a training-only head of 256 x 245200 weights, used by `forward(vq=False)` only). What the pipeline fixes stays:
   hop 2*4*5*5 = 200 samples at 16 kHz, 256 channels (the timbre encoder is hard-coded at 256), 1 prosody + 2
   content + 3 residual quantizers of 2^10 codes. Where the checkout lacks `zact/lexicon/librispeech-lexicon.txt`
   (the snapshot this was built from has no blob for it), the copy gets a stand-in of a few words in the same
   format; the other words of a text go to g2p_en, as upstream does for words missing from its lexicon.
2. FaCodec: both parts built from that config by upstream's classes, random, saved as state dicts
   (`torch.save`, the format of `amphion/naturalspeech3_facodec`'s `ns3_facodec_*.bin`) and put in a temporary
   rvcbench weights store (RVCBENCH_WEIGHTS_DIR, while `load` runs) as `amphion/naturalspeech3_facodec`, the way
   `rvcbench env create ozspeech --with-weights` leaves it.
3. The ZACT checkpoint folder: `config.yaml` as upstream's `train.py` writes it (`{flow_matching: configs/flow.yaml,
   codes_generator: configs/generator.yaml}`) made small (1 encoder and 1 decoder layer of width 64 with 2 heads,
   6 code estimators of width 64, flow estimator of 1 layer of width 64 with 4 heads, code embeddings of 64; the
   vocabulary of 1024 codes, 6 quantizers and 5000 positions as upstream), and `ozspeech.pt`, a Lightning-style
   checkpoint (`{"state_dict", "epoch", "global_step", "pytorch-lightning_version"}`) of `ZACT(cfg)`.

Two choices of the random model are fixed, inside the checkpoint: the duration predictor's output layer gives
every phone 2 frames (weight 0, bias log 3.3: a random predictor rounds nearly every duration to 0 frames, an empty
target), and the prior head never picks the padding class 1024 (weight 0, bias -1e4: FaCodec has no code 1024).
Everything else is random and runs as upstream wrote it: the prompt through FaCodec's encoder and quantizers (codes
and timbre), the English front end (lexicon, g2p_en, cleaners, symbols), the codes generator, one flow-matching step
with its noise (so the seed is read), and FaCodec decoding of both the prior and the flow codes. Each clip is
2 frames x 200 samples per phone symbol.

NLTK data for g2p_en cannot be downloaded here: when missing, stand-ins go in a temporary NLTK data folder put first
on `nltk.data.path`: `corpora/cmudict.zip` with a few words (the other words go through g2p_en's own neural
predictor, which ships in its wheel), an averaged perceptron tagger without weights (one class, NN; g2p_en uses the
tag only to choose between homograph pronunciations) for nltk 3.9's `averaged_perceptron_tagger_eng`, and an
`averaged_perceptron_tagger.zip` that only answers g2p_en's import-time look-up. Random weights prove call shapes,
loading and failure handling, not quality.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module, merged_config

real = adapter_module(__file__)

HOP = 200  # FaCodec: encoder strides 2*4*5*5, decoder 5*5*4*2 at 16 kHz
FRAMES_PER_PHONE = 2
DURATION_BIAS = 1.194  # log(3.3): round(exp(bias) - 1) = 2 frames
SMALL_CODEC = {"encoder": {"ngf": 2}, "decoder": {"upsample_initial_channel": 32, "use_gr_x_timbre": False}}
SMALL_GENERATOR = {"transformer": {"encoder_layer": 1, "encoder_head": 2, "encoder_hidden": 64,
                                   "encoder_conv_filter_size": 128, "decoder_layer": 1, "decoder_head": 2,
                                   "decoder_hidden": 64, "decoder_conv_filter_size": 128, "output_dim": 64},
                   "variance_predictor": {"filter_size": 64}}
SMALL_FLOW = {"estimator": {"input_dim": 64, "n_layers": 1, "n_heads": 4, "hidden_dim": 64, "ffn_dim": 128}}
# a few entries in the LibriSpeech lexicon's format (upper-case word, ARPAbet), for a checkout that lacks it
STAND_IN_LEXICON = {"WILL": "W IH1 L", "WE": "W IY1", "THE": "DH AH0", "AND": "AH0 N D", "OF": "AH1 V",
                    "IN": "IH0 N", "A": "AH0", "AS": "AE1 Z"}
STAND_IN_CMUDICT = {"ever": "EH1 V ER0", "it": "IH1 T", "when": "W EH1 N", "they": "DH EY1", "air": "EH1 R"}

SPEC = RandomWeightSpec(
    distributions=("torch", "torchaudio", "librosa", "omegaconf", "lightning", "transformers", "g2p_en", "nltk",
                   "einops", "pyworld", "setuptools"),
    built=("upstream's generator.yaml and flow.yaml made small (width 64, 1-layer encoder, decoder and flow "
           "estimator, 6 code estimators, 1024 codes) in a Lightning-style checkpoint, and FaCodec from "
           "configs/codec.yaml made narrow (hop 200, 256 channels, 6 quantizers of 1024 codes), random, loaded by "
           "the real load() through ZACT.from_pretrained and FACodec*.from_pretrained"),
    batch_tolerance=None,
    expected_samples=None,
    seeded=True,
    failure_probes=(
        FailureProbe("an empty target text", target_text="  ", reason="empty target text"),
        FailureProbe("a target without letters", target_text="123 !?", reason="no letters"),
    ),
    notes=("batch size 1: ZACT.synthesize takes one text and one prompt",
           "the duration predictor is fixed at 2 frames a phone and the prior head never picks the padding class; "
           "each clip is 400 samples per phone symbol of the front end (not predicted here: g2p_en runs only in the "
           "model's environment)",
           "NLTK data for g2p_en is not downloadable here: a few-word cmudict and an untrained tagger stand in",
           "the snapshot lacked upstream's LibriSpeech lexicon: a few-word stand-in in its format",
           "random weights prove call shapes, loading and failure handling, not quality"),
)


def working_copy(root: Path, into: Path) -> Path:
    """A copy of the checkout with the small codec config and, where the checkout lacks it, a stand-in lexicon."""
    from omegaconf import OmegaConf

    copy = into / "OZSpeech"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".git"))
    codec = OmegaConf.to_container(OmegaConf.load(copy / "configs" / "codec.yaml"))
    OmegaConf.save(OmegaConf.create(merged_config(codec, SMALL_CODEC)), copy / "configs" / "codec.yaml")
    lexicon = copy / real.LEXICON
    if not lexicon.exists():
        lexicon.write_text("".join(f"{word}\t{phones}\n" for word, phones in STAND_IN_LEXICON.items()),
                           encoding="utf-8")
    return copy


def nltk_stand_ins(folder: Path) -> None:
    """Stand-ins for the NLTK data g2p_en reads that is not installed, in `folder`, put first on nltk.data.path."""
    import nltk

    missing = real.support.missing_nltk_data(real.NLTK_DATA, real.Adapter.name)
    if not missing:
        return
    (folder / "corpora").mkdir(parents=True)
    (folder / "taggers").mkdir()
    if "cmudict" in missing:
        with zipfile.ZipFile(folder / "corpora" / "cmudict.zip", "w") as archive:
            archive.writestr("cmudict/cmudict", "".join(f"{word} 1 {phones}\n"
                                                        for word, phones in STAND_IN_CMUDICT.items()))
    if "averaged_perceptron_tagger" in missing:
        with zipfile.ZipFile(folder / "taggers" / "averaged_perceptron_tagger.zip", "w") as archive:
            archive.writestr("averaged_perceptron_tagger/README", "stand-in for g2p_en's import-time look-up\n")
    if "averaged_perceptron_tagger_eng" in missing:
        tagger = folder / "taggers" / "averaged_perceptron_tagger_eng"
        tagger.mkdir()
        for part, value in (("weights", {}), ("tagdict", {}), ("classes", ["NN"])):
            (tagger / f"averaged_perceptron_tagger_eng.{part}.json").write_text(json.dumps(value))
    nltk.data.path.insert(0, str(folder))


def write_facodec(checkout: Path, folder: Path) -> None:
    """Random FaCodec parts of the small codec config, saved as the state dicts `from_pretrained` loads."""
    import torch
    from omegaconf import OmegaConf
    from zact.models.facodec import FACodecDecoder, FACodecEncoder

    config = OmegaConf.load(checkout / "configs" / "codec.yaml")
    folder.mkdir(parents=True)
    encoder = FACodecEncoder(ngf=config.encoder.ngf, up_ratios=list(config.encoder.up_ratios),
                             out_channels=config.encoder.out_channels)
    decoder = FACodecDecoder(**{key: value for key, value in OmegaConf.to_container(config.decoder).items()
                                if key != "ckpt_filename"})
    torch.save(encoder.state_dict(), folder / real.FACODEC_FILES[0])
    torch.save(decoder.state_dict(), folder / real.FACODEC_FILES[1])


def write_zact(checkout: Path, folder: Path) -> None:
    """The small ZACT config (train.py's layout) and a Lightning-style checkpoint of it, random."""
    import math

    import lightning
    import torch
    from omegaconf import OmegaConf
    from zact import ZACT

    def small(name: str, changes: dict) -> dict:
        return merged_config(OmegaConf.to_container(OmegaConf.load(checkout / "configs" / name)), changes)

    config = OmegaConf.create({"flow_matching": small("flow.yaml", SMALL_FLOW),
                               "codes_generator": small("generator.yaml", SMALL_GENERATOR)})
    folder.mkdir(parents=True)
    OmegaConf.save(config, folder / "config.yaml")
    model = ZACT(config)
    generator = model.codes_generator
    vocab = config.codes_generator.codec.vocab_size
    with torch.no_grad():
        durations = generator.variance_adaptor.duration_predictor.linear_layer
        durations.weight.zero_()
        durations.bias.fill_(DURATION_BIAS)
        assert round(math.exp(DURATION_BIAS) - 1) == FRAMES_PER_PHONE
        generator.head.weight[vocab].zero_()
        generator.head.bias[vocab] = -1e4
    torch.save({"epoch": 0, "global_step": 0, "pytorch-lightning_version": lightning.__version__,
                "state_dict": model.state_dict()}, folder / "ozspeech.pt")


class Adapter(real.Adapter):
    """The real adapter, loading a small random OZSpeech written in upstream's formats (see the module docstring)."""

    def load(self, device: str) -> None:
        import torch

        from rvcbench import weights_store

        root = real.support.upstream_checkout(self.checkout, self.name)
        self._scratch = tempfile.TemporaryDirectory(prefix="rvcbench-ozspeech-random-")
        scratch = Path(self._scratch.name)
        nltk_stand_ins(scratch / "nltk_data")
        copy = working_copy(root, scratch)
        saved = {name: os.environ.get(name) for name in (weights_store.WEIGHTS_DIR_VARIABLE, real.ROOT_ENV)}
        os.environ[weights_store.WEIGHTS_DIR_VARIABLE] = str(scratch / "store")
        os.environ[real.ROOT_ENV] = str(copy)
        try:
            real.support.upstream_checkout(self.checkout, self.name)  # the copy first on sys.path
            torch.manual_seed(0)
            source = scratch / "hub"
            write_facodec(copy, source / real.FACODEC_ID)
            weights_store.download(real.FACODEC_ID, source=source, echo=lambda *args: None)
            shutil.rmtree(source)
            write_zact(copy, scratch / "ozspeech")
            self.weights = str(scratch / "ozspeech")
            super().load(device)
        finally:
            self.weights = None
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
