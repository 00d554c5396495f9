"""Random-weight check of OpenVoice V2 (MeloTTS base speaker, then the tone-colour converter), no checkpoint.

`Adapter.load` writes every file the real `load` reads, in upstream's own formats, into a temporary folder, and
then calls the real `load` on them, so the real loading code runs too:

- the converter folder (`converter/config.json` with V2's data settings, 22.05 kHz, 1024/256 STFT, and
  `converter/checkpoint.pth` = `{"model": state_dict}` of openvoice's `SynthesizerTrn` built from that config made
  small: width 32, 2 layers, one resblock kernel, upsampling 8*8*2*2 = the hop 256, tone colour width 32) with
  random `base_speakers/ses/<speaker>.pth` embeddings;
- one MeloTTS checkpoint per language (`config.json` with melo's own symbol set, tones and languages, 44.1 kHz,
  2048/512 STFT; `checkpoint.pth` = `{"model": state_dict}` of melo's `SynthesizerTrn` made small: width 32, one
  encoder and one flow layer, upsampling 8*8*2*2*2 = the hop 512), single-speaker like the real ones;
- for each BERT id MeloTTS hard-codes, a BertTokenizer over a character-level WordPiece vocabulary made here, and
  for English a 2-layer BertForMaskedLM of width 768 (the width MeloTTS's `ja_bert_proj` takes);
- the WavMark watermarker at its real architecture (`wavmark.models.my_model.Model`, as `load_model` builds it)
  with random weights;
- these HF repositories are put in rvcbench's weights store (`weights_store.download` from a local folder, as
  `--weights-from` does), under RVCBENCH_WEIGHTS_DIR in the temporary folder;
- silero VAD: HOME points into the temporary folder, whose `~/.cache/torch/hub/snakers4_silero-vad_master` has a
  `hubconf.py` that returns the real silero VAD model and `get_speech_timestamps` of the `silero-vad` package
  (v5, real weights; whisper-timestamped would otherwise fetch GitHub's master);
- NLTK data for g2p_en: `corpora/cmudict` made from the CMU dictionary MeloTTS ships (`melo/text/cmudict.rep`),
  and an *untagged* `averaged_perceptron_tagger` stand-in (no weights: it tags every word NN; g2p_en uses the
  tags only to pick among homographs of out-of-dictionary words).

Only English runs (the probe pairs are English); the other languages' frontends are imported (their tokenizers
load) but not exercised. Random weights prove call shapes, argument names, the two-stage flow, seeding and
failure handling, not output quality.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module

_real = adapter_module(__file__)

SPEAKERS = {"en": "EN-Newest", "es": "ES", "fr": "FR", "zh": "ZH", "ja": "JP", "ko": "KR"}

CONVERTER_CONFIG = {
    "_version_": "v2",
    "data": {"sampling_rate": 22050, "filter_length": 1024, "hop_length": 256, "win_length": 1024,
             "n_speakers": 0},
    "model": {"zero_g": True, "inter_channels": 32, "hidden_channels": 32, "filter_channels": 64, "n_heads": 2,
              "n_layers": 2, "kernel_size": 3, "p_dropout": 0.1, "resblock": "1", "resblock_kernel_sizes": [3],
              "resblock_dilation_sizes": [[1, 3, 5]], "upsample_rates": [8, 8, 2, 2],
              "upsample_initial_channel": 64, "upsample_kernel_sizes": [16, 16, 4, 4], "gin_channels": 32},
}
MELO_MODEL = {"use_spk_conditioned_encoder": True, "use_noise_scaled_mas": True, "use_mel_posterior_encoder": False,
              "use_duration_discriminator": True, "inter_channels": 32, "hidden_channels": 32, "filter_channels": 64,
              "n_heads": 2, "n_layers": 3, "n_layers_trans_flow": 3, "kernel_size": 3, "p_dropout": 0.1,
              "resblock": "1", "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1, 3, 5]],
              "upsample_rates": [8, 8, 2, 2, 2], "upsample_initial_channel": 64,
              "upsample_kernel_sizes": [16, 16, 8, 2, 2], "n_layers_q": 1, "use_spectral_norm": False,
              "gin_channels": 32}

SPEC = RandomWeightSpec(
    distributions=("melotts", "wavmark", "whisper-timestamped", "openai-whisper", "faster-whisper", "silero-vad",
                   "transformers", "librosa", "g2p_en", "nltk"),
    built=("OpenVoice V2 converter (SynthesizerTrn, width 32, V2's 22.05 kHz / hop 256 config) and MeloTTS "
           "(width 32, 1 layer, melo's symbols, 44.1 kHz / hop 512) with random weights in upstream's checkpoint "
           "format, 2-layer BERT of width 768 over a character WordPiece vocabulary, random WavMark; real silero "
           "VAD (silero-vad package)"),
    seeded=True,  # MeloTTS draws its duration and prior noise, the converter its posterior noise (tau)
    failure_probes=(FailureProbe("a blank target text", target_text="   ", reason="empty target text"),),
    notes=("batch size 1: tts_to_file and convert take one text and one file",
           "the probe prompts (3.5-4 s) are under get_se's 5 s of speech after VAD, so the check runs the adapter's "
           "extract_se fallback after upstream's get_se refuses them",
           "NLTK's POS tagger is an untrained stand-in (every word NN); cmudict is made from MeloTTS's cmudict.rep"),
)


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def _converter(root: Path) -> Path:
    import torch
    from openvoice import utils
    from openvoice.models import SynthesizerTrn

    folder = root / "OpenVoiceV2"
    config = folder / "converter" / "config.json"
    _write_json(config, CONVERTER_CONFIG)
    hps = utils.get_hparams_from_file(str(config))  # as OpenVoiceBaseClass builds it
    model = SynthesizerTrn(len(getattr(hps, "symbols", [])), hps.data.filter_length // 2 + 1,
                           n_speakers=hps.data.n_speakers, **hps.model)
    torch.save({"model": model.state_dict()}, folder / "converter" / "checkpoint.pth")
    ses = folder / _real.SES_FOLDER
    ses.mkdir(parents=True)
    for name in SPEAKERS.values():
        torch.save(torch.randn(1, CONVERTER_CONFIG["model"]["gin_channels"], 1) * 0.1,
                   ses / (name.lower().replace("_", "-") + ".pth"))
    return folder


def _melo(source: Path) -> None:
    import torch
    from melo.models import SynthesizerTrn
    from melo.text.symbols import num_languages, num_tones, symbols

    for language, (_, repo) in _real.MELO.items():
        folder = source / repo
        data = {"sampling_rate": 44100, "filter_length": 2048, "hop_length": 512, "win_length": 2048,
                "add_blank": True, "n_speakers": 1, "spk2id": {SPEAKERS[language]: 0}}
        config = {"train": {"segment_size": 16384}, "data": data, "model": MELO_MODEL,
                  "num_languages": num_languages, "num_tones": num_tones, "symbols": symbols}
        _write_json(folder / "config.json", config)
        # melo.api.TTS's arguments (melo.utils, which reads the file, imports every text frontend)
        model = SynthesizerTrn(len(symbols), data["filter_length"] // 2 + 1, 16384 // data["hop_length"],
                               n_speakers=data["n_speakers"], num_tones=num_tones, num_languages=num_languages,
                               **MELO_MODEL)
        torch.save({"model": model.state_dict()}, folder / "checkpoint.pth")


def _berts(source: Path) -> None:
    import string

    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *(f"##{c}" for c in chars)]
    for name, repo in _real.BERTS.items():
        folder = source / repo
        folder.mkdir(parents=True)
        (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
        BertTokenizer(str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(str(folder))
        config = BertConfig(vocab_size=len(vocab), hidden_size=768, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=512)
        if name == "bert-base-uncased":
            BertForMaskedLM(config).save_pretrained(str(folder))
        else:
            config.save_pretrained(str(folder))


def _watermarker(source: Path) -> None:
    import torch
    from wavmark.models import my_model

    folder = source / _real.WATERMARK_ID
    folder.mkdir(parents=True)
    model = my_model.Model(16000, num_bit=32, n_fft=1000, hop_length=400, num_layers=8)  # as load_model builds it
    torch.save(model.state_dict(), folder / _real.WATERMARK_FILE)


HUBCONF = '''dependencies = ["torch"]


def silero_vad(onnx=False, force_onnx_cpu=False):
    """silero VAD from the silero-vad package, in the (model, utils) shape of snakers4/silero-vad's hubconf."""
    from silero_vad import VADIterator, collect_chunks, get_speech_timestamps, load_silero_vad, read_audio, save_audio

    return load_silero_vad(onnx=onnx), (get_speech_timestamps, save_audio, read_audio, VADIterator, collect_chunks)
'''


def _silero(home: Path) -> None:
    folder = home / ".cache" / "torch" / "hub" / "snakers4_silero-vad_master"
    folder.mkdir(parents=True)
    (folder / "hubconf.py").write_text(HUBCONF, encoding="utf-8")


def _nltk_data(root: Path) -> Path:
    import importlib.util

    cmudict = Path(importlib.util.find_spec("melo").origin).parent / "text" / "cmudict.rep"  # not imported: g2p_en
    data = root / "nltk_data"
    (data / "corpora").mkdir(parents=True)
    (data / "taggers").mkdir()
    lines = []
    for line in cmudict.read_text(encoding="latin-1").splitlines():
        if line and not line.startswith(";;;") and not line.startswith("##"):
            word, _, phones = line.partition("  ")
            lines.append(f"{word.lower()} 1 {' '.join(p for p in phones.split() if p != '-')}")
    with zipfile.ZipFile(data / "corpora" / "cmudict.zip", "w") as archive:
        archive.writestr("cmudict/cmudict", "\n".join(lines) + "\n")
        archive.writestr("cmudict/README", "made from MeloTTS's melo/text/cmudict.rep for a random-weight check\n")
    with zipfile.ZipFile(data / "taggers" / "averaged_perceptron_tagger.zip", "w") as archive:
        archive.writestr("averaged_perceptron_tagger/averaged_perceptron_tagger.pickle",
                         pickle.dumps(({}, {}, {"NN"})))  # (weights, tagdict, classes): no weights, one class
    return data


class Adapter(_real.Adapter):
    """The real adapter, loading random-weight files written in upstream's formats (see the module docstring)."""

    def load(self, device: str) -> None:
        import torch

        from rvcbench import weights_store

        self._scratch = tempfile.TemporaryDirectory(prefix="rvcbench-openvoice2-random-")  # removed at exit
        root = Path(self._scratch.name)
        checkout = _real.support.upstream_checkout(self.checkout, self.name)  # openvoice.models for the converter
        os.environ[self.checkout.variable] = str(checkout)  # the recorded checkout is found through HOME, changed next
        os.environ["HOME"] = str(root / "home")  # whisper_timestamped reads ~/.cache/torch/hub/... for silero
        os.environ[weights_store.WEIGHTS_DIR_VARIABLE] = str(root / "weights")
        _silero(root / "home")
        torch.manual_seed(0)
        self.weights = str(_converter(root))
        source = root / "hub"
        _melo(source)
        _berts(source)
        _watermarker(source)
        for repo in (*(repo for _, repo in _real.MELO.values()), *_real.BERTS.values(), _real.WATERMARK_ID):
            weights_store.download(repo, source=source, echo=lambda *args: None)
        import nltk

        nltk.data.path.insert(0, str(_nltk_data(root)))
        super().load(device)
