"""StyleTTS 2 (LibriTTS checkpoint): style vector from the reference + style diffusion, English only.

Upstream (yl4579/StyleTTS2) ships its inference as a notebook (`Demo/Inference_LibriTTS.ipynb`), not as
an importable function, so this adapter repeats that notebook's `compute_style` and `inference` steps
over the checkout's own modules (STYLETTS2_ROOT), with the notebook's settings for unseen speakers.
A target whose phoneme tokens do not fit PL-BERT's positions (512: about 80-100 English words) is a
`CloneFailure`, decided from the token count before the model runs (ALBERT would raise).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, UpstreamCheckout, VoiceCloner
from rvcbench.errors import MissingDependencyError

REPO_ID = "yl4579/StyleTTS2-LibriTTS"
UPSTREAM = "https://github.com/yl4579/StyleTTS2.git"
COMMIT = "5cedc71c333f8d8b8551ca59378bdcc7af4c9529"
ROOT_ENV = "STYLETTS2_ROOT"
CONFIG, CHECKPOINT = "Models/LibriTTS/config.yml", "Models/LibriTTS/epochs_2nd_00020.pth"
SAMPLE_RATE = 24000
SETTINGS = {"alpha": 0.3, "beta": 0.7, "diffusion_steps": 5, "embedding_scale": 1.0}  # notebook, unseen speakers
TAIL_TRIM = 50  # the notebook drops the last 50 samples ("weird pulse at the end of the model")
CHECKOUT_PATHS = ("ASR_config", "ASR_path", "F0_path", "PLBERT_dir")  # config entries relative to the checkout
PLBERT_POSITIONS = 512  # Utils/PLBERT/config.yml max_position_embeddings; load() reads it from the built model


def too_long(tokens: int, positions: int) -> CloneFailure | None:
    """A failure when `tokens` phoneme tokens (the leading 0 included) exceed PL-BERT's `positions`."""
    if tokens <= positions:
        return None
    return CloneFailure(f"target text too long for StyleTTS 2: {tokens} phoneme tokens, PL-BERT takes at most "
                        f"{positions}")


def prompt_for_model(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The reference at 24 kHz, as the notebook's `librosa.load(path, sr=24000)` gives it."""
    return support.prompt_at(audio, sample_rate, SAMPLE_RATE)


def resolve_config_paths(config: dict, checkout: Path) -> dict:
    """The config with the pretrained ASR, F0 and PL-BERT paths made absolute under the checkout."""
    return {**config, **{key: str(Path(checkout) / config[key]) for key in CHECKOUT_PATHS if key in config}}


def strip_module_prefix(state: dict) -> dict:
    """A state dict saved from DataParallel (`module.` prefixes) as the bare module expects it."""
    return {(key[len("module."):] if key.startswith("module.") else key): value for key, value in state.items()}


class Adapter(VoiceCloner):
    name: ClassVar[str] = "styletts2"
    description: ClassVar[str] = "StyleTTS 2 (LibriTTS): reference style encoders + style diffusion, HiFi-GAN decoder"
    sample_rate: ClassVar[int] = SAMPLE_RATE
    languages: ClassVar[frozenset[str]] = frozenset({"en"})
    needs_prompt_text: ClassVar[bool] = False
    batch_size: ClassVar[int] = 1  # the notebook's inference is per utterance
    requirements: ClassVar[str] = (f"models/styletts2/requirements.txt + espeak-ng + a checkout of {UPSTREAM} "
                                   f"in {ROOT_ENV}; GPU recommended")
    version: ClassVar[str] = "1"
    weights_id: ClassVar[str] = REPO_ID
    checkout: ClassVar[UpstreamCheckout] = UpstreamCheckout(ROOT_ENV, UPSTREAM, COMMIT, "Modules/diffusion/sampler.py")
    license: ClassVar[str] = "StyleTTS2 pre-trained model terms (disclose synthetic speech); code MIT"
    stack_modules: ClassVar[tuple[str, ...]] = ("torch", "torchaudio", "librosa", "yaml", "munch", "phonemizer",
                                                "nltk", "transformers", "einops", "monotonic_align")

    def __init__(self) -> None:
        self._net = None
        self._positions = PLBERT_POSITIONS

    def load(self, device: str) -> None:
        """Build the model from the checkpoint's config and the checkout's pretrained ASR/F0/PL-BERT."""
        weights = support.resolve_weights(self.weights_spec(), REPO_ID, self.name, required_files=(CONFIG, CHECKPOINT))
        for module in self.stack_modules:
            support.require(module, self.name)
        import yaml

        torch = support.require("torch", self.name)
        root = support.upstream_checkout(self.checkout, self.name)
        hint = f"check the checkout in {ROOT_ENV}"
        models, utils = support.require("models", self.name, hint), support.require("utils", self.name, hint)
        sampling = support.require("Modules.diffusion.sampler", self.name, hint)
        config = resolve_config_paths(yaml.safe_load((weights / CONFIG).read_text()), root)
        self._params = utils.recursive_munch(config["model_params"])
        plbert = support.require("Utils.PLBERT.util", self.name, hint).load_plbert(config["PLBERT_dir"])
        net = models.build_model(self._params, models.load_ASR_models(config["ASR_path"], config["ASR_config"]),
                                 models.load_F0_models(config["F0_path"]), plbert)
        state = torch.load(weights / CHECKPOINT, map_location="cpu")["net"]
        for key in net:
            if key in state:
                try:
                    net[key].load_state_dict(state[key])
                except RuntimeError:  # the notebook's fallback: DataParallel names, non-strict
                    net[key].load_state_dict(strip_module_prefix(state[key]), strict=False)
            net[key].eval().to(device)
        self._net, self._device = net, device
        self._sampler = sampling.DiffusionSampler(
            net.diffusion.diffusion, sampler=sampling.ADPM2Sampler(),
            sigma_schedule=sampling.KarrasSchedule(sigma_min=0.0001, sigma_max=3.0, rho=9.0), clamp=False)
        self._positions = int(net.bert.config.max_position_embeddings)
        try:
            self._phonemizer = support.require("phonemizer.backend", self.name).EspeakBackend(
                language="en-us", preserve_punctuation=True, with_stress=True)
        except RuntimeError as exc:  # phonemizer: "espeak not installed on your system"
            raise MissingDependencyError(f"model {self.name!r} needs espeak-ng for its phonemes ({exc}): "
                                         "`apt-get install espeak-ng`") from exc
        try:
            support.require("nltk", self.name).tokenize.word_tokenize("ready.")
        except LookupError as exc:  # the notebook's word_tokenize needs NLTK's punkt sentence model
            raise MissingDependencyError(f"model {self.name!r} needs NLTK's punkt tokenizer data: run "
                                         "`python -m nltk.downloader punkt punkt_tab` in its environment "
                                         f"({str(exc).strip().splitlines()[0]})") from exc
        self._cleaner = support.require("text_utils", self.name, hint).TextCleaner()
        self._to_mel = support.require("torchaudio", self.name).transforms.MelSpectrogram(
            n_mels=80, n_fft=2048, win_length=1200, hop_length=300)

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._net is None:
            raise RuntimeError("styletts2: clone called before load()")
        return support.clone_valid(self, requests, lambda valid: [self._clone_one(r) for r in valid])

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        tokens = self._tokens(request.target_text.strip())
        failure = too_long(len(tokens), self._positions)
        if failure is not None:
            return failure
        support.seed_everything(request.seed)
        wave = self._synthesize(tokens, self._style(request))
        return wave[:-TAIL_TRIM] if wave.size > TAIL_TRIM else CloneFailure("StyleTTS 2 generated no audio")

    def _tokens(self, text: str) -> list[int]:
        """The notebook's text steps: espeak phonemes, NLTK word tokens joined by spaces, symbol ids after a 0."""
        nltk = support.require("nltk", self.name)
        phonemes = " ".join(nltk.tokenize.word_tokenize(self._phonemizer.phonemize([text])[0]))
        return [0, *self._cleaner(phonemes)]

    def _style(self, request: CloneRequest):
        """The notebook's `compute_style`: trimmed 24 kHz reference -> [acoustic style, prosodic style]."""
        torch, librosa = support.require("torch", self.name), support.require("librosa", self.name)
        audio, _ = librosa.effects.trim(prompt_for_model(request.prompt_audio, request.prompt_sample_rate), top_db=30)
        mel = (torch.log(1e-5 + self._to_mel(torch.from_numpy(audio).float()).unsqueeze(0)) + 4) / 4
        mel = mel.to(self._device).unsqueeze(1)
        with torch.no_grad():
            return torch.cat([self._net.style_encoder(mel), self._net.predictor_encoder(mel)], dim=1)

    def _synthesize(self, token_ids: list[int], ref_s) -> np.ndarray:
        """The notebook's `inference`: phoneme tokens -> diffused style mixed with the reference -> waveform."""
        torch = support.require("torch", self.name)
        net, device, alpha, beta = self._net, self._device, SETTINGS["alpha"], SETTINGS["beta"]
        tokens = torch.LongTensor(token_ids).to(device).unsqueeze(0)
        with torch.no_grad():
            lengths = torch.LongTensor([tokens.shape[-1]]).to(device)
            mask = torch.gt(torch.arange(lengths.max()).unsqueeze(0).expand(1, -1).type_as(lengths) + 1,
                            lengths.unsqueeze(1)).to(device)
            t_en = net.text_encoder(tokens, lengths, mask)
            bert_dur = net.bert(tokens, attention_mask=(~mask).int())
            d_en = net.bert_encoder(bert_dur).transpose(-1, -2)
            s_pred = self._sampler(noise=torch.randn((1, 256)).unsqueeze(1).to(device), embedding=bert_dur,
                                   embedding_scale=SETTINGS["embedding_scale"], features=ref_s,
                                   num_steps=SETTINGS["diffusion_steps"]).squeeze(1)
            ref = alpha * s_pred[:, :128] + (1 - alpha) * ref_s[:, :128]
            s = beta * s_pred[:, 128:] + (1 - beta) * ref_s[:, 128:]
            d = net.predictor.text_encoder(d_en, s, lengths, mask)
            x, _ = net.predictor.lstm(d)
            pred_dur = torch.round(torch.sigmoid(net.predictor.duration_proj(x)).sum(axis=-1).squeeze()).clamp(min=1)
            alignment = torch.zeros(int(lengths), int(pred_dur.sum().data))
            frame = 0
            for i in range(alignment.size(0)):
                alignment[i, frame:frame + int(pred_dur[i].data)] = 1
                frame += int(pred_dur[i].data)
            alignment = alignment.unsqueeze(0).to(device)
            en, asr = d.transpose(-1, -2) @ alignment, t_en @ alignment
            if self._params.decoder.type == "hifigan":  # shift by one frame, as the notebook does
                en = torch.cat([en[:, :, :1], en[:, :, :-1]], dim=2)
                asr = torch.cat([asr[:, :, :1], asr[:, :, :-1]], dim=2)
            f0_pred, n_pred = net.predictor.F0Ntrain(en, s)
            out = net.decoder(asr, f0_pred, n_pred, ref.squeeze().unsqueeze(0))
        return support.as_waveform(out, self.name)
