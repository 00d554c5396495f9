"""The synthesis stage: one adapter replica turns batches of planned items into clips and records.

Items that share a synthesis (same `synth_key`, different output transforms) are synthesized once.
Timing covers `clone` calls only (model loading is excluded); a batch's time is shared equally by
its items. RTF = synthesis seconds / seconds of audio produced. A condition whose transform cannot
run here marks its items `unavailable` with the reason: reported, never blamed on the model.

The stage writes clips (atomically) into the run directory, which every worker sees, and returns
the synthesis results and records to the driver, which alone commits them to the run database.
A batch whose `clone` call runs out of device memory is split in halves and retried; a batch that
raises anything else is retried item by item, so one bad item fails alone.
"""

from __future__ import annotations

import time
import traceback

import numpy as np

from rvcbench.adapters.contract import CloneFailure, CloneRequest, VoiceCloner
from rvcbench.audio import duration_seconds, load_audio, save_audio
from rvcbench.batching import is_out_of_memory
from rvcbench.perturb import PerturbedInputs, apply_audio_steps, apply_text_steps
from rvcbench.plan import WorkItem
from rvcbench.results import RunDirectory
from rvcbench.transforms.base import Audio, TransformUnavailable

MAX_LENGTH_RATIO = 4.0  # a clip longer than 4× the expected duration is a failure (runaway generation)
SILENCE_PEAK = 1e-4


class OutputRejected(Exception):
    """The adapter returned something that is not a usable clip."""


def check_waveform(wav: object, sample_rate: int, expected_seconds: float) -> np.ndarray:
    """Return the clip as float32 mono, or raise OutputRejected with the reason."""
    if not isinstance(wav, np.ndarray):
        raise OutputRejected(f"adapter returned {type(wav).__name__}, not a numpy array")
    wav = np.squeeze(wav)
    if wav.ndim != 1:
        raise OutputRejected(f"waveform has shape {wav.shape}; expected mono (1-D)")
    if wav.size == 0:
        raise OutputRejected("empty waveform")
    if not np.all(np.isfinite(wav)):
        raise OutputRejected(f"waveform has {int(np.sum(~np.isfinite(wav)))} NaN/inf samples")
    if float(np.max(np.abs(wav))) < SILENCE_PEAK:
        raise OutputRejected("silent waveform")
    seconds = duration_seconds(wav, sample_rate)
    if seconds > MAX_LENGTH_RATIO * expected_seconds:
        raise OutputRejected(
            f"absurd length: {seconds:.1f} s for an expected {expected_seconds:.1f} s (> {MAX_LENGTH_RATIO:g}×)"
        )
    return wav.astype(np.float32)


def base_record(item: WorkItem, model: str) -> dict:
    return {
        "item_id": item.item_id, "synth_key": item.synth_key, "pair_id": item.pair_id,
        "speaker_id": item.speaker_id, "model": model,
        "memberships": [list(m) for m in item.memberships], "seed": item.seed,
        "perturbation_seed": item.perturbation_seed, "target_text": item.target_text,
        "target_language": item.target_language, "expected_seconds": item.expected_seconds,
        "prompt_steps": [s.as_dict() for s in item.prompt_steps], "text_steps": [s.as_dict() for s in item.text_steps],
        "output_steps": [s.as_dict() for s in item.output_steps],
        "prompt_text_steps": [s.as_dict() for s in item.prompt_text_steps], "parallel_target": item.parallel_target,
        **item.extras,
    }


def failure_record(item: WorkItem, model: str, stage: str, error_type: str, message: str,
                   status: str = "failed") -> dict:
    return {**base_record(item, model), "status": status, "failure_stage": stage,
            "error_type": error_type, "error_message": message, "scored": False}


class SynthesisStage:
    """One replica of the model: loaded once on its device, then fed batches of synthesis groups."""

    def __init__(self, adapter: VoiceCloner, run_dir: RunDirectory, model: str, inputs: PerturbedInputs) -> None:
        self.adapter, self.run_dir, self.model, self.inputs = adapter, run_dir, model, inputs

    def run(self, groups: list[tuple[list[WorkItem], dict | None]]) -> list[dict]:
        """Each group: the items sharing one synthesis, and its stored result when one exists (resume).

        Returns per group {"synth_key", "synth", "records", "fresh"}; failures are results, never raised.
        """
        results: dict[str, dict] = {}
        runnable = []
        for members, known in groups:
            lead = members[0]
            if known is not None:
                results[lead.synth_key] = known
                continue
            refusal = _refusal(self.adapter, lead, self.model)
            if refusal is None:
                runnable.append(lead)
            else:
                results[lead.synth_key] = refusal
        if runnable:
            results.update(self._synthesize(runnable))
        return [{"synth_key": members[0].synth_key, "synth": results[members[0].synth_key], "fresh": known is None,
                 "records": [self._record(item, results[item.synth_key]) for item in members]}
                for members, known in groups]

    def _synthesize(self, batch: list[WorkItem]) -> dict[str, dict]:
        results: dict[str, dict] = {}
        requests, ready = [], []
        for item in batch:
            try:
                request, prompt_file = _make_request(self, item)
            except TransformUnavailable as exc:
                results[item.synth_key] = {"status": "unavailable", "failure_stage": "input transform",
                                           "error_type": "TransformUnavailable", "error_message": str(exc)}
                continue
            requests.append(request)
            ready.append((item, prompt_file, request.target_text, request.prompt_text))
        if not ready:
            return results
        try:
            start = time.perf_counter()
            outputs = self.adapter.clone(requests)
            elapsed = time.perf_counter() - start
            if len(outputs) != len(requests):
                raise OutputRejected(f"adapter returned {len(outputs)} outputs for {len(requests)} requests")
        except Exception as exc:  # noqa: BLE001 — any adapter error becomes a recorded failure, never a crash
            if len(ready) > 1:
                items = [item for item, *_ in ready]
                if is_out_of_memory(exc):  # halve the batch: the largest size that fits is found in log2 steps
                    half = len(items) // 2
                    return {**results, **self._synthesize(items[:half]), **self._synthesize(items[half:])}
                for item in items:
                    results.update(self._synthesize([item]))
                return results
            results[ready[0][0].synth_key] = {
                "status": "failed", "failure_stage": "synthesis", "error_type": type(exc).__name__,
                "error_message": _short_message(exc), "traceback": traceback.format_exc(limit=8)}
            return results
        share = elapsed / len(ready)
        for (item, prompt_file, text, prompt_text), output in zip(ready, outputs, strict=True):
            result = _check_output(self, item, output, share, prompt_file, text)
            result["batch_size"] = len(ready)  # the size of the call that made it (after any out-of-memory split)
            if item.prompt_text_steps:
                result["synth_prompt_text"] = prompt_text
            results[item.synth_key] = result
        return results

    def _record(self, item: WorkItem, synth: dict) -> dict:
        """The record of one item of a synthesis, with the item's output transforms applied."""
        record = {**base_record(item, self.model), **synth, "scored": False}
        record.pop("traceback", None)
        if synth["status"] == "ok":
            record.update(_apply_output_steps(self, item, synth))
        return record


def _refusal(adapter: VoiceCloner, item: WorkItem, model: str) -> dict | None:
    """Why this item is not sent to the adapter (condition unavailable for it, unsupported language), or None."""
    if item.unavailable_reason:
        return {"status": "unavailable", "failure_stage": "planning", "error_type": "TransformUnavailable",
                "error_message": item.unavailable_reason}
    if item.prompt_text_steps and not adapter.needs_prompt_text:
        return {"status": "unavailable", "failure_stage": "planning", "error_type": "NotApplicable",
                "error_message": f"model {model} does not read the prompt transcript"}
    if not adapter.supports_language(item.target_language):
        return {"status": "failed", "failure_stage": "synthesis", "error_type": "UnsupportedLanguage",
                "error_message": f"unsupported language: {item.target_language}"}
    return None


def _make_request(ctx: SynthesisStage, item: WorkItem) -> tuple[CloneRequest, str | None]:
    """The adapter's request, with the condition's prompt/text transforms applied."""
    prompt_file = None
    if item.prompt_steps:
        prompt, prompt_file = ctx.inputs.prompt(item.prompt_path, item.prompt_sha256, item.prompt_steps,
                                                item.perturbation_seed, item.speaker_id)
    else:
        prompt = Audio(*load_audio(item.prompt_path))
    text = item.target_text
    if item.text_steps:
        text = apply_text_steps(text, item.text_steps, item.perturbation_seed,
                                ctx.inputs.voices.context_for(item.speaker_id))
    prompt_text = item.prompt_text
    if item.prompt_text_steps:
        prompt_text = apply_text_steps(prompt_text, item.prompt_text_steps, item.perturbation_seed,
                                       ctx.inputs.voices.context_for(item.speaker_id))
    wants_target = ctx.adapter.needs_target_audio and item.parallel_target  # no recording says a rewritten text
    target, target_sr = load_audio(item.target_path) if wants_target else (None, None)
    request = CloneRequest(
        pair_id=item.pair_id, prompt_audio=prompt.wav, prompt_sample_rate=prompt.sample_rate,
        prompt_text=prompt_text, prompt_language=item.prompt_language, target_text=text,
        target_language=item.target_language, seed=item.seed, target_audio=target, target_sample_rate=target_sr,
    )
    return request, prompt_file


def _check_output(ctx: SynthesisStage, item: WorkItem, output: object, seconds: float,
                  prompt_file: str | None, text: str) -> dict:
    inputs = {"prompt_input_file": f"inputs/{prompt_file}" if prompt_file else None, "synth_text": text}
    if isinstance(output, CloneFailure):
        return {**inputs, "status": "failed", "failure_stage": "synthesis", "error_type": "CloneFailure",
                "error_message": output.reason}
    sample_rate = ctx.adapter.sample_rate
    try:
        wav = check_waveform(output, sample_rate, item.expected_seconds)
    except OutputRejected as exc:
        return {**inputs, "status": "failed", "failure_stage": "output check", "error_type": "OutputRejected",
                "error_message": str(exc)}
    clip = ctx.run_dir.clip_path(item.synth_key)
    save_audio(clip, wav, sample_rate)
    audio_seconds = duration_seconds(wav, sample_rate)
    return {**inputs, "status": "ok", "synth_clip_file": f"clips/{clip.name}", "synth_sample_rate": sample_rate,
            "audio_seconds": audio_seconds, "synth_seconds": seconds, "rtf": seconds / audio_seconds}


def _apply_output_steps(ctx: SynthesisStage, item: WorkItem, synth: dict) -> dict:
    if not item.output_steps:
        return {"clip_file": synth["synth_clip_file"], "sample_rate": synth["synth_sample_rate"]}
    clip = Audio(*load_audio(ctx.run_dir.root / synth["synth_clip_file"]))
    try:
        out = apply_audio_steps(clip, item.output_steps, item.perturbation_seed,
                                ctx.inputs.voices.context_for(item.speaker_id))
    except TransformUnavailable as exc:
        return {"status": "unavailable", "failure_stage": "output transform", "error_type": "TransformUnavailable",
                "error_message": str(exc)}
    path = ctx.run_dir.clip_path(item.item_id)
    save_audio(path, out.wav, out.sample_rate)
    return {"clip_file": f"clips/{path.name}", "sample_rate": out.sample_rate}


def _short_message(exc: BaseException) -> str:
    text = str(exc).strip() or repr(exc)
    return text if len(text) <= 500 else text[:497] + "..."
