"""Random-weight check of StyleTTS 2: the real `load` and `clone` over upstream's own modules, no checkpoint.

`Adapter.load` writes a small random model in upstream's own file formats and then runs the real adapter's
`load` on it, so upstream's loading code runs too:

- a stand-in checkout in a temporary folder: every file of the real clone (STYLETTS2_ROOT or the recorded one),
  linked, except the three pretrained sub-models under `Utils/` and their configs (a clone gets the models
  from Git LFS), which are written here instead: a random `ASRCNN` (`Utils/ASR/epoch_00080.pth` as
  `{"model": ...}` beside a small `config.yml`), a random `JDCNet(num_class=1, seq_len=192)` (`Utils/JDC/bst.t7`
  as `{"net": ...}`, the only shape `load_F0_models` builds) and a random PL-BERT (`Utils/PLBERT/step_1.t7` as
  `{"net": {"module.encoder." + name: ...}}`, with the `position_ids` entry `load_plbert` deletes, beside a
  `config.yml` whose `model_params` build an `AlbertConfig` of 2 layers, width 64, upstream's 178 symbols and
  512 positions);
- a weights folder with `Models/LibriTTS/config.yml` (upstream's `Configs/config_libritts.yml` with
  `model_params` made small) and `Models/LibriTTS/epochs_2nd_00020.pth` (`{"net": {module: state_dict}}`) from
  `models.build_model` over those sub-models, random.

Then `super().load` (the adapter's own) rebuilds everything from those files with `load_plbert`,
`load_ASR_models`, `load_F0_models` and `build_model`, loads the state dicts and makes the sampler, phonemizer
(espeak-ng) and mel transform; `clone` is the adapter's. What stays as the real config: style_dim 128 (the
notebook splits the 256-wide style at 128), hidden_dim 512 (`Modules/hifigan.py` hard-codes 512 input
channels), the HiFi-GAN decoder with its fixed 1024-wide blocks, upsample rates 10*5*3*2 = 300 per frame and
512 initial channels, 178 symbols, PL-BERT's 512 positions. Made small: one text-encoder / predictor layer,
`max_dur` 2 (random durations of 1 or 2 frames per phoneme instead of up to 50), one resblock kernel, a 1-layer
diffusion transformer of 2 heads x 16, `dim_in` 16, a tiny SLM discriminator head.

NLTK's punkt sentence model cannot be downloaded here; when it is missing, an untrained
`PunktSentenceTokenizer` (no abbreviations learnt) is pickled where NLTK 3.8 looks for the English one, so the
adapter's `word_tokenize` runs unchanged (the trained model could split sentences differently; phonemes
rarely look like English abbreviations).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from unittest import mock

from rvcbench.adapters import support
from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module, merged_config

real = adapter_module(__file__)

LONG_TARGET = " ".join(["The old lighthouse keeper climbed the winding stairs every evening, lit the great lamp, and",
                        "watched the ships pass safely through the narrow channel between the rocks."] * 6)
PLBERT = {"vocab_size": 178, "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 128,
          "max_position_embeddings": 512, "num_hidden_layers": 2, "embedding_size": 32, "dropout": 0.1}
ASR = {"input_dim": 80, "hidden_dim": 64, "n_token": 178, "token_embedding_dim": 64, "n_layers": 1}
SMALL_MODEL = {"dim_in": 16, "n_layer": 1, "max_dur": 2,
               "decoder": {"resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1, 3, 5]]},
               "slm": {"hidden": 32, "nlayers": 2, "initial_channel": 8},
               "diffusion": {"transformer": {"num_layers": 1, "num_heads": 2, "head_features": 16, "multiplier": 1}}}
SAVED = ("bert", "bert_encoder", "predictor", "decoder", "text_encoder", "predictor_encoder", "style_encoder",
         "diffusion", "text_aligner", "pitch_extractor")  # the modules the checkpoint's `net` holds for inference
# written here, never linked: a write through a link would change the real clone
SUB_MODELS = ("Utils/ASR/config.yml", "Utils/ASR/epoch_00080.pth", "Utils/JDC/bst.t7", "Utils/PLBERT/config.yml",
              "Utils/PLBERT/step_")

SPEC = RandomWeightSpec(
    distributions=("torch", "transformers", "phonemizer", "nltk", "librosa", "munch", "einops", "monotonic_align"),
    built=("StyleTTS 2 from upstream's LibriTTS config made small (1-layer text encoder and predictor, max_dur 2, "
           "HiFi-GAN decoder as upstream, 1-layer diffusion transformer), a 2-layer PL-BERT of width 64 with 512 "
           "positions, random ASRCNN and JDCNet, all saved in upstream's formats and loaded by the real load()"),
    expected_samples=None,
    seeded=True,
    failure_probes=(FailureProbe("a target longer than PL-BERT's 512 positions", target_text=LONG_TARGET,
                                 reason="PL-BERT takes at most 512"),),
    notes=("the clip length follows the random duration predictor, so no length is expected",
           "NLTK's punkt data is not downloadable here: an untrained Punkt model stands in when it is missing",
           "random weights prove call shapes, loading and failure handling, not quality"),
)


def stand_in_checkout(clone: Path, folder: Path) -> Path:
    """`folder` with every file of `clone` linked, except the pretrained sub-models (written by the caller)."""
    for source in clone.rglob("*"):
        relative = source.relative_to(clone)
        if source.is_dir() or relative.parts[0] == ".git" or any(
                str(relative).startswith(skip) for skip in SUB_MODELS):
            continue
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).symlink_to(source)
    return folder


def ensure_punkt(folder: Path) -> None:
    """When NLTK's English punkt model is not installed, pickle an untrained one where NLTK 3.8 loads it."""
    import pickle

    import nltk

    try:
        nltk.tokenize.word_tokenize("ready.")
        return
    except LookupError:
        pass
    for target in (folder / "tokenizers" / "punkt", folder / "tokenizers" / "punkt" / "PY3"):  # NLTK reads PY3/
        target.mkdir(parents=True, exist_ok=True)
        with open(target / "english.pickle", "wb") as handle:
            pickle.dump(nltk.tokenize.punkt.PunktSentenceTokenizer(), handle)
    nltk.data.path.insert(0, str(folder))
    nltk.tokenize.word_tokenize("ready.")


def write_random_model(checkout: Path, weights: Path) -> None:
    """The sub-models into `checkout`, the config and checkpoint into `weights`, all random, upstream's formats."""
    import importlib

    import torch
    import yaml
    from transformers import AlbertConfig

    # the stand-in checkout's (linked) upstream modules
    models, utils = importlib.import_module("models"), importlib.import_module("utils")
    CustomAlbert, recursive_munch = importlib.import_module("Utils.PLBERT.util").CustomAlbert, utils.recursive_munch

    torch.manual_seed(0)
    plbert_dir = checkout / "Utils" / "PLBERT"
    plbert_dir.mkdir(parents=True, exist_ok=True)
    (plbert_dir / "config.yml").write_text(yaml.safe_dump({"model_params": PLBERT}))
    bert = CustomAlbert(AlbertConfig(**PLBERT))
    state = {f"module.encoder.{name}": value for name, value in bert.state_dict().items()}
    state.setdefault("module.encoder.embeddings.position_ids", torch.arange(PLBERT["max_position_embeddings"])[None])
    torch.save({"net": state}, plbert_dir / "step_1.t7")

    asr_config = checkout / "Utils" / "ASR" / "config.yml"
    asr_config.write_text(yaml.safe_dump({"model_params": ASR}))
    torch.save({"model": models.ASRCNN(**ASR).state_dict()}, checkout / "Utils" / "ASR" / "epoch_00080.pth")
    (checkout / "Utils" / "JDC").mkdir(parents=True, exist_ok=True)
    torch.save({"net": models.JDCNet(num_class=1, seq_len=192).state_dict()}, checkout / "Utils" / "JDC" / "bst.t7")

    config = yaml.safe_load((checkout / "Configs" / "config_libritts.yml").read_text())
    config["model_params"] = merged_config(config["model_params"], SMALL_MODEL)
    net = models.build_model(recursive_munch(config["model_params"]),
                             models.load_ASR_models(str(checkout / "Utils/ASR/epoch_00080.pth"), str(asr_config)),
                             models.load_F0_models(str(checkout / "Utils/JDC/bst.t7")), bert)
    target = weights / Path(real.CHECKPOINT).parent
    target.mkdir(parents=True, exist_ok=True)
    (weights / real.CONFIG).write_text(yaml.safe_dump(config))
    torch.save({"net": {key: net[key].state_dict() for key in SAVED}}, weights / real.CHECKPOINT)


class Adapter(real.Adapter):
    def load(self, device: str) -> None:
        self._scratch = tempfile.TemporaryDirectory(prefix="rvcbench-styletts2-random-")
        scratch = Path(self._scratch.name)
        clone = support.upstream_checkout(self.checkout, self.name)  # the real clone, for its code
        checkout = stand_in_checkout(clone, scratch / "checkout")
        ensure_punkt(scratch / "nltk_data")
        with mock.patch.dict(os.environ, {real.ROOT_ENV: str(checkout)}):
            support.upstream_checkout(self.checkout, self.name)  # the stand-in first on sys.path
            write_random_model(checkout, scratch / "weights")
            self.weights = str(scratch / "weights")
            super().load(device)
