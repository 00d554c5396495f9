"""The reference profiles' ASR: WER as the RVCBench paper and Seed-TTS-eval compute it, beside rvcbench's own.

- `wer_whisper_medium` (profile `rvcbench-paper`): Whisper medium, as upstream RVCBench runs openai-whisper's
  `transcribe(task="transcribe", condition_on_previous_text=False, without_timestamps=True)` with its defaults
  (greedy at temperature 0, fallback through 0.2 … 1.0 on compression-ratio / log-prob failures). Run here with
  faster-whisper on the CTranslate2 conversion `Systran/faster-whisper-medium`: the same weights and decoding
  rules in another implementation, so transcripts can differ in rare tokens. Language: the manifest's
  (`language: manifest`, the issue's choice) or Whisper's own detection (`language: auto`, what upstream does:
  its metadata never carries a language).
- `wer_seedtts` (profile `seed-tts`): Whisper large-v3 for English (greedy, one temperature, English forced:
  seed-tts-eval `run_wer.py` through transformers' generate) and Paraformer-zh (FunASR) for Chinese, each text
  normalised as `run_wer.py` does; other languages are not scored by that protocol (NaN with the reason).

Both report `wer_ref` (the reference's own per-utterance WER: its paper prints the mean) with the counts for the
corpus-level `wer_ref_corpus`, and rvcbench's `wer`/`cer`/`wer_corpus` and generation flags on the same
transcript (numbers verbalised), so the two normalisations can be set side by side. Weights come from
`--scorer-weights NAME=DIR` or the Hugging Face cache (`rvcbench.scoring.weights`); nothing is downloaded.
"""

from __future__ import annotations

import math
import re

import numpy as np

from rvcbench.environment import package_version
from rvcbench.errors import MissingDependencyError
from rvcbench.scoring.asr import CODE_VERSION, WHISPER_LANGUAGES, WhisperWer
from rvcbench.scoring.contract import Metric, ScoreInput, ScorerMeta
from rvcbench.scoring.reference_text import reference_error_counts, rvcbench_paper_units, seed_tts_units
from rvcbench.scoring.text_normalize import NORMALIZER_VERSION, base_language
from rvcbench.scoring.weights import ScorerWeights, resolve_weights, weights_fingerprint

CT2_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
WHISPER_MEDIUM = ScorerWeights("whisper_medium", "Systran/faster-whisper-medium", CT2_FILES,
                               "Whisper medium, CTranslate2 conversion", "MIT")
WHISPER_LARGE_V3 = ScorerWeights("whisper_large_v3", "Systran/faster-whisper-large-v3", CT2_FILES,
                                 "Whisper large-v3, CTranslate2 conversion", "MIT")
PARAFORMER_ZH = ScorerWeights("paraformer_zh", "funasr/paraformer-zh", ("model.pt", "config.yaml"),
                              "Paraformer-zh (FunASR), seed-tts-eval's Chinese ASR", "FunASR model licence")

OPENAI_WHISPER_DEFAULTS = {  # openai-whisper transcribe() defaults, with upstream RVCBench's overrides
    "beam_size": 1, "best_of": 5, "temperature": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
    "compression_ratio_threshold": 2.4, "log_prob_threshold": -1.0, "no_speech_threshold": 0.6,
    "condition_on_previous_text": False, "without_timestamps": True, "vad_filter": False,
}
GREEDY_ONE_PASS = {  # transformers' Whisper generate() as seed-tts-eval calls it: greedy, no fallback
    "beam_size": 1, "temperature": 0.0, "condition_on_previous_text": False, "without_timestamps": True,
    "vad_filter": False,
}
_SPACE_BETWEEN_HAN = re.compile(r"(?<=[\u3400-\u9fff]) +(?=[\u3400-\u9fff])")
REF_METRICS = (
    Metric("wer_ref", False, "WER as the reference protocol computes it (its own text normalisation); the paper "
                             "prints the mean of this per-utterance WER"),
    Metric("wer_ref_errors", False, "Word (or unit) edits under the reference normalisation", auxiliary=True),
    Metric("wer_ref_words", True, "Reference words (or units) under the reference normalisation", auxiliary=True),
)


class PaperWhisperWer(WhisperWer):
    """WER of upstream RVCBench: Whisper medium, its normalisation (jieba words for Chinese)."""

    weights = WHISPER_MEDIUM
    languages = WHISPER_LANGUAGES
    model_label = "whisper medium"
    decoding = OPENAI_WHISPER_DEFAULTS
    meta = ScorerMeta(
        name="wer_whisper_medium",
        version=f"{CODE_VERSION}+ref-rvcbench-paper-1+norm-{NORMALIZER_VERSION}"
                f"+faster-whisper-{package_version('faster-whisper')}+{WHISPER_MEDIUM.hf_repo}",
        model=f"{WHISPER_MEDIUM.hf_repo} (CTranslate2)",
        needs=WhisperWer.meta.needs,
        sample_rate=WhisperWer.meta.sample_rate,
        metrics=WhisperWer.meta.metrics + REF_METRICS,
        requirements="pip install faster-whisper jiwer opencc-python-reimplemented jieba; "
                     + WHISPER_MEDIUM.download_command(),
        gpu_compatible=True,
        settings={**OPENAI_WHISPER_DEFAULTS, "language": "manifest", "reference_normalisation": "rvcbench-paper"},
    )

    def __init__(self, language: str = "manifest", batched: bool = False, batch_size: int = 8) -> None:
        if language not in ("manifest", "auto"):
            raise ValueError(f"language must be `manifest` or `auto`, not {language!r}")
        super().__init__(batched=batched, batch_size=batch_size)
        self._language = language
        self._checkpoint = ""

    def model_path(self) -> str:
        path = resolve_weights(self.weights)
        self._checkpoint = weights_fingerprint(path, CT2_FILES)
        return str(path)

    def transcribe(self, wavs: list[np.ndarray], language: str = "en") -> list[str]:
        return super().transcribe(wavs, language=None if self._language == "auto" else language)

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        rows = super().score(batch)
        for item, row in zip(batch, rows, strict=True):
            row.update({m.name: math.nan for m in REF_METRICS})
            if isinstance(row.get("transcript"), str):
                row.update(reference_error_counts(*rvcbench_paper_units(item.target_text, row["transcript"],
                                                                       base_language(item.language))))
            row[f"{self.meta.name}_checkpoint"] = self._checkpoint
        return rows


class SeedTtsWer(PaperWhisperWer):
    """WER of Seed-TTS-eval: Whisper large-v3 (English) and Paraformer-zh (Chinese), its normalisation."""

    weights = WHISPER_LARGE_V3
    languages = frozenset({"en", "zh"})
    model_label = "seed-tts-eval (Whisper large-v3 for en, Paraformer-zh for zh)"
    decoding = GREEDY_ONE_PASS
    meta = ScorerMeta(
        name="wer_seedtts",
        version=f"{CODE_VERSION}+ref-seed-tts-1+norm-{NORMALIZER_VERSION}"
                f"+faster-whisper-{package_version('faster-whisper')}+{WHISPER_LARGE_V3.hf_repo}"
                f"+{PARAFORMER_ZH.hf_repo}",
        model=f"{WHISPER_LARGE_V3.hf_repo} (CTranslate2) for en; {PARAFORMER_ZH.hf_repo} (FunASR) for zh",
        needs=WhisperWer.meta.needs,
        sample_rate=WhisperWer.meta.sample_rate,
        metrics=WhisperWer.meta.metrics + REF_METRICS,
        requirements="pip install faster-whisper jiwer zhon zhconv funasr; " + WHISPER_LARGE_V3.download_command()
                     + "; " + PARAFORMER_ZH.download_command(),
        gpu_compatible=True,
        settings={**GREEDY_ONE_PASS, "language": "manifest", "reference_normalisation": "seed-tts",
                  "paraformer": {"batch_size_s": 300}},
    )

    def __init__(self, batched: bool = False, batch_size: int = 8) -> None:
        super().__init__(language="manifest", batched=batched, batch_size=batch_size)
        self._paraformer = None

    def load(self, device: str) -> None:
        self._device = device
        super().load(device)

    def _load_paraformer(self):
        """Paraformer-zh only when a Chinese clip arrives: an English-only run needs no FunASR weights."""
        if self._paraformer is None:
            folder = resolve_weights(PARAFORMER_ZH)
            try:
                from funasr import AutoModel
            except ImportError as exc:
                raise MissingDependencyError(f"Chinese WER of the seed-tts profile needs FunASR ({exc}): "
                                             "pip install funasr zhconv") from exc
            import torch

            device = getattr(self, "_device", "cpu")
            # ncpu: AutoModel's default (4) is applied with torch.set_num_threads at build and before every
            # generate(), process-wide; the process's own count keeps that a no-op.
            self._paraformer = AutoModel(model=str(folder), device="cuda" if device.startswith("cuda") else "cpu",
                                         disable_update=True, ncpu=torch.get_num_threads())
        return self._paraformer

    def transcribe(self, wavs: list[np.ndarray], language: str = "en") -> list[str]:
        if language != "zh":
            return super().transcribe(wavs, language=language)
        import zhconv

        model = self._load_paraformer()
        texts = []
        for wav in wavs:
            # generate() gives [] when the CIF predictor fires no token (no speech recognised): an empty transcript
            result = model.generate(input=np.asarray(wav, dtype=np.float32), batch_size_s=300)
            text = zhconv.convert(result[0]["text"], "zh-cn") if result else ""
            # SeACo-Paraformer's timestamp path joins characters with spaces ("你 好"): dropped between Han
            # characters so rvcbench's CER does not count them (seed-tts-eval's own units are the same either way)
            texts.append(_SPACE_BETWEEN_HAN.sub("", text))
        return texts

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        blocked: dict[int, str] = {}
        chinese = [i for i, item in enumerate(batch) if base_language(item.language) == "zh"]
        if chinese:
            try:
                self._load_paraformer()
            except MissingDependencyError as exc:  # recorded as these items' failure of the metric, with the reason
                blocked = {i: str(exc) for i in chinese}
        scored = iter(WhisperWer.score(self, [item for i, item in enumerate(batch) if i not in blocked]))
        nan = {m.name: math.nan for m in self.meta.metrics}
        rows = [{**nan, f"{self.meta.name}_error": blocked[i]} if i in blocked else next(scored)
                for i in range(len(batch))]
        for item, row in zip(batch, rows, strict=True):
            if row.get(f"{self.meta.name}_error") and "transcript" not in row:
                continue
            row.update({m.name: math.nan for m in REF_METRICS})
            language = base_language(item.language)
            if isinstance(row.get("transcript"), str) and language in self.languages:
                row.update(reference_error_counts(*seed_tts_units(item.target_text, row["transcript"], language)))
            row[f"{self.meta.name}_checkpoint"] = self._checkpoint
        return rows


__all__ = ["PaperWhisperWer", "SeedTtsWer"]
