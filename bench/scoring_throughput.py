"""Throughput of the offline scorer profile: rvcbench's way vs the field's per-file loop.

Over N demo utterances (clip = the real recording, target = the same recording, prompt = another
utterance of the same speaker), measures utterances/second of

  (a) rvcbench: each scorer constructed and loaded once, `score` called on batches;
  (b) per-file: for every file, every scorer is constructed, its model loaded, and `score` called on
      that one file (what the field's reference scripts do).

Both sides use the same scorer classes and the same decoded 16 kHz audio; only loading and batching
differ. A warm-up on one file first pays the one-off process costs (imports, first-call caches) for
both. Also prints the per-scorer split, the largest metric difference between the two sides, and
the mean scores of the recordings against themselves (the oracle). A benchmark: it asserts nothing.

    python bench/scoring_throughput.py [--n 50] [--batch-size 16] [--whisper-batched]
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from rvcbench.audio import load_audio_at
from rvcbench.data import load_dataset
from rvcbench.scoring.asr import WhisperWer
from rvcbench.scoring.contract import ScoreInput, Scorer
from rvcbench.scoring.dnsmos import Dnsmos
from rvcbench.scoring.mcd import MelCepstralDistortion
from rvcbench.scoring.speaker_similarity import ResemblyzerSimilarity

SAMPLE_RATE = 16000  # every offline scorer runs at 16 kHz


def demo_inputs(n: int) -> list[ScoreInput]:
    """The first n pairs of the embedded demo set, each clip being the real target recording."""
    dataset = load_dataset("demo")
    cache: dict[str, np.ndarray] = {}

    def audio(file_name: str) -> np.ndarray:
        if file_name not in cache:
            cache[file_name] = load_audio_at(dataset.audio_path(file_name), SAMPLE_RATE)
        return cache[file_name]

    return [
        ScoreInput(pair_id=row.pair_id, audio=audio(row.target_file_name), target_audio=audio(row.target_file_name),
                   prompt_audio=audio(row.prompt_file_name), target_text=row.target_text,
                   language=row.target_language)
        for row in dataset.manifest.head(n).itertuples()
    ]


def run_batched(factories: dict[str, Callable[[], Scorer]], inputs: list[ScoreInput],
                batch_size: int) -> tuple[dict[str, float], list[dict]]:
    seconds: dict[str, float] = {}
    rows: list[dict] = [{} for _ in inputs]
    for name, factory in factories.items():
        start = time.perf_counter()
        scorer = factory()
        scorer.load("cpu")
        for b in range(0, len(inputs), batch_size):
            for row, values in zip(rows[b:b + batch_size], scorer.score(inputs[b:b + batch_size]), strict=True):
                row.update(values)
        seconds[name] = time.perf_counter() - start
    return seconds, rows


def run_per_file(factories: dict[str, Callable[[], Scorer]],
                 inputs: list[ScoreInput]) -> tuple[dict[str, float], list[dict]]:
    seconds: dict[str, float] = defaultdict(float)
    rows: list[dict] = []
    for item in inputs:
        row: dict = {}
        for name, factory in factories.items():
            start = time.perf_counter()
            scorer = factory()
            scorer.load("cpu")
            row.update(scorer.score([item])[0])
            seconds[name] += time.perf_counter() - start
        rows.append(row)
    return dict(seconds), rows


def max_difference(a: list[dict], b: list[dict]) -> float:
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        for key, value in x.items():
            if isinstance(value, float) and not math.isnan(value):
                worst = max(worst, abs(value - y[key]))
    return worst


def report(label: str, seconds: dict[str, float], n: int) -> float:
    total = sum(seconds.values())
    split = ", ".join(f"{k} {v:.1f} s ({v / n:.3f} s/utt)" for k, v in seconds.items())
    print(f"{label}: {n / total:.3f} utt/s ({total:.1f} s)  [{split}]")
    return n / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50, help="number of demo utterances (default: all 50)")
    parser.add_argument("--batch-size", type=int, default=16, help="batch size of the rvcbench side")
    parser.add_argument("--whisper-batched", action="store_true",
                        help="use faster-whisper's BatchedInferencePipeline on the rvcbench side")
    args = parser.parse_args()

    inputs = demo_inputs(args.n)
    n = len(inputs)
    factories: dict[str, Callable[[], Scorer]] = {
        "sim_resemblyzer": ResemblyzerSimilarity,
        "wer_whisper": lambda: WhisperWer(batched=args.whisper_batched),
        "dnsmos": Dnsmos,
        "mcd": MelCepstralDistortion,
    }
    print(f"{n} utterances, {sum(i.audio.size for i in inputs) / SAMPLE_RATE:.1f} s of audio; warming up")
    run_per_file(factories, inputs[:1])

    per_file_seconds, per_file_rows = run_per_file(factories, inputs)
    batched_seconds, batched_rows = run_batched(factories, inputs, args.batch_size)
    slow = report("per-file loop (load every model per file)", per_file_seconds, n)
    fast = report(f"rvcbench (load once, batches of {args.batch_size})", batched_seconds, n)
    print(f"speed-up: {fast / slow:.2f}x")
    print(f"largest metric difference between the two sides: {max_difference(batched_rows, per_file_rows):.2e}")

    print("oracle (recordings scored against themselves), mean over utterances:")
    for metric in ("sim", "sim_prompt", "wer", "cer", "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808",
                   "mcd"):
        values = np.array([row.get(metric, math.nan) for row in batched_rows], dtype=float)
        print(f"  {metric:12s} {np.nanmean(values):.4f}  (NaN: {int(np.isnan(values).sum())})")
    errors = sum(float(r["wer_errors"]) for r in batched_rows if not math.isnan(r["wer_errors"]))
    words = sum(float(r["wer_ref_words"]) for r in batched_rows if not math.isnan(r["wer_ref_words"]))
    print(f"  corpus WER   {errors / words:.4f}  ({errors:.0f} errors / {words:.0f} words)")


if __name__ == "__main__":
    main()
