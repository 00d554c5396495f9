"""Random-weight check of the IndexTTS2 code path the adapter uses (no weights, no network).

`Adapter.load` writes a complete random checkpoint in upstream's own formats into a temporary folder and then runs
the real `load`, so `support.resolve_weights`, the checkout, `IndexTTS2.__init__` and every upstream loader run as
they do with the released weights:

- `IndexTeam/IndexTTS-2` as a folder: `config.yaml` in the layout of the released one (values made small),
  `gpt.pth` (a `UnifiedVoice` state dict), `s2mel.pth` (`{"net": {module: state dict}}` of `MyModel`, as
  `load_checkpoint2` reads), `bpe.model` (a SentencePiece BPE trained here on a few sentences),
  `wav2vec2bert_stats.pt` (`{"mean", "var"}`), `feat1.pt` / `feat2.pt` (speaker and emotion matrices);
- the four auxiliary models as snapshots in a temporary Hugging Face cache (`refs/main` + `snapshots/<commit>`,
  found by the adapter through `snapshot_download(local_files_only=True)`): a `Wav2Vec2BertModel` saved with
  `save_pretrained` beside a default `SeamlessM4TFeatureExtractor` (facebook/w2v-bert-2.0), the `RepCodec` semantic
  codec saved with `safetensors.torch.save_model` (amphion/MaskGCT `semantic_codec/model.safetensors`), a `CAMPPlus`
  state dict (funasr/campplus `campplus_cn_common.bin`) and a `BigVGAN` with its `config.json` and
  `{"generator": state dict}` (nvidia/bigvgan_v2_22khz_80band_256x).

Sizes upstream fixes are kept: w2v-BERT's width 1024 and at least 17 layers (`get_emb` reads `hidden_states[17]`),
the GPT width 1280 (`MyModel`'s `gpt_layer` is `Linear(1280, 256)`), CAMPPlus' 80-band fbank in and 192-d style out,
80 mel bands at 22.05 kHz with hop 256. Everything else is small: a 1-layer GPT with 64 semantic codes, a 1-layer
semantic codec of width 32, a 2-block DiT and 2-layer WaveNet of width 64, a BigVGAN with 128 initial channels.

A random GPT picks its codes at random and may never stop, so a logits processor (added to the ones upstream's
`generate` builds, on the instance) scripts them: `CODES` semantic codes drawn with torch's seeded generator, then
the stop token; for a text of at least `RUNAWAY_TEXT_TOKENS` BPE tokens it never stops, so upstream runs to its
`max_mel_tokens` (1500) and warns, which the adapter must turn into a failure. The scores it leaves are finite
(-50), since upstream samples beams with `torch.multinomial` after top-k/top-p. Everything else is upstream's
code: the text normalizer and segmenter, w2v-BERT features and their statistics, semantic quantization, CAMPPlus
style, the conformer/perceiver conditioning, beam sampling, the GPT latent pass, the length regulator, 25 flow-
matching steps with CFG and the BigVGAN vocoder.

It proves the call shapes, argument names, the 22.05 kHz output arithmetic (int(codes x 1.72) mel frames x 256
samples), seeding and failure handling of the upstream code path; not output quality, the real config's values,
fp16 or CUDA kernels.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from rvcbench.adapters.random_weights import FailureProbe, RandomWeightSpec, adapter_module, append_logits_processor

real = adapter_module(__file__)

CODES = 20  # scripted semantic codes per segment
HOP = 256  # BigVGAN samples per mel frame (upsample rates 4*4*2*2*2*2)
MEL_PER_CODE = 1.72  # infer_generator: target_lengths = (code_lens * 1.72).long()
RUNAWAY_TEXT_TOKENS = 85  # a segment of this many BPE tokens never gets its stop token
CODEBOOK = 64  # semantic codes; start and stop mel tokens are 64 and 65
COND_LATENTS = 32 + 2  # UnifiedVoice's perceiver latents + the two speed embeddings, before the text
RUNAWAY_TEXT = ("qzx vvk jjw pqf xkcd zzv wqx fjq vkz qpw xjv zqk wvf jxq kzp vqj fxw qzj kvx wjq zxf pvq jkw "
                "xqv fzk wjx zqv kjx wfq")
CORPUS = (
    "The rainbow is a division of white light into many beautiful colors.",
    "These take the shape of a long round arch, with its path high above.",
    "Some have accepted it as a miracle without physical explanation.",
    "Aristotle thought that the rainbow was caused by reflection of the sun's rays by the rain.",
    "Please call Stella. Ask her to bring these things with her from the store.",
    "Hello there, this is a short sentence for a test of the voice.",
    "The quick brown fox jumps over the lazy dog; six wizards quickly jinxed the gnome.",
    "When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow.",
    "今天天气很好，我们一起去公园散步吧。欢迎大家来体验语音合成。",
)


def samples_for(_request) -> int:
    """One text segment of CODES codes: int(CODES x 1.72) mel frames, HOP samples each."""
    return int(CODES * MEL_PER_CODE) * HOP


SPEC = RandomWeightSpec(
    distributions=("torch", "transformers", "WeTextProcessing", "sentencepiece", "librosa"),
    built=("IndexTTS2 from upstream's config layout made small: 1-layer GPT-2 of width 1280 over 64 semantic codes, "
           "17-layer w2v-BERT of width 1024 (FFN 64), 1-layer RepCodec, 2-block DiT + 2-layer WaveNet of width 64, "
           "full CAMPPlus, BigVGAN with 128 channels (hop 256), a BPE of 256 pieces; all saved in upstream's formats"),
    batch_tolerance=None,
    expected_samples=samples_for,
    seeded=True,
    failure_probes=(
        FailureProbe(what="a text whose scripted codes never reach the stop token (upstream's max_mel_tokens, 1500)",
                     target_text=RUNAWAY_TEXT, reason="runaway"),
    ),
    notes=("batch_size is 1 (IndexTTS2.infer takes one text and one prompt), so there is no batch to compare",
           "the GPT's codes are scripted (20 per segment, then the stop token; no stop token for a segment of 85+ "
           "BPE tokens, the runaway probe): a random GPT never stops",
           "config.yaml follows the layout of the released IndexTeam/IndexTTS-2 config (read from a public copy; "
           "the Hub is not reachable here), values made small"),
)


def _config(vocab: int) -> dict:
    return {
        "dataset": {"bpe_model": "bpe.model", "sample_rate": 24000, "squeeze": False,
                    "mel": {"sample_rate": 24000, "n_fft": 1024, "hop_length": 256, "win_length": 1024,
                            "n_mels": 100, "mel_fmin": 0, "normalize": False}},
        "gpt": {"model_dim": 1280, "max_mel_tokens": 1600, "max_text_tokens": 200, "heads": 4,
                "use_mel_codes_as_input": True, "mel_length_compression": 1024, "layers": 1,
                "number_text_tokens": vocab, "number_mel_codes": CODEBOOK + 2, "start_mel_token": CODEBOOK,
                "stop_mel_token": CODEBOOK + 1, "start_text_token": 0, "stop_text_token": 1,
                "train_solo_embeddings": False, "condition_type": "conformer_perceiver",
                "condition_module": {"output_size": 64, "linear_units": 64, "attention_heads": 4, "num_blocks": 1,
                                     "input_layer": "conv2d2", "perceiver_mult": 1},
                "emo_condition_module": {"output_size": 64, "linear_units": 64, "attention_heads": 4,
                                         "num_blocks": 1, "input_layer": "conv2d2", "perceiver_mult": 1}},
        "semantic_codec": {"codebook_size": CODEBOOK, "hidden_size": 1024, "codebook_dim": 8, "vocos_dim": 32,
                           "vocos_intermediate_dim": 64, "vocos_num_layers": 1},
        "s2mel": {
            "preprocess_params": {"sr": 22050, "spect_params": {"n_fft": 1024, "win_length": 1024, "hop_length": HOP,
                                                                "n_mels": 80, "fmin": 0, "fmax": "None"}},
            "dit_type": "DiT", "reg_loss_type": "l1", "style_encoder": {"dim": 192},
            "length_regulator": {"channels": 64, "is_discrete": False, "in_channels": 1024,
                                 "content_codebook_size": 2048, "sampling_ratios": [1, 1, 1, 1],
                                 "vector_quantize": False, "n_codebooks": 1, "quantizer_dropout": 0.0,
                                 "f0_condition": False, "n_f0_bins": 512},
            "DiT": {"hidden_dim": 64, "num_heads": 4, "depth": 2, "class_dropout_prob": 0.1, "block_size": 8192,
                    "in_channels": 80, "style_condition": True, "final_layer_type": "wavenet", "target": "mel",
                    "content_dim": 64, "content_codebook_size": 1024, "content_type": "discrete",
                    "f0_condition": False, "n_f0_bins": 512, "content_codebooks": 1, "is_causal": False,
                    "long_skip_connection": True, "zero_prompt_speech_token": False, "time_as_token": False,
                    "style_as_token": False, "uvit_skip_connection": True, "add_resblock_in_transformer": False},
            "wavenet": {"hidden_dim": 64, "num_layers": 2, "kernel_size": 5, "dilation_rate": 1, "p_dropout": 0.2,
                        "style_condition": True},
        },
        "gpt_checkpoint": "gpt.pth", "w2v_stat": "wav2vec2bert_stats.pt", "s2mel_checkpoint": "s2mel.pth",
        "emo_matrix": "feat2.pt", "spk_matrix": "feat1.pt", "emo_num": [1, 1, 1, 1, 1, 1, 1, 1],
        "qwen_emo_path": "qwen0.6bemo4-merge/",
        "vocoder": {"type": "bigvgan", "name": "nvidia/bigvgan_v2_22khz_80band_256x"}, "version": 2.0,
    }


BIGVGAN = {"resblock": "1", "upsample_rates": [4, 4, 2, 2, 2, 2], "upsample_kernel_sizes": [8, 8, 4, 4, 4, 4],
           "upsample_initial_channel": 128, "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1, 3, 5]],
           "use_tanh_at_final": False, "use_bias_at_final": False, "activation": "snakebeta", "snake_logscale": True,
           "num_mels": 80, "n_fft": 1024, "hop_size": HOP, "win_size": 1024, "sampling_rate": 22050, "fmin": 0,
           "fmax": None}


def _snapshot(hub: Path, repo_id: str) -> Path:
    repo = hub / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    folder = repo / "snapshots" / commit
    folder.mkdir(parents=True)
    return folder


def build_checkpoint(root: Path) -> tuple[Path, Path]:
    """Write the random checkpoint folder and Hugging Face cache under `root`; return (model_dir, hub)."""
    import safetensors.torch
    import sentencepiece
    import torch
    import yaml
    from indextts.codec.maskgct_codec import build_semantic_codec
    from indextts.gpt.model_v2 import UnifiedVoice
    from indextts.s2mel.modules.bigvgan.bigvgan import BigVGAN
    from indextts.s2mel.modules.bigvgan.env import AttrDict
    from indextts.s2mel.modules.campplus.DTDNN import CAMPPlus
    from indextts.s2mel.modules.commons import MyModel
    from omegaconf import OmegaConf
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    torch.manual_seed(0)
    model_dir, hub = root / "IndexTTS-2", root / "hub"
    model_dir.mkdir()
    corpus = [line.upper() for line in CORPUS]  # upstream upper-cases the text before BPE (tokenize_by_CJK_char)
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_prefix=str(model_dir / "bpe"),
                                             vocab_size=256, model_type="bpe", character_coverage=1.0,
                                             minloglevel=2)
    config = _config(vocab=256)
    (model_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    cfg = OmegaConf.create(config)

    torch.save(UnifiedVoice(**cfg.gpt).state_dict(), model_dir / "gpt.pth")
    s2mel = MyModel(cfg.s2mel, use_gpt_latent=True)
    torch.save({"net": {key: module.state_dict() for key, module in s2mel.models.items()}}, model_dir / "s2mel.pth")
    torch.save({"mean": torch.zeros(1024), "var": torch.ones(1024)}, model_dir / "wav2vec2bert_stats.pt")
    torch.save(torch.randn(8, 192), model_dir / "feat1.pt")
    torch.save(torch.randn(8, 1280), model_dir / "feat2.pt")

    w2v = _snapshot(hub, "facebook/w2v-bert-2.0")
    w2v_config = Wav2Vec2BertConfig(hidden_size=1024, num_hidden_layers=17, num_attention_heads=16,
                                    intermediate_size=64, add_adapter=False)
    Wav2Vec2BertModel(w2v_config).half().save_pretrained(w2v)  # half on disk; from_pretrained loads it in fp32
    SeamlessM4TFeatureExtractor().save_pretrained(w2v)

    codec = _snapshot(hub, "amphion/MaskGCT") / "semantic_codec"
    codec.mkdir()
    safetensors.torch.save_model(build_semantic_codec(cfg.semantic_codec), str(codec / "model.safetensors"))
    torch.save(CAMPPlus(feat_dim=80, embedding_size=192).state_dict(),
               _snapshot(hub, "funasr/campplus") / "campplus_cn_common.bin")
    vocoder = _snapshot(hub, "nvidia/bigvgan_v2_22khz_80band_256x")
    (vocoder / "config.json").write_text(json.dumps(BIGVGAN), encoding="utf-8")
    torch.save({"generator": BigVGAN(AttrDict(BIGVGAN)).state_dict()}, vocoder / "bigvgan_generator.pt")
    return model_dir, hub


def script_codes(gpt) -> None:
    """Script the codes `gpt.inference_model.generate` picks (see the module docstring)."""
    import torch
    from transformers import LogitsProcessor

    stop = gpt.stop_mel_token

    class Scripted(LogitsProcessor):
        def __init__(self):
            self.start = None
            self.codes = None

        def __call__(self, input_ids, scores):
            if self.start is None:
                self.start = input_ids.shape[1]
                text_tokens = self.start - COND_LATENTS - 3  # [cond][start text][text][stop text][start mel]
                steps = None if text_tokens >= RUNAWAY_TEXT_TOKENS else CODES
                self.codes = (None if steps is None
                              else torch.randint(0, CODEBOOK, (steps,)).tolist() + [stop])
            step = input_ids.shape[1] - self.start
            token = (int(torch.randint(0, CODEBOOK, ())) if self.codes is None
                     else self.codes[min(step, len(self.codes) - 1)])
            forced = torch.full_like(scores, -50.0)
            forced[:, token] = 0.0
            return forced

    append_logits_processor(gpt.inference_model, Scripted)


class Adapter(real.Adapter):
    """The real adapter, loading a random checkpoint written in upstream's formats (see the module docstring)."""

    def load(self, device: str) -> None:
        import huggingface_hub.constants

        os.environ.setdefault("TQDM_DISABLE", "1")  # the flow-matching steps' progress bar
        real.support.upstream_checkout(self.checkout, self.name)  # build_checkpoint imports upstream's classes
        self._random_checkpoint = tempfile.TemporaryDirectory(prefix="indextts-random-")  # removed at exit
        model_dir, hub = build_checkpoint(Path(self._random_checkpoint.name))
        huggingface_hub.constants.HF_HUB_CACHE = str(hub)  # the adapter resolves the auxiliary models here
        self.weights = str(model_dir)
        super().load(device)
        script_codes(self._model.gpt)
