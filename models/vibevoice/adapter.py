"""VibeVoice 1.5B behind the rvcbench contract, following upstream's `demo/inference_from_file.py`.

The target text becomes a one-speaker script (`Speaker 1: ...`) and the prompt audio that speaker's
voice sample; `VibeVoiceProcessor` tokenizes a list of scripts with their voice samples and
`generate` runs them as one batch (left padding, per-item stop), so requests are batched. Items that
hit the length limit (flagged by upstream, or never reaching EOS) come back as failures on their own.
No transcript of the prompt is used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np

from rvcbench.adapters import support
from rvcbench.adapters.contract import CloneFailure, CloneRequest, VoiceCloner

KEY = "vibevoice"
MODEL_ID = "microsoft/VibeVoice-1.5B"
MODEL_FILES = ("config.json", "preprocessor_config.json")
TEXT_TOKENIZER_ID = "Qwen/Qwen2.5-1.5B"  # VibeVoiceProcessor.from_pretrained's fallback
TEXT_TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json")
OUTPUT_RATE = 24000  # the speech tokenizer's rate (processor default; inference_from_file.py assumes 24 kHz)
CFG_SCALE = 1.3  # inference_from_file.py default
DDPM_STEPS = 10  # inference_from_file.py: model.set_ddpm_inference_steps(num_steps=10)


def script(text: str) -> str:
    """The target text as upstream's one-line script for speaker 1 (curly apostrophes straightened, as upstream)."""
    return "Speaker 1: " + " ".join(text.replace("\u2019", "'").split())


def prompt_for_model(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The voice sample at the speech tokenizer's 24 kHz (the processor takes arrays as already at its rate)."""
    return support.prompt_at(audio, sample_rate, OUTPUT_RATE)


def text_tokenizer_id(preprocessor_config: dict) -> str:
    """Where the processor loads its text tokenizer from: the checkpoint's config names it, else Qwen2.5-1.5B."""
    return preprocessor_config.get("language_model_pretrained_name") or TEXT_TOKENIZER_ID


def ran_away(flagged: bool, generated: list[int], eos_id: int) -> bool:
    """Whether an item hit the length limit: flagged by upstream, or its generated tokens never reached EOS.

    Upstream flags `reach_max_step_sample` only for items shorter than the longest prompt of the batch: the loop
    runs `2 * prompt length` steps and tests `step >= limit` after each, so the longest item (and a single item)
    runs out of steps unflagged, with all the audio it made. Found by models/vibevoice/random_weight_check.py.
    """
    return flagged or eos_id not in generated



class Adapter(VoiceCloner):
    name: ClassVar[str] = KEY
    description: ClassVar[str] = ("VibeVoice 1.5B (Microsoft): Qwen2.5-1.5B LLM with next-token diffusion over "
                                  "7.5 Hz continuous acoustic/semantic speech tokenizers")
    sample_rate: ClassVar[int] = OUTPUT_RATE
    languages: ClassVar[frozenset[str]] = frozenset({"en", "zh"})
    needs_prompt_text: ClassVar[bool] = False
    batch_size: ClassVar[int] = 4
    requirements: ClassVar[str] = "models/vibevoice/requirements.txt (vibevoice==0.0.1), GPU"
    version: ClassVar[str] = "3"  # 2: an item that never reached EOS is a failure (ran_away); 3: refusals per item
    weights_id: ClassVar[str] = MODEL_ID
    license: ClassVar[str] = "MIT"
    stack_modules: ClassVar[tuple[str, ...]] = ("vibevoice", "torch", "transformers", "diffusers")

    def __init__(self) -> None:
        self._model = None
        self._processor = None
        self._torch = None

    def load(self, device: str) -> None:
        model_dir = support.resolve_weights(self.weights_spec(), MODEL_ID, KEY, required_files=MODEL_FILES)
        config = json.loads(Path(model_dir, "preprocessor_config.json").read_text(encoding="utf-8"))
        support.resolve_weights(None, text_tokenizer_id(config), KEY, required_files=TEXT_TOKENIZER_FILES)
        processing = support.require("vibevoice.processor.vibevoice_processor", KEY)
        modeling = support.require("vibevoice.modular.modeling_vibevoice_inference", KEY)
        torch = support.require("torch", KEY)
        self._processor = processing.VibeVoiceProcessor.from_pretrained(str(model_dir))
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        attention = support.attention_for(device)
        self._model = modeling.VibeVoiceForConditionalGenerationInference.from_pretrained(
            str(model_dir), torch_dtype=dtype, device_map=device, attn_implementation=attention)
        self._model.eval()
        self._model.set_ddpm_inference_steps(num_steps=DDPM_STEPS)
        self._torch = torch

    def clone(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        if self._model is None:
            raise RuntimeError(f"{KEY}: clone() called before load()")
        return support.clone_valid(self, requests, self._generate)

    def _generate(self, requests: list[CloneRequest]) -> list[np.ndarray | CloneFailure]:
        """One `generate` call for the batch (every request already valid)."""
        inputs = self._processor(
            text=[script(r.target_text) for r in requests],
            voice_samples=[[prompt_for_model(r.prompt_audio, r.prompt_sample_rate)] for r in requests],
            padding=True, return_tensors="pt", return_attention_mask=True)
        device = self._model.device
        inputs = {k: v.to(device) if self._torch.is_tensor(v) else v for k, v in inputs.items()}
        support.seed_everything(requests[0].seed)  # one diffusion sampling run for the whole batch
        outputs = self._model.generate(**inputs, max_new_tokens=None, cfg_scale=CFG_SCALE,
                                       tokenizer=self._processor.tokenizer, generation_config={"do_sample": False},
                                       verbose=False)
        prompt_length = inputs["input_ids"].shape[1]
        eos_id = self._processor.tokenizer.eos_token_id
        results: list[np.ndarray | CloneFailure] = []
        for index, speech in enumerate(outputs.speech_outputs):
            generated = outputs.sequences[index, prompt_length:].tolist()
            if ran_away(bool(outputs.reach_max_step_sample[index]), generated, eos_id):
                results.append(CloneFailure("VibeVoice reached its generation length limit (runaway generation)"))
            elif speech is None or speech.numel() == 0:
                results.append(CloneFailure("VibeVoice generated no speech"))
            else:
                results.append(support.as_waveform(speech, KEY))
        return results
