"""Random-weight check of the F5-TTS code path the adapter uses (no checkpoint, no network).

`rvcbench check-adapter f5_tts --random-weights` runs this module through the worker in the model's environment.
`Adapter.load` writes a small random model in upstream's own formats into a temporary folder and then runs the real
adapter's `load` on it, so upstream's loaders run unchanged:

- the F5-TTS checkpoint: the package's `configs/F5TTS_v1_Base.yaml` with its `model.arch` made small (2-layer DiT of
  width 64, 4 heads of 16, text_dim 32, 2 ConvNeXt text layers; everything else as in the v1 config: text mask
  padding, no attention mask, torch attention, 100-band 24 kHz mel with hop 256), built as `utils_infer.load_model`
  builds it (`CFM` around the DiT, the package's real `vocab.txt`), every weight random (DiT's zero-initialised
  AdaLN and output layers too, or the flow would be zero), saved as the released safetensors are (EMA weights under
  `ema_model.`) at `F5TTS_v1_Base/model_1250000.safetensors`; the real `load_model` / `load_checkpoint` read it;
- the vocoder: a `config.yaml` in charactr/vocos-mel-24khz's layout (MelSpectrogramFeatures 24 kHz / n_fft 1024 /
  hop 256 / 100 mels, VocosBackbone, ISTFTHead) made small (width 64, 2 layers) and its random `pytorch_model.bin`,
  read by the real `load_vocoder(is_local=True)`.

`clone` is the real adapter's: upstream's `preprocess_ref_audio_text` (pydub silence clipping) and `infer_process`
(chunking, `torchaudio.load` of the clipped prompt, Euler ODE over 32 steps with sway sampling and CFG, Vocos
decoding), with nothing stubbed.

It proves call shapes, argument names, loading of upstream's checkpoint formats, seeding and failure handling; not
output quality (random weights speak no words), the real checkpoint or fp16 on CUDA.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module

real = adapter_module(__file__)

SMALL_ARCH = {"dim": 64, "depth": 2, "heads": 4, "dim_head": 16, "text_dim": 32, "conv_layers": 2}
VOCOS_CONFIG = """\
feature_extractor:
  class_path: vocos.feature_extractors.MelSpectrogramFeatures
  init_args:
    sample_rate: 24000
    n_fft: 1024
    hop_length: 256
    n_mels: 100
    padding: center
backbone:
  class_path: vocos.models.VocosBackbone
  init_args:
    input_channels: 100
    dim: 64
    intermediate_dim: 128
    num_layers: 2
head:
  class_path: vocos.heads.ISTFTHead
  init_args:
    dim: 64
    n_fft: 1024
    hop_length: 256
    padding: same
"""

SPEC = RandomWeightSpec(
    distributions=("f5-tts", "vocos", "x-transformers", "torchdiffeq", "pydub", "pypinyin", "rjieba", "torch",
                   "torchaudio"),
    built=("F5TTS_v1_Base's config with a 2-layer DiT of width 64 (text_dim 32, 2 ConvNeXt text layers), saved as "
           "upstream's EMA safetensors with the real vocab.txt; a 2-layer Vocos of width 64 in "
           "charactr/vocos-mel-24khz's config layout"),
    batch_tolerance=None,
    expected_samples=None,
    seeded=True,
    failure_probes=(
        FailureProbe("an empty prompt transcript (F5-TTS conditions on it)", prompt_text=" ",
                     reason="empty prompt transcript"),
        FailureProbe("an empty target text", target_text="", reason="empty target text"),
    ),
    notes=("batch size 1: infer_process takes one reference; upstream's batch over references (CFM.sample with lens) "
           "leaves attention unmasked in the v1 config, so a batched item is not the item alone",
           "clip length not predicted here: it follows the prompt after pydub's silence trimming (frames x 256 "
           "samples; checked by hand against infer_process's duration formula)"),
)


def write_checkpoint(folder: Path, config) -> None:
    """A random F5-TTS of `config` saved as the released checkpoint: EMA weights under `ema_model.`, and vocab."""
    import shutil
    from importlib.resources import files

    import torch
    from f5_tts.model import CFM
    from f5_tts.model.utils import get_tokenizer
    from hydra.utils import get_class
    from safetensors.torch import save_file

    (folder / real.MODEL_NAME).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(str(files("f5_tts").joinpath("infer/examples/vocab.txt")), folder / real.VOCAB)
    vocab_char_map, vocab_size = get_tokenizer(str(folder / real.VOCAB), "custom")
    mel = config.model.mel_spec
    torch.manual_seed(0)
    backbone = get_class(f"f5_tts.model.{config.model.backbone}")
    model = CFM(transformer=backbone(**config.model.arch, text_num_embeds=vocab_size, mel_dim=mel.n_mel_channels),
                mel_spec_kwargs=dict(n_fft=mel.n_fft, hop_length=mel.hop_length, win_length=mel.win_length,
                                     n_mel_channels=mel.n_mel_channels, target_sample_rate=mel.target_sample_rate,
                                     mel_spec_type=mel.mel_spec_type),
                vocab_char_map=vocab_char_map)
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.any():  # DiT.initialize_weights zeroes AdaLN and the output projection
                parameter.normal_(0.0, 0.05)
    state = {f"ema_model.{name}": tensor.contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(folder / real.CHECKPOINT))


def write_vocoder(folder: Path) -> None:
    """A random Vocos in charactr/vocos-mel-24khz's file layout (config.yaml, pytorch_model.bin)."""
    import torch
    from vocos import Vocos

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(VOCOS_CONFIG, encoding="utf-8")
    torch.manual_seed(1)
    torch.save(Vocos.from_hparams(str(folder / "config.yaml")).state_dict(), folder / "pytorch_model.bin")


class Adapter(real.Adapter):
    def model_config(self):
        from omegaconf import OmegaConf

        config = super().model_config()
        config.model.arch = OmegaConf.merge(config.model.arch, SMALL_ARCH)
        return config

    def load(self, device: str) -> None:
        self._scratch = tempfile.TemporaryDirectory(prefix="rvcbench-f5_tts-random-")  # removed at exit
        root = Path(self._scratch.name)
        write_checkpoint(root / "f5", self.model_config())
        write_vocoder(root / "vocos")
        self.weights, self.vocoder_weights = str(root / "f5"), str(root / "vocos")
        super().load(device)
