"""Random-weight check of the ZipVoice adapter: upstream's code from the checkout, a small random model, no download.

`Adapter.load` writes a checkpoint tree in upstream's own formats into a temporary folder and then runs the real
`Adapter.load` on it (so the real loading code runs: EmiliaTokenizer on tokens.txt, `ZipVoice(**model.json)`,
`load_checkpoint(strict=True)`, `get_vocoder(local path)`):

- `ZipVoice/zipvoice/tokens.txt`: made by upstream's own `egs/zipvoice/local/prepare_token_file_emilia.py`
  (`get_token2id`: the espeak phoneme map of piper_phonemize and the pinyin list of the checkout), the recipe of the
  released Emilia token file;
- `ZipVoice/zipvoice/model.json`: upstream's `egs/zipvoice/conf/zipvoice_base.json` made small (one layer per
  decoder stack but the same five stacks and downsampling factors 1-2-4-2-1, width 32, 2 heads of upstream's head
  sizes), Vocos features at 24 kHz;
- `ZipVoice/zipvoice/model.pt`: that model with random weights, saved by upstream's `save_checkpoint`;
- `vocos/config.yaml` and `vocos/pytorch_model.bin`: charactr/vocos-mel-24khz's config (mel features, n_fft 1024,
  hop 256, 100 mels, ISTFT head) made small (width 64, one ConvNeXt layer), random weights; the adapter's
  `vocoder_folder` is pointed at it instead of the Hugging Face cache.

Load sets torch to one thread (infer_zipvoice.py's --num-thread default on CPU). `clone` is the real adapter's.
A flow-matching model has no stopping decision: the clip length comes from the
tokens (upstream's ratio duration) and the random vocoder's output after upstream's edge-silence trimming, so no
length is asserted. It proves call shapes, argument names, per-item prompt lengths and tokens in one
`ZipVoice.sample` call, per-item noise and failure handling; not quality, the real checkpoint, or CUDA.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module

_real = adapter_module(__file__)

SMALL_MODEL = {
    "fm_decoder_downsampling_factor": [1, 2, 4, 2, 1],
    "fm_decoder_num_layers": [1, 1, 1, 1, 1],
    "fm_decoder_cnn_module_kernel": [31, 15, 7, 15, 31],
    "fm_decoder_feedforward_dim": 64,
    "fm_decoder_num_heads": 2,
    "fm_decoder_dim": 32,
    "text_encoder_num_layers": 1,
    "text_encoder_feedforward_dim": 64,
    "text_encoder_cnn_module_kernel": 9,
    "text_encoder_num_heads": 2,
    "text_encoder_dim": 32,
    "query_head_dim": 32,
    "value_head_dim": 12,
    "pos_head_dim": 4,
    "pos_dim": 48,
    "time_embed_dim": 32,
    "text_embed_dim": 32,
    "feat_dim": 100,
}
SMALL_VOCOS = {
    "feature_extractor": {"class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
                          "init_args": {"sample_rate": 24000, "n_fft": 1024, "hop_length": 256, "n_mels": 100,
                                        "padding": "center"}},
    "backbone": {"class_path": "vocos.models.VocosBackbone",
                 "init_args": {"input_channels": 100, "dim": 64, "intermediate_dim": 128, "num_layers": 1}},
    "head": {"class_path": "vocos.heads.ISTFTHead",
             "init_args": {"dim": 64, "n_fft": 1024, "hop_length": 256, "padding": "center"}},
}

SPEC = RandomWeightSpec(
    distributions=("vocos", "lhotse", "piper_phonemize", "pypinyin", "pydub", "torch", "torchaudio"),
    built=("ZipVoice from upstream's zipvoice_base.json made small (5 one-layer decoder stacks, downsampling "
           "1-2-4-2-1, width 32; 1-layer text encoder of width 32), upstream's Emilia tokens.txt recipe, small random "
           "Vocos (vocos-mel-24khz config, width 64); saved in upstream's formats and loaded by the real load()"),
    batch_tolerance=1e-3,
    seeded=True,
    failure_probes=(FailureProbe("an empty prompt transcript", prompt_text="", reason="empty prompt transcript"),),
    notes=("batch and single differ by one int16 step at most: upstream's remove_silence trims the output "
           "through pydub's 16-bit samples, so a 1e-7 float difference can flip a sample's last bit",
           "the initial noise of each item comes from its own seed (the adapter answers ZipVoice.sample's one "
           "batch-wide torch.randn with per-item noise), so an item in a batch can equal the item alone",),
)


def build_checkpoint(folder: Path, checkout: Path) -> tuple[Path, Path]:
    """Write the small random ZipVoice and Vocos trees under `folder`; return (weights root, vocoder folder)."""
    import argparse
    import importlib.util
    import json

    import torch
    import yaml
    from vocos import Vocos
    from zipvoice.models.zipvoice import ZipVoice
    from zipvoice.tokenizer.tokenizer import EmiliaTokenizer
    from zipvoice.utils.checkpoint import save_checkpoint

    model_dir = folder / "ZipVoice" / _real.MODEL_FOLDER
    model_dir.mkdir(parents=True)
    script = checkout / "egs" / "zipvoice" / "local" / "prepare_token_file_emilia.py"
    spec = importlib.util.spec_from_file_location("prepare_token_file_emilia", script)
    tokens_recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tokens_recipe)
    tokens_recipe.get_token2id(argparse.Namespace(tokens=model_dir / "tokens.txt",
                                                  pinyin=checkout / "egs" / "zipvoice" / "local" / "pinyin.txt"))
    (model_dir / "model.json").write_text(json.dumps({"model": SMALL_MODEL,
                                                      "feature": {"sampling_rate": 24000, "type": "vocos"}}))
    tokenizer = EmiliaTokenizer(token_file=str(model_dir / "tokens.txt"))
    torch.manual_seed(0)
    model = ZipVoice(**SMALL_MODEL, vocab_size=tokenizer.vocab_size, pad_id=tokenizer.pad_id)
    save_checkpoint(filename=model_dir / "model.pt", model=model)

    vocoder_dir = folder / "vocos"
    vocoder_dir.mkdir()
    (vocoder_dir / "config.yaml").write_text(yaml.safe_dump(SMALL_VOCOS))
    vocoder = Vocos.from_hparams(str(vocoder_dir / "config.yaml"))
    torch.save(vocoder.state_dict(), vocoder_dir / "pytorch_model.bin")
    return folder / "ZipVoice", vocoder_dir


class Adapter(_real.Adapter):
    """The real adapter, loaded from a small random checkpoint written in upstream's formats."""

    def load(self, device: str) -> None:
        import torch

        from rvcbench.adapters import support

        torch.set_num_threads(1)  # infer_zipvoice.py's --num-thread default on CPU; the check machine is shared
        checkout = support.upstream_checkout(self.checkout, self.name)
        self._folder = tempfile.TemporaryDirectory(prefix="rvcbench-zipvoice-random-")
        root, self._vocoder_dir = build_checkpoint(Path(self._folder.name), checkout)
        self.weights = str(root)
        super().load(device)

    def vocoder_folder(self) -> Path:
        return self._vocoder_dir
