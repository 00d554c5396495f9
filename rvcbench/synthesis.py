"""Run an adapter over work items: batches, timing, output checks, failure records, atomic writes.

Items that share a synthesis (same `synth_key`, different output transforms) are synthesized once.
Timing covers `clone` calls only (model loading is excluded); a batch's time is shared equally by
its items. RTF = synthesis seconds / seconds of audio produced. A condition whose transform cannot
run here marks its items `unavailable` with the reason: reported, never blamed on the model.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rvcbench.adapters.contract import CloneFailure, CloneRequest, VoiceCloner
from rvcbench.audio import duration_seconds, load_audio, save_audio
from rvcbench.perturb import PerturbedInputs, apply_audio_steps, apply_text_steps
from rvcbench.plan import WorkItem, batches_by_text_length
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


@dataclass
class SynthesisContext:
    adapter: VoiceCloner
    run_dir: RunDirectory
    model: str
    inputs: PerturbedInputs
    on_item: Callable[[dict], None]


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


def synthesize(adapter: VoiceCloner, items: list[WorkItem], run_dir: RunDirectory, *, model: str,
               batch_size: int, inputs: PerturbedInputs,
               on_item: Callable[[dict], None] = lambda record: None) -> None:
    """Make every item's clip and record; failures are recorded, never raised.

    A batch whose `clone` call raises is retried item by item, so one bad item fails alone.
    """
    ctx = SynthesisContext(adapter, run_dir, model, inputs, on_item)
    groups: dict[str, list[WorkItem]] = {}
    for item in items:
        groups.setdefault(item.synth_key, []).append(item)
    to_make = []
    for key, members in groups.items():
        if run_dir.read_synth(key) is None:
            to_make.append(members[0])
        else:
            _finish_group(ctx, members)
    for batch in batches_by_text_length(to_make, batch_size):
        runnable = []
        for item in batch:
            refusal = _refusal(adapter, item, model)
            if refusal is None:
                runnable.append(item)
            else:
                _write_synth(ctx, item, refusal)
                _finish_group(ctx, groups[item.synth_key])
        if runnable:
            _synthesize_batch(ctx, runnable)
            for item in runnable:
                _finish_group(ctx, groups[item.synth_key])


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


def _make_request(ctx: SynthesisContext, item: WorkItem) -> tuple[CloneRequest, str | None]:
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


def _synthesize_batch(ctx: SynthesisContext, batch: list[WorkItem]) -> None:
    requests, ready = [], []
    for item in batch:
        try:
            request, prompt_file = _make_request(ctx, item)
        except TransformUnavailable as exc:
            _write_synth(ctx, item, {"status": "unavailable", "failure_stage": "input transform",
                                     "error_type": "TransformUnavailable", "error_message": str(exc)})
            continue
        requests.append(request)
        ready.append((item, prompt_file, request.target_text, request.prompt_text))
    if not ready:
        return
    try:
        start = time.perf_counter()
        outputs = ctx.adapter.clone(requests)
        elapsed = time.perf_counter() - start
        if len(outputs) != len(requests):
            raise OutputRejected(f"adapter returned {len(outputs)} outputs for {len(requests)} requests")
    except Exception as exc:  # noqa: BLE001 — any adapter error becomes a recorded failure, never a crash
        if len(ready) > 1:
            for item, *_ in ready:
                _synthesize_batch(ctx, [item])
            return
        _write_synth(ctx, ready[0][0], {"status": "failed", "failure_stage": "synthesis",
                                        "error_type": type(exc).__name__, "error_message": _short_message(exc),
                                        "traceback": traceback.format_exc(limit=8)})
        return
    share = elapsed / len(ready)
    for (item, prompt_file, text, prompt_text), output in zip(ready, outputs, strict=True):
        result = _check_output(ctx, item, output, share, prompt_file, text)
        if item.prompt_text_steps:
            result["synth_prompt_text"] = prompt_text
        _write_synth(ctx, item, result)


def _check_output(ctx: SynthesisContext, item: WorkItem, output: object, seconds: float,
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


def _write_synth(ctx: SynthesisContext, item: WorkItem, result: dict) -> None:
    ctx.run_dir.write_synth(item.synth_key, result)


def _finish_group(ctx: SynthesisContext, members: list[WorkItem]) -> None:
    """Write the record of every item sharing one synthesis, applying each item's output transforms."""
    synth = ctx.run_dir.read_synth(members[0].synth_key)
    for item in members:
        if ctx.run_dir.read_record(item.item_id) is not None:
            continue
        record = {**base_record(item, ctx.model), **synth, "scored": False}
        if synth["status"] == "ok":
            record.update(_apply_output_steps(ctx, item, synth))
        ctx.run_dir.write_record(record)
        ctx.on_item(record)


def _apply_output_steps(ctx: SynthesisContext, item: WorkItem, synth: dict) -> dict:
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
