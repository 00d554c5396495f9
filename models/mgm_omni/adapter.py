"""MGM-Omni TTS 2B behind the rvcbench contract, following upstream's `mgm/serve/cli_tts.py`.

The speech LM reads the reference transcript (`input_ids_refer`) and the 16 kHz reference audio
(`audio_refer`), and a one-turn `qwen2vl` conversation whose user turn holds the reference placeholder
and whose assistant turn starts with the target text; CosyVoice 2's flow model and vocoder (shipped in
the checkpoint's `cosyvoice2/` folder) turn the speech tokens into 24 kHz audio. `generate` decodes one
conversation at a time, so the batch size is 1.

MGM-Omni runs from a clone (it imports its vendored `third_party/cosyvoice` by bare name): set
MGM_OMNI_ROOT to it. Its speech decoder (`tts_adapter.py`) hard-codes flash_attention_2, so `load` asks for
flash-attn (CUDA only) before building anything.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, UpstreamCheckout, VoiceCloner

KEY = "mgm_omni"
MODEL_ID = "wcy1122/MGM-Omni-TTS-2B-0927"
REPO_URL = "https://github.com/dvlab-research/MGM-Omni.git"
COMMIT = "2b27e6cdac7c8c07bd7baa5957f25de31b9a01d2"
ROOT_ENV = "MGM_OMNI_ROOT"
REQUIRED_FILES = ("config.json", "cosyvoice2/cosyvoice2.yaml", "cosyvoice2/flow.pt", "cosyvoice2/hift.pt",
                  "cosyvoice2/campplus.onnx", "cosyvoice2/speech_tokenizer_v2.onnx")
PROMPT_RATE = 16000  # cli_tts.py: librosa.load(ref_audio, sr=16000)
OUTPUT_RATE = 24000  # CosyVoice 2 vocoder; cli_tts.py writes 24000
TEMPERATURE = 0.3  # cli_tts.py default
MAX_NEW_TOKENS = 8192  # cli_tts.py default
# mgm/constants.py and cli_tts.py: the instruction that asks for the reference voice, by reference language.
AUDIO_START, AUDIO_END, SPEECH_TOKEN = "<|audio_start|>", "<|audio_end|>", "<speech>"
INSTRUCTION = {"zh": "使用参考音频中听到的语气回答。", "en": "Respond with the tone of the reference audio clip."}
FLASH_ATTN = "flash-attn==2.7.4.post1"  # MGM-Omni's pyproject.toml
RUNAWAY = ("MGM-Omni flagged a runaway generation (upstream's tts_error: more than 8 speech steps per text token, "
           "or more than 8 mostly blank steps in a row)")


def conversation_turns(prompt_language: str, target_text: str) -> tuple[str, str]:
    """(user turn, assistant turn) as cli_tts.py builds them; the instruction follows the prompt's language."""
    instruction = INSTRUCTION["zh" if prompt_language == "zh" else "en"]
    user = instruction + AUDIO_START + SPEECH_TOKEN + AUDIO_END + "\n"
    return user, AUDIO_START + " ".join(target_text.split())


def prompt_for_model(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The reference as the model reads it: float32 mono at 16 kHz, shape (1, samples)."""
    return support.prompt_at(audio, sample_rate, PROMPT_RATE)[None, :]


class Adapter(VoiceCloner):
    name: ClassVar[str] = KEY
    description: ClassVar[str] = ("MGM-Omni TTS 2B (dvlab): Qwen3-based speech LM with a chunk-based parallel "
                                  "speech decoder; CosyVoice 2 flow matching + HiFT vocoder for the waveform")
    sample_rate: ClassVar[int] = OUTPUT_RATE
    languages: ClassVar[frozenset[str]] = frozenset({"en", "zh"})
    needs_prompt_text: ClassVar[bool] = True
    batch_size: ClassVar[int] = 1
    requirements: ClassVar[str] = f"models/mgm_omni/requirements.txt + a clone of MGM-Omni in ${ROOT_ENV}; CUDA GPU"
    version: ClassVar[str] = "2"  # 2: refusals per item (support.clone_valid); flash-attn asked for in load
    weights_id: ClassVar[str] = MODEL_ID
    checkout: ClassVar[UpstreamCheckout] = UpstreamCheckout(
        ROOT_ENV, REPO_URL, COMMIT, "mgm/model/language_model/mgm_tts.py",
        ("", "third_party/Matcha-TTS", "third_party"))
    license: ClassVar[str] = "Apache-2.0 (code); weights: see the Hugging Face model card"
    stack_modules: ClassVar[tuple[str, ...]] = ("mgm", "cosyvoice", "torch", "transformers")

    def __init__(self) -> None:
        self._model = None
        self._tokenizer = None
        self._conv = None
        self._mm_utils = None
        self._torch = None

    def load(self, device: str) -> None:
        weights = support.resolve_weights(self.weights_spec(), MODEL_ID, KEY, required_files=REQUIRED_FILES)
        support.upstream_checkout(self.checkout, self.name)
        # builder: registers MGM-Omni's classes and patches GenerationMixin as upstream's loader does.
        builder = support.require("mgm.model.builder", KEY)
        torch = support.require("torch", KEY)
        transformers = support.require("transformers", KEY)
        self._conv = support.require("mgm.conversation", KEY).conv_templates["qwen2vl"]
        self._mm_utils = support.require("mgm.mm_utils", KEY)
        self._require_flash_attn()
        # What builder.load_pretrained_model does for 'mgm-omni-tts' models, minus its check on the folder
        # name (a Hugging Face cache folder is named after the commit hash, not the model).
        self._model = builder.MGMTTSForCausalLM.from_pretrained(
            str(weights), low_cpu_mem_usage=True, torch_dtype=torch.float16, device_map={"": device})
        self._model.load_cosyvoice(str(weights / "cosyvoice2"))
        self._tokenizer = transformers.AutoTokenizer.from_pretrained(str(weights), use_fast=False)
        self._torch = torch

    def _require_flash_attn(self) -> None:
        """`Qwen3TTSAdapter` sets `_attn_implementation = "flash_attention_2"` on its own layers whatever `load` asks,
        so without flash-attn (a CUDA-only package) the first `generate` fails deep in transformers; say so here."""
        support.require("flash_attn", KEY, f"MGM-Omni's speech decoder (mgm/model/multimodal_generator/"
                                           f"tts_adapter.py) hard-codes flash_attention_2: on a CUDA GPU, "
                                           f"`pip install {FLASH_ATTN} --no-build-isolation` in that environment")

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._model is None:
            raise RuntimeError(f"{KEY}: clone() called before load()")
        return support.clone_valid(self, requests, lambda valid: [self._clone_one(request) for request in valid])

    def _clone_one(self, request: CloneRequest) -> np.ndarray | CloneFailure:
        torch, tokenizer, device = self._torch, self._tokenizer, self._model.device
        audio_refer = torch.from_numpy(prompt_for_model(request.prompt_audio, request.prompt_sample_rate)).to(device)
        refer_ids = torch.tensor(tokenizer(request.prompt_text.strip())["input_ids"]).unsqueeze(0).to(device)
        user, assistant = conversation_turns(request.prompt_language, request.target_text)
        conv = self._conv.copy()
        conv.append_message(conv.roles[0], user)
        conv.append_message(conv.roles[1], assistant)
        input_ids = self._mm_utils.tokenizer_speech_token(conv.get_prompt(), tokenizer, return_tensors="pt")
        support.seed_everything(request.seed)
        with torch.inference_mode():
            _, audio, runaway = self._model.generate(
                input_ids.unsqueeze(0).to(device), input_ids_refer=refer_ids, audio_refer=audio_refer,
                check_tts_result=True, do_sample=True, temperature=TEMPERATURE, max_new_tokens=MAX_NEW_TOKENS,
                bos_token_id=tokenizer.pad_token_id, eos_token_id=[tokenizer.eos_token_id],
                pad_token_id=tokenizer.pad_token_id, tokenizer=tokenizer, use_cache=True)
        if runaway:
            return CloneFailure(RUNAWAY)
        return support.as_waveform(audio, KEY)
