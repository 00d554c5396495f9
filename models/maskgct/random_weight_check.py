"""Random-weight check of MaskGCT: the adapter's real `load` and `clone` on a small random MaskGCT (no checkpoint).

`Adapter.load` here writes a small MaskGCT in upstream's own formats and then runs the real adapter's `load` on it,
so upstream's loading code runs too:

1. A working copy of the Amphion clone (the one `support.upstream_checkout` finds) in a temporary folder, whose
   `models/tts/maskgct/config/maskgct.json` is upstream's config made small (T2S and S2A: 2 Llama layers of width
   64; semantic codec and acoustic-codec Vocos: 2 layers of width 64; codebooks of 1024 semantic and 256 acoustic
   entries; w2v-BERT features of 64 dims instead of 1024, so the copy's `ckpt/wav2vec2bert_stats.pt` is replaced by
   random statistics of that width in upstream's format). What the pipeline's arithmetic fixes stays as upstream
   has it: 12 acoustic codebooks (the S2A step list and `vq2emb(n_quantizers=12)`), the codec's hop of 480 samples
   at 24 kHz (encoder strides 3*4*5*8, Vocos n_fft 1920, 50 Hz like w2v-BERT's frames).
   Where the clone lacks the two large files of upstream's Chinese G2P that its import opens
   (`g2p/sources/chinese_lexicon.txt`, `g2p_chinese_model/poly_bert_model.onnx`; the snapshot this was built from
   lacks files of 4 MiB and more), the copy gets stand-ins (a one-entry lexicon, an ONNX graph that is never run):
   Chinese text is not checked, English text runs upstream's real phonemizer/espeak G2P.
2. Random weights for the six parts, each built by upstream's `build_*` function from that config and written with
   `safetensors.torch.save_file` (its state dict) at the paths of amphion/MaskGCT; the real `load` reads them
   strictly (`load_checkpoint`).
3. A random `Wav2Vec2BertModel` (17 conformer layers of width 64: upstream reads hidden state 17) and
   `SeamlessM4TFeatureExtractor`'s defaults, saved with `save_pretrained` and put in a temporary rvcbench weights
   store (RVCBENCH_WEIGHTS_DIR, while `load` runs) as `facebook/w2v-bert-2.0`, the way `rvcbench env create maskgct
   --with-weights` leaves it; the real `load` opens it in place of upstream's Hub download.

`clone` is the real adapter's: upstream's `maskgct_inference` with its own target-length rule, 25 T2S steps and
S2A steps (25, 10, 1 x 10), CFG 2.5. MaskGCT is non-autoregressive, so nothing needs scripting: the length
follows from the prompt (w2v-BERT frames at 50 Hz) and the phone counts of the two texts. It proves the glue
(checkpoint layout, config plumbing, the local w2v-BERT, the working directory, the call and its arguments), not
output quality or the real checkpoint's config.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module

_real = adapter_module(__file__)

LAYERS = dict(hidden_size=64, num_layers=2, num_heads=4)
FEATURE_DIM = 64  # w2v-BERT width here (1024 upstream); the copy's wav2vec2bert_stats.pt is made to match
STATS = "models/tts/maskgct/ckpt/wav2vec2bert_stats.pt"
SEMANTIC_CODEBOOK = 1024
ACOUSTIC_CODEBOOK = 256
LARGE_G2P_FILES = ("models/tts/maskgct/g2p/sources/chinese_lexicon.txt",
                   "models/tts/maskgct/g2p/sources/g2p_chinese_model/poly_bert_model.onnx")

SPEC = RandomWeightSpec(
    distributions=("transformers", "torch", "torchaudio", "safetensors", "librosa", "phonemizer", "LangSegment",
                   "onnxruntime"),
    built=("upstream's maskgct.json made small: T2S and S2A (1 and 12 codebooks) with 2 Llama layers of width 64, "
           "semantic codec and acoustic Vocos of width 64, a 17-layer w2v-BERT of width 64; random weights in "
           "amphion/MaskGCT's safetensors layout, loaded by the real load()"),
    batch_tolerance=None,
    expected_samples=None,
    seeded=True,
    failure_probes=(
        FailureProbe("an empty prompt transcript", prompt_text="", reason="empty prompt transcript"),
        FailureProbe("an empty target text", target_text=" ", reason="empty target text"),
    ),
    notes=("batch size 1: maskgct_inference takes one prompt and one text",
           "the length follows upstream's rule from the G2P phone counts, so no length is predicted here; each "
           "clip was 480 samples per S2A frame, and S2A makes the T2S frames or one fewer (its target is the "
           "semantic length minus the acoustic prompt's frames, which can be one more than the semantic prompt's)",
           "Chinese G2P not run: the snapshot lacked its lexicon and polyphone ONNX model, given stand-ins"),
)


def small_config(config: dict) -> dict:
    """Upstream's maskgct.json with the sizes made small and the shapes the pipeline fixes kept."""
    model = json.loads(json.dumps(config))["model"]
    model["t2s_model"].update(LAYERS, cond_codebook_size=SEMANTIC_CODEBOOK)
    for part in model["s2a_model"].values():
        part.update(LAYERS, codebook_size=ACOUSTIC_CODEBOOK, cond_codebook_size=SEMANTIC_CODEBOOK)
    model["semantic_codec"].update(codebook_size=SEMANTIC_CODEBOOK, hidden_size=FEATURE_DIM, vocos_dim=64,
                                   vocos_intermediate_dim=128, vocos_num_layers=2)
    model["acoustic_codec"]["encoder"].update(d_model=8)
    model["acoustic_codec"]["decoder"].update(codebook_size=ACOUSTIC_CODEBOOK, vocos_dim=64,
                                              vocos_intermediate_dim=128, vocos_num_layers=2)
    return {"model": model}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _bytes_field(number: int, payload: bytes | str) -> bytes:
    payload = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def stand_in_onnx() -> bytes:
    """A serialized ONNX ModelProto (ir 7, opset 13) of one Identity node on int64 ids, written field by field (the
    `onnx` package is not in the stack): where upstream's Chinese polyphone model is absent; loaded, never run."""
    int64 = _bytes_field(2, _bytes_field(1, _int_field(1, 7)))  # TypeProto.tensor_type.elem_type = INT64
    node = _bytes_field(1, "input_ids") + _bytes_field(2, "logits") + _bytes_field(4, "Identity")
    inputs = _bytes_field(11, _bytes_field(1, "input_ids") + int64)
    outputs = _bytes_field(12, _bytes_field(1, "logits") + int64)
    graph = _bytes_field(1, node) + _bytes_field(2, "stand_in") + inputs + outputs
    return _int_field(1, 7) + _bytes_field(7, graph) + _bytes_field(8, _int_field(2, 13))


def stand_in_stats(path: Path) -> None:
    """w2v-BERT feature statistics of the small width, in upstream's format ({"mean", "var"} tensors): upstream's
    own file holds 1024 values each, and a 17-layer w2v-BERT of width 1024 is too slow for shared CPUs."""
    import torch

    generator = torch.Generator().manual_seed(0)
    torch.save({"mean": torch.randn(FEATURE_DIM, generator=generator) * 0.1,
                "var": torch.rand(FEATURE_DIM, generator=generator) + 0.5}, str(path))


def working_copy(root: Path, into: Path) -> Path:
    """A copy of the clone with the small config and, where the clone lacks them, the large G2P files' stand-ins."""
    copy = into / "amphion"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".git"), symlinks=True)
    config_path = copy / _real.CONFIG
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config_path.write_text(json.dumps(small_config(config), indent=2), encoding="utf-8")
    stand_in_stats(copy / STATS)
    lexicon, onnx = (copy / name for name in LARGE_G2P_FILES)
    if not lexicon.exists():
        lexicon.write_text("中\tzhong1\n", encoding="utf-8")
    if not onnx.exists():
        onnx.write_bytes(stand_in_onnx())
    return copy


def write_random_parts(clone: Path, weights: Path) -> None:
    """The six MaskGCT parts from upstream's builders on the clone's config, random, in amphion/MaskGCT's layout."""
    import contextlib

    import torch
    from safetensors.torch import save_file

    with contextlib.chdir(clone):
        from models.tts.maskgct import maskgct_utils as utils

        parts = _real.build_parts(utils, utils.load_config(_real.CONFIG).model, torch.device("cpu"))
    for part, module in parts.items():
        path = weights / _real.CHECKPOINTS[part]
        path.parent.mkdir(parents=True, exist_ok=True)
        # save_file on cloned tensors: save_model refuses the Vocos ISTFT window, a view of shared storage
        save_file({name: tensor.detach().clone().contiguous() for name, tensor in module.state_dict().items()},
                  str(path))


def write_random_w2v_bert(folder: Path) -> None:
    """A random w2v-BERT 2.0 of the small width and the depth upstream reads (hidden state 17), with its features."""
    import torch
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    config = Wav2Vec2BertConfig(hidden_size=FEATURE_DIM, num_hidden_layers=17, num_attention_heads=4,
                                intermediate_size=128, output_hidden_size=FEATURE_DIM, conv_depthwise_kernel_size=3,
                                feature_projection_input_dim=160, left_max_position_embeddings=64,
                                right_max_position_embeddings=8)
    torch.manual_seed(0)
    Wav2Vec2BertModel(config).eval().save_pretrained(str(folder), safe_serialization=True)
    SeamlessM4TFeatureExtractor().save_pretrained(str(folder))


class Adapter(_real.Adapter):
    """The real adapter, loading a small random MaskGCT written in upstream's formats (see the module docstring)."""

    def load(self, device: str) -> None:
        import torch

        from rvcbench import weights_store
        from rvcbench.adapters import support

        root = support.upstream_checkout(self.checkout, self.name)
        self._scratch = tempfile.TemporaryDirectory(prefix="rvcbench-maskgct-random-")
        scratch = Path(self._scratch.name)
        clone = working_copy(root, scratch)
        saved = {name: os.environ.get(name) for name in (weights_store.WEIGHTS_DIR_VARIABLE, _real.ROOT_ENV)}
        os.environ[weights_store.WEIGHTS_DIR_VARIABLE] = str(scratch / "store")
        os.environ[_real.ROOT_ENV] = str(clone)
        try:
            support.upstream_checkout(self.checkout, self.name)  # the copy first on sys.path
            torch.manual_seed(0)
            weights = scratch / "amphion--MaskGCT"
            write_random_parts(clone, weights)
            source = scratch / "hub"
            write_random_w2v_bert(source / _real.SEMANTIC_MODEL_ID)
            weights_store.download(_real.SEMANTIC_MODEL_ID, source=source, echo=lambda line: None)
            shutil.rmtree(source)
            self.weights = str(weights)
            super().load(device)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
