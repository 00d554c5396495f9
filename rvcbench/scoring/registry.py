"""Scorer names, their lazy import targets, and the scorer profiles.

Results from different profiles are never compared with each other: the profile name is recorded
with every run.
"""

from __future__ import annotations

from rvcbench.registry import Registry
from rvcbench.scoring.profiles import builtin_profiles

SCORERS = Registry("scorer", "rvcbench.scorers")
SCORERS.register("sim_resemblyzer", "rvcbench.scoring.speaker_similarity:ResemblyzerSimilarity")
SCORERS.register("wer_whisper", "rvcbench.scoring.whisper_base:OfflineWhisperWer")  # tiny.en + base
SCORERS.register("dnsmos", "rvcbench.scoring.dnsmos:Dnsmos")
SCORERS.register("mcd", "rvcbench.scoring.mcd:MelCepstralDistortion")
SCORERS.register("prosody", "rvcbench.scoring.prosody:ProsodySimilarity")
SCORERS.register("wer_whisper_large", "rvcbench.scoring.asr:WhisperLargeWer")
SCORERS.register("perceptual_budget", "rvcbench.scoring.perceptual_budget:PerceptualBudget")
SCORERS.register("input_sim_resemblyzer", "rvcbench.scoring.input_similarity:InputSimilarity")
SCORERS.register("wer_whisper_medium", "rvcbench.scoring.reference_asr:PaperWhisperWer")
SCORERS.register("wer_seedtts", "rvcbench.scoring.reference_asr:SeedTtsWer")
SCORERS.register("mcd_pymcd", "rvcbench.scoring.mcd_pymcd:PymcdDtw")
SCORERS.register("sim_ecapa", "rvcbench.scoring.ecapa:EcapaSimilarity")
SCORERS.register("emotion_match", "rvcbench.scoring.emotion:EmotionMatch")
SCORERS.register("sim_wavlm", "rvcbench.scoring.wavlm_sim:WavlmSimilarity")
SCORERS.register("utmos", "rvcbench.scoring.utmos:Utmos22Strong")
SCORERS.register("distillmos", "rvcbench.scoring.distillmos:DistillMos")
SCORERS.register("wer_whisper_base", "rvcbench.scoring.whisper_base:WhisperBaseWer")
SCORERS.load_entry_points()

# Profile name → its scorers, from the YAML files in rvcbench/scoring/profiles/ (rvcbench.scoring.profiles).
PROFILES: dict[str, tuple[str, ...]] = {name: p.scorer_names for name, p in builtin_profiles().items()}
