"""The text normalisations of the reference protocols, as their code applies them, so a reference profile's WER is
the number its paper prints. rvcbench's own normaliser (numbers verbalised, `text_normalize.py`) stays beside it.

- `rvcbench-paper` (upstream RVCBench `src/evaluation/generation.py` @ b47908d): a text with a CJK character (or a
  transcript Whisper detected as Chinese) is converted to Simplified (OpenCC t2s), its punctuation removed (a
  full-width comma becomes a space first), whitespace collapsed and removed between CJK characters, then
  segmented by jieba: WER over jieba words. Any other text: ASCII punctuation deleted (so "don't" → "dont"),
  lower-cased; no number expansion. WER = jiwer over whitespace words.
- `seed-tts` (seed-tts-eval `run_wer.py` @ 752f429): every punctuation mark of `zhon.hanzi.punctuation` and
  `string.punctuation` except the apostrophe is deleted, double spaces replaced once by single ones; Chinese is
  then scored per character (characters joined by spaces), English lower-cased. The transcript of Paraformer is
  converted to Simplified Chinese with zhconv (`zh-cn`) first. The paper's WER is the mean of per-utterance WER.

Each function returns (reference units, hypothesis units) as the space-joined strings the reference code feeds
to jiwer; `reference_error_counts` turns them into the counts the corpus-level WER needs.
"""

from __future__ import annotations

import math
import re
import string

NORMALISATIONS = ("rvcbench-paper", "seed-tts")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_NOT_WORD = re.compile(r"[^\w\s\u4e00-\u9fff]")
_SPACE_BETWEEN_CJK = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


def contains_cjk(text: str) -> bool:
    return bool(_CJK.search(text or ""))


def to_simplified(text: str) -> str:
    from opencc import OpenCC

    return OpenCC("t2s").convert(text)


def _rvcbench_zh(text: str) -> str:
    text = to_simplified(text).replace("，", " ")
    text = " ".join(_NOT_WORD.sub("", text).split())
    return _SPACE_BETWEEN_CJK.sub("", text).strip()


def rvcbench_paper_units(reference: str, hypothesis: str, detected_language: str | None = None) -> tuple[str, str]:
    """Upstream RVCBench's WER inputs for one utterance."""
    if contains_cjk(hypothesis):
        hypothesis = to_simplified(hypothesis)
    if contains_cjk(reference) or detected_language == "zh":
        import jieba

        return (" ".join(jieba.lcut(_rvcbench_zh(reference))), " ".join(jieba.lcut(_rvcbench_zh(hypothesis))))
    table = str.maketrans("", "", string.punctuation)
    return reference.translate(table).lower(), hypothesis.translate(table).lower()


def seed_tts_units(reference: str, hypothesis: str, language: str) -> tuple[str, str]:
    """seed-tts-eval's WER inputs for one utterance (`language` is `zh` or `en`, as its run_wer.py takes)."""
    from zhon.hanzi import punctuation

    marks = [m for m in punctuation + string.punctuation if m != "'"]
    for mark in marks:
        reference = reference.replace(mark, "")
        hypothesis = hypothesis.replace(mark, "")
    reference, hypothesis = reference.replace("  ", " "), hypothesis.replace("  ", " ")
    if language == "zh":
        return " ".join(reference), " ".join(hypothesis)
    if language == "en":
        return reference.lower(), hypothesis.lower()
    raise ValueError(f"seed-tts-eval scores only zh and en, not {language!r}")


def reference_error_counts(reference_units: str, hypothesis_units: str) -> dict[str, float]:
    """WER and its counts over space-separated units, as jiwer's default transformation splits them.

    An empty reference gives NaN (the reference code would divide by zero or raise).
    """
    import jiwer

    words = reference_units.split()
    if not words:
        return {"wer_ref": math.nan, "wer_ref_errors": math.nan, "wer_ref_words": 0.0}
    out = jiwer.process_words(reference_units, hypothesis_units if hypothesis_units.strip() else "")
    errors = out.substitutions + out.deletions + out.insertions
    return {"wer_ref": errors / len(words), "wer_ref_errors": float(errors), "wer_ref_words": float(len(words))}
