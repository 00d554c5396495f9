"""Seconds per utterance of each scorer of a profile, and the profile's utterances/second, on the demo set.

Each scorer is constructed and loaded once (load time reported apart), then scores the N utterances in batches
of 16, as a run does (clip = the real target recording, prompt = another utterance of the same speaker). A
warm-up batch of one utterance first pays the one-off costs (imports, first-call caches). Compare profiles, or
one profile with and without some scorers, in one run:

    python bench/profile_speed.py --profile offline --n 50
    python bench/profile_speed.py --profile offline --without distillmos,wer_whisper_offline   # before/after

A benchmark: it asserts nothing. Scorers whose weights are missing are listed as skipped with the reason.
"""

from __future__ import annotations

import argparse
import time

from rvcbench.audio import load_audio_at
from rvcbench.data import load_dataset
from rvcbench.errors import MissingDependencyError
from rvcbench.scoring.contract import ScoreInput
from rvcbench.scoring.profiles import build_scorers, resolve_profile

BATCH = 16


def demo_inputs(n: int, sample_rate: int) -> list[ScoreInput]:
    dataset = load_dataset("demo")
    rows = dataset.manifest.head(n)
    return [ScoreInput(pair_id=r.pair_id, audio=load_audio_at(dataset.audio_path(r.target_file_name), sample_rate),
                       target_audio=load_audio_at(dataset.audio_path(r.target_file_name), sample_rate),
                       prompt_audio=load_audio_at(dataset.audio_path(r.prompt_file_name), sample_rate),
                       input_prompt_audio=load_audio_at(dataset.audio_path(r.prompt_file_name), sample_rate),
                       target_text=r.target_text, language=r.target_language) for r in rows.itertuples()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="offline")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--without", default="", help="comma-separated scorers to leave out (the 'before')")
    args = parser.parse_args()
    left_out = {s for s in args.without.split(",") if s}
    profile = resolve_profile(args.profile)
    total = 0.0
    print(f"profile {profile.name}, {args.n} demo utterances, batches of {BATCH}")
    print(f"{'scorer':<24}{'load s':>8}{'s/utt':>9}")
    for scorer in build_scorers(profile):
        name = scorer.meta.name
        if name in left_out:
            continue
        inputs = demo_inputs(args.n, scorer.meta.sample_rate)
        started = time.perf_counter()
        try:
            scorer.load("cpu")
        except MissingDependencyError as exc:
            print(f"{name:<24}skipped: {str(exc)[:90]}")
            continue
        loaded = time.perf_counter() - started
        scorer.score(inputs[:1])  # warm-up
        started = time.perf_counter()
        for i in range(0, len(inputs), BATCH):
            scorer.score(inputs[i:i + BATCH])
        per_utt = (time.perf_counter() - started) / len(inputs)
        total += per_utt
        print(f"{name:<24}{loaded:>8.2f}{per_utt:>9.3f}")
    print(f"{'profile':<24}{'':>8}{total:>9.3f}  s/utt  = {1 / total:.2f} utt/s" if total else "nothing scored")


if __name__ == "__main__":
    main()
