"""ZipVoice (k2-fsa): zero-shot TTS by flow matching with Zipformer text encoder and decoder, run from a checkout.

Upstream (k2-fsa/ZipVoice) is not an installable package (`zipvoice` on PyPI is an empty placeholder), so
`zipvoice` imports from the clone named by ZIPVOICE_ROOT. The model is built as `zipvoice/bin/infer_zipvoice.py`
builds it (EmiliaTokenizer, `ZipVoice(**model.json, vocab_size, pad_id)`, `load_checkpoint`, Vocos
`charactr/vocos-mel-24khz` from a local folder), and each request is prepared as its `generate_sentence` prepares
one (prompt silences removed, RMS normalised, Vocos fbank x 0.1, punctuation added, phonemes, chunks of about
25 s); then the chunks of every request of the batch go to one `ZipVoice.sample` call, which takes per-item
token lists and prompt lengths. Two things make a clip independent of its batch-mates: each item's initial noise
comes from its own seed, and prompt + generated frames are rounded up to whole downsampling groups (see
`frames_to_generate`). The prompt transcript is required: the model aligns prompt text and audio.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, NamedTuple

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, UpstreamCheckout, VoiceCloner

KEY = "zipvoice"
REPO_ID = "k2-fsa/ZipVoice"
MODEL_FOLDER = "zipvoice"  # infer_zipvoice.py: MODEL_DIR["zipvoice"], the folder of the default model in REPO_ID
MODEL_FILES = ("model.pt", "model.json", "tokens.txt")  # what infer_zipvoice.py checks in --model-dir
VOCODER_ID = "charactr/vocos-mel-24khz"  # infer_zipvoice.get_vocoder's Hub default
VOCODER_FILES = ("config.yaml", "pytorch_model.bin")  # what get_vocoder(vocos_local_path) reads
UPSTREAM = "https://github.com/k2-fsa/ZipVoice.git"
COMMIT = "2f7326fbfe999a3ad179e3f1af82a424d4a62819"
ROOT_ENV = "ZIPVOICE_ROOT"
MARKER = "zipvoice/bin/infer_zipvoice.py"  # the script this adapter follows
SAMPLE_RATE = 24000  # model.json "feature": {"sampling_rate": 24000}; load() checks it
# infer_zipvoice.py defaults for --model-name zipvoice: num_step 16, guidance_scale 1.0, speed 1.0, t_shift 0.5
SAMPLING = {"num_step": 16, "guidance_scale": 1.0, "speed": 1.0, "t_shift": 0.5}
FEAT_SCALE = 0.1  # --feat-scale
TARGET_RMS = 0.1  # --target-rms
CHUNK_SECONDS = 25  # generate_sentence: chunks so that prompt + chunk is about 25 s
PROMPT_TRAIL_SILENCE_MS = 200  # generate_sentence: trailing silence added to the prompt
CROSS_FADE_SECONDS = 0.1  # generate_sentence: cross_fade_concat(fade_duration=0.1)
NOISE_BLOCK = 64  # frames of initial noise drawn at a time, so an item's noise does not depend on the batch


class Prepared(NamedTuple):
    """One request made ready for `ZipVoice.sample`: its prompt features and its chunks of target tokens."""

    prompt_features: object  # torch tensor (frames, feat_dim), already scaled by FEAT_SCALE
    prompt_rms: float
    prompt_tokens: list[int]
    chunks: list[list[int]]
    seed: int


def prompt_for_model(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The prompt as float32 mono at the 24 kHz of the Vocos fbank (upstream's load_prompt_wav resamples too)."""
    return support.prompt_at(audio, sample_rate, SAMPLE_RATE)


def max_chunk_tokens(prompt_seconds: float, prompt_token_count: int, speed: float = SAMPLING["speed"]) -> int:
    """generate_sentence's chunk size: tokens that fit in 25 s beside the prompt, at the prompt's speaking rate."""
    token_seconds = prompt_seconds / (prompt_token_count * speed)
    return int((CHUNK_SECONDS - prompt_seconds) / token_seconds)


def frames_to_generate(torch, prompt_frames, prompt_token_counts, token_counts, multiple: int):
    """Frames to generate per item: upstream's ratio duration (`forward_text_inference_ratio_duration`: the
    prompt's frames per token times the target's tokens, over the speed), with prompt + generated frames rounded
    up to a multiple of the decoder's largest downsampling factor (at most 3 frames, 32 ms, more).

    Zipformer's SimpleDownsample pads an item's last group of frames by repeating its last frame when the item is
    alone, but with a batch-mate's padding frames when it is shorter than the batch, so an item whose length is
    not a multiple of the factor would sound different in a batch; rounded up, every group is whole."""
    total = prompt_frames + torch.ceil(prompt_frames / prompt_token_counts * token_counts
                                       / SAMPLING["speed"]).to(dtype=torch.int64)
    total = (total + multiple - 1) // multiple * multiple
    return total - prompt_frames


def noise_seed(seed: int, chunk: int) -> int:
    """The seed of a chunk's initial noise: its request's seed, and the chunk's place in the request."""
    return (seed * 1_000_003 + chunk) % 2**63


def item_noise(torch, seed: int, frames: int, feat_dim: int):
    """Gaussian noise of shape (frames, feat_dim) from its own generator, drawn in blocks of NOISE_BLOCK frames,
    so that the first n frames are the same whatever `frames` is (an item in a padded batch gets the noise it
    gets alone)."""
    generator = torch.Generator().manual_seed(seed)
    blocks = -(-frames // NOISE_BLOCK)
    drawn = [torch.randn(NOISE_BLOCK, feat_dim, generator=generator) for _ in range(blocks)]
    return torch.cat(drawn)[:frames]


def per_item_noise(torch, seeds: list[int]):
    """A torch function mode that answers `ZipVoice.sample`'s one `torch.randn(batch, frames, feat_dim)` (its x0)
    with each item's own seeded noise; upstream draws it from the global generator for the whole batch, which
    would make a clip depend on its batch-mates. `used` tells that the draw was met."""

    class PerItemNoise(torch.overrides.TorchFunctionMode):
        used = False

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is torch.randn and not self.used and len(args) == 3 and args[0] == len(seeds):
                self.used = True
                _, frames, feat_dim = args
                noise = torch.stack([item_noise(torch, seed, frames, feat_dim) for seed in seeds])
                return noise.to(device=kwargs.get("device"), dtype=kwargs.get("dtype") or noise.dtype)
            return func(*args, **kwargs)

    return PerItemNoise()


def model_folder(root: Path) -> Path:
    """The model folder inside a weights tree: `zipvoice/` of the k2-fsa/ZipVoice snapshot, else the folder itself
    (a local `--weights` folder laid out as upstream's --model-dir)."""
    return root / MODEL_FOLDER if (root / MODEL_FOLDER).is_dir() else root


class Adapter(VoiceCloner):
    name: ClassVar[str] = KEY
    description: ClassVar[str] = ("ZipVoice (k2-fsa): flow-matching zero-shot TTS, Zipformer text encoder and "
                                  "decoder over Vocos mel features, 123M parameters")
    sample_rate: ClassVar[int] = SAMPLE_RATE
    languages: ClassVar[frozenset[str]] = frozenset({"en", "zh"})
    needs_prompt_text: ClassVar[bool] = True
    batch_size: ClassVar[int] = 8  # ZipVoice.sample takes token lists and prompt lengths per item
    max_batch_seconds: ClassVar[float | None] = 60.0  # upstream's --max-duration 100 s counts prompts too
    requirements: ClassVar[str] = f"models/zipvoice/requirements.txt + a checkout of {UPSTREAM} in {ROOT_ENV}; GPU"
    version: ClassVar[str] = "1"
    weights_id: ClassVar[str] = REPO_ID
    extra_weights: ClassVar[tuple[str, ...]] = (VOCODER_ID,)
    checkout: ClassVar[UpstreamCheckout] = UpstreamCheckout(ROOT_ENV, UPSTREAM, COMMIT, MARKER)
    license: ClassVar[str] = "Apache-2.0"
    stack_modules: ClassVar[tuple[str, ...]] = ("torch", "torchaudio", "vocos", "lhotse", "piper_phonemize", "pydub",
                                                "jieba", "pypinyin", "cn2an", "inflect", "tensorboard")

    def __init__(self) -> None:
        self._model = None
        self._vocoder = None
        self._tokenizer = None
        self._fbank = None
        self._infer = None  # zipvoice.utils.infer: upstream's prompt and output helpers
        self._torch = None
        self._device = None
        self._multiple = 1  # the decoder's largest downsampling factor (model.json)

    def vocoder_folder(self) -> Path:
        """The Vocos checkpoint, from the local Hugging Face cache (upstream would download it)."""
        return support.resolve_weights(None, VOCODER_ID, KEY, required_files=VOCODER_FILES)

    def load(self, device: str) -> None:
        """Build ZipVoice and Vocos as infer_zipvoice.main does, from local folders only."""
        root = support.resolve_weights(self.weights_spec(), REPO_ID, KEY)
        model_dir = support.resolve_weights(model_folder(root), REPO_ID, KEY, required_files=MODEL_FILES)
        vocoder_dir = self.vocoder_folder()
        for module in self.stack_modules:
            support.require(module, KEY)
        torch = support.require("torch", KEY)
        support.upstream_checkout(self.checkout, KEY)
        hint = f"check the checkout in {ROOT_ENV}"
        infer_script = support.require("zipvoice.bin.infer_zipvoice", KEY, hint)
        tokenizers = support.require("zipvoice.tokenizer.tokenizer", KEY, hint)
        models = support.require("zipvoice.models.zipvoice", KEY, hint)
        checkpoint = support.require("zipvoice.utils.checkpoint", KEY, hint)
        feature = support.require("zipvoice.utils.feature", KEY, hint)
        self._infer = support.require("zipvoice.utils.infer", KEY, hint)

        import json

        config = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
        if config["feature"]["type"] != "vocos" or config["feature"]["sampling_rate"] != SAMPLE_RATE:
            raise ValueError(f"ZipVoice at {model_dir} has features {config['feature']}; this adapter reads "
                             f"Vocos features at {SAMPLE_RATE} Hz")
        self._tokenizer = tokenizers.EmiliaTokenizer(token_file=str(model_dir / "tokens.txt"))
        model = models.ZipVoice(**config["model"], vocab_size=self._tokenizer.vocab_size,
                                pad_id=self._tokenizer.pad_id)
        checkpoint.load_checkpoint(filename=model_dir / "model.pt", model=model, strict=True)
        self._device = torch.device(device)
        self._model = model.to(self._device).eval()
        self._vocoder = infer_script.get_vocoder(str(vocoder_dir)).to(self._device).eval()
        self._fbank = feature.VocosFbank()
        self._multiple = max(config["model"].get("fm_decoder_downsampling_factor", [1, 2, 4, 2, 1]))
        self._torch = torch

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._model is None:
            raise RuntimeError(f"{KEY}: clone() called before load()")
        support.seed_everything(requests[0].seed)
        with self._torch.inference_mode():
            prepared = [self._prepare(request) for request in requests]
            ready = [(index, item) for index, item in enumerate(prepared) if isinstance(item, Prepared)]
            wavs = self._synthesize([item for _, item in ready])
        results: list[np.ndarray | CloneFailure] = list(prepared)
        for (index, _), wav in zip(ready, wavs, strict=True):
            results[index] = wav
        return results

    def _prepare(self, request: CloneRequest) -> Prepared | CloneFailure:
        """generate_sentence's preparation of one prompt and text (its tokens, chunks and prompt features)."""
        refused = support.refusal(self, request)
        if refused is not None:
            return refused
        torch, infer = self._torch, self._infer
        wav = torch.from_numpy(prompt_for_model(request.prompt_audio, request.prompt_sample_rate))[None]
        wav = infer.remove_silence(wav, SAMPLE_RATE, only_edge=False, trail_sil=PROMPT_TRAIL_SILENCE_MS)
        prompt_seconds = wav.shape[-1] / SAMPLE_RATE
        if wav.shape[-1] == 0 or not bool(wav.abs().max() > 0):
            return CloneFailure("the prompt is silent")
        wav, prompt_rms = infer.rms_norm(wav, TARGET_RMS)
        features = self._fbank.extract(wav, sampling_rate=SAMPLE_RATE) * FEAT_SCALE
        text = infer.add_punctuation(request.target_text)
        prompt_text = infer.add_punctuation(request.prompt_text)
        tokens = self._tokenizer.texts_to_tokens([text])[0]
        prompt_tokens = self._tokenizer.texts_to_tokens([prompt_text])[0]
        prompt_ids = self._tokenizer.tokens_to_token_ids([prompt_tokens])[0]
        if not prompt_ids:
            return CloneFailure("the prompt transcript gives no ZipVoice tokens")
        chunks = infer.chunk_tokens_punctuation(tokens, max_tokens=max_chunk_tokens(prompt_seconds, len(prompt_tokens)))
        chunk_ids = [ids for ids in self._tokenizer.tokens_to_token_ids(chunks) if ids]
        if not chunk_ids:
            return CloneFailure("the target text gives no ZipVoice tokens")
        return Prepared(features, float(prompt_rms), prompt_ids, chunk_ids, request.seed)

    def _synthesize(self, items: list[Prepared]) -> list[np.ndarray | CloneFailure]:
        """Every chunk of every item in one ZipVoice.sample call, then Vocos per chunk, as generate_sentence."""
        if not items:
            return []
        torch, infer = self._torch, self._infer
        owners = [(i, c) for i, item in enumerate(items) for c in range(len(item.chunks))]
        prompts = [items[i].prompt_features for i, _ in owners]
        lengths = torch.tensor([p.shape[0] for p in prompts], device=self._device)
        tokens = [items[i].chunks[c] for i, c in owners]
        prompt_tokens = [items[i].prompt_tokens for i, _ in owners]
        counts = [torch.tensor([len(t) for t in ids], device=self._device) for ids in (prompt_tokens, tokens)]
        generate = frames_to_generate(torch, lengths, *counts, self._multiple)
        batch = torch.nn.utils.rnn.pad_sequence(prompts, batch_first=True).to(self._device)
        noise = per_item_noise(torch, [noise_seed(items[i].seed, c) for i, c in owners])
        with noise:
            features, features_lens, _, _ = self._model.sample(
                tokens=tokens, prompt_tokens=prompt_tokens, prompt_features=batch, prompt_features_lens=lengths,
                features_lens=generate, duration="real", **SAMPLING)
        if not noise.used:
            raise RuntimeError(f"{KEY}: ZipVoice.sample drew no initial noise of the expected shape; the "
                               "upstream code differs from the commit this adapter follows")
        features = features.permute(0, 2, 1) / FEAT_SCALE  # (B, C, T)
        pieces: list[list] = [[] for _ in items]
        for row, (i, _) in enumerate(owners):
            wav = self._vocoder.decode(features[row][None, :, : features_lens[row]]).squeeze(1).clamp(-1, 1)
            if items[i].prompt_rms < TARGET_RMS:
                wav = wav * items[i].prompt_rms / TARGET_RMS
            pieces[i].append(wav)
        results: list[np.ndarray | CloneFailure] = []
        for chunks in pieces:
            wav = infer.cross_fade_concat(chunks, fade_duration=CROSS_FADE_SECONDS, sample_rate=SAMPLE_RATE)
            wav = infer.remove_silence(wav, SAMPLE_RATE, only_edge=True, trail_sil=0)
            wave = support.as_waveform(wav, KEY) if wav.numel() else np.zeros(0, dtype=np.float32)
            results.append(wave if wave.size else CloneFailure("ZipVoice generated only silence"))
        return results
