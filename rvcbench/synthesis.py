"""Run an adapter over work items: batches, timing, output checks, failure records, atomic writes.

Timing covers `clone` calls only (model loading is excluded); a batch's time is shared equally by
its items. RTF = synthesis seconds / seconds of audio produced.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable

import numpy as np

from rvcbench.adapters.contract import CloneFailure, CloneRequest, VoiceCloner
from rvcbench.audio import duration_seconds, load_audio, save_audio
from rvcbench.plan import WorkItem, batches_by_text_length
from rvcbench.results import RunDirectory

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


def make_request(item: WorkItem, with_target: bool) -> CloneRequest:
    prompt, prompt_sr = load_audio(item.prompt_path)
    target, target_sr = load_audio(item.target_path) if with_target else (None, None)
    return CloneRequest(
        pair_id=item.pair_id, prompt_audio=prompt, prompt_sample_rate=prompt_sr, prompt_text=item.prompt_text,
        prompt_language=item.prompt_language, target_text=item.target_text,
        target_language=item.target_language, seed=item.seed, target_audio=target, target_sample_rate=target_sr,
    )


def base_record(item: WorkItem, model: str) -> dict:
    return {
        "item_id": item.item_id, "pair_id": item.pair_id, "speaker_id": item.speaker_id, "model": model,
        "task": item.task, "condition": item.condition, "seed": item.seed, "target_text": item.target_text,
        "target_language": item.target_language, "expected_seconds": item.expected_seconds, **item.extras,
    }


def failure_record(item: WorkItem, model: str, stage: str, error_type: str, message: str) -> dict:
    return {**base_record(item, model), "status": "failed", "failure_stage": stage,
            "error_type": error_type, "error_message": message, "scored": False}


def _clone_timed(adapter: VoiceCloner, requests: list[CloneRequest]) -> tuple[list, float]:
    start = time.perf_counter()
    outputs = adapter.clone(requests)
    elapsed = time.perf_counter() - start
    if len(outputs) != len(requests):
        raise OutputRejected(f"adapter returned {len(outputs)} outputs for {len(requests)} requests")
    return outputs, elapsed


def synthesize(adapter: VoiceCloner, items: list[WorkItem], run_dir: RunDirectory, *, model: str,
               batch_size: int, on_item: Callable[[dict], None] = lambda record: None) -> None:
    """Synthesize every item and write its clip and record; failures are recorded, never raised.

    A batch whose `clone` call raises is retried item by item, so one bad item fails alone.
    """
    for batch in batches_by_text_length(items, batch_size):
        runnable = []
        for item in batch:
            if adapter.supports_language(item.target_language):
                runnable.append(item)
            else:
                record = failure_record(item, model, "synthesis", "UnsupportedLanguage",
                                        f"unsupported language: {item.target_language}")
                run_dir.write_record(record)
                on_item(record)
        if runnable:
            _synthesize_batch(adapter, runnable, run_dir, model, on_item)


def _synthesize_batch(adapter: VoiceCloner, batch: list[WorkItem], run_dir: RunDirectory, model: str,
                      on_item: Callable[[dict], None]) -> None:
    requests = [make_request(item, adapter.needs_target_audio) for item in batch]
    try:
        outputs, elapsed = _clone_timed(adapter, requests)
    except Exception as exc:  # noqa: BLE001 — any adapter error becomes a recorded failure, never a crash
        if len(batch) > 1:
            for item in batch:
                _synthesize_batch(adapter, [item], run_dir, model, on_item)
            return
        record = failure_record(batch[0], model, "synthesis", type(exc).__name__, _short_message(exc))
        record["traceback"] = traceback.format_exc(limit=8)
        run_dir.write_record(record)
        on_item(record)
        return
    share = elapsed / len(batch)
    for item, output in zip(batch, outputs, strict=True):
        on_item(_finish_item(adapter, item, output, share, run_dir, model))


def _finish_item(adapter: VoiceCloner, item: WorkItem, output: object, seconds: float,
                 run_dir: RunDirectory, model: str) -> dict:
    if isinstance(output, CloneFailure):
        record = failure_record(item, model, "synthesis", "CloneFailure", output.reason)
    else:
        try:
            wav = check_waveform(output, adapter.sample_rate, item.expected_seconds)
        except OutputRejected as exc:
            record = failure_record(item, model, "output check", "OutputRejected", str(exc))
        else:
            clip = run_dir.clip_path(item.item_id)
            save_audio(clip, wav, adapter.sample_rate)
            audio_seconds = duration_seconds(wav, adapter.sample_rate)
            record = {**base_record(item, model), "status": "ok", "clip_file": f"clips/{clip.name}",
                      "sample_rate": adapter.sample_rate, "audio_seconds": audio_seconds,
                      "synth_seconds": seconds, "rtf": seconds / audio_seconds, "scored": False}
    run_dir.write_record(record)
    return record


def _short_message(exc: BaseException) -> str:
    text = str(exc).strip() or repr(exc)
    return text if len(text) <= 500 else text[:497] + "..."
