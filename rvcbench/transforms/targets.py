"""Target transforms: decide what the model is asked to say (text and language) when a run is planned.

Unlike text transforms (typos keep the intended text as WER's reference), these rewrite the intended
text itself, so WER is scored against the new text and no real recording says it (the pair's target
recording still gives SIM its speaker reference). They run at planning time, seeded per (task,
condition, pair): every model gets the same texts. A transform that cannot produce a target for a pair
raises `TransformUnavailable`; the pair is then reported unavailable for that condition, with the reason.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import yaml

from rvcbench.transforms.base import TARGET, Target, TransformContext, TransformUnavailable, transform

CHARS_PER_SECOND = 14.0  # speaking-rate estimate of read speech in alphabetic scripts (characters incl. spaces)
CHARS_PER_SECOND_CHARACTER_SCRIPTS = 4.5  # Mandarin/Japanese read speech: about 4-5 characters (syllables) a second


def estimated_seconds(text: str, language: str) -> float:
    """How long reading `text` takes at an ordinary pace: the planner's expected length for rewritten targets."""
    from rvcbench.scoring.text_normalize import CHARACTER_LANGUAGES, base_language

    rate = CHARS_PER_SECOND_CHARACTER_SCRIPTS if base_language(language) in CHARACTER_LANGUAGES else CHARS_PER_SECOND
    return len(text) / rate


@cache
def _data(name: str) -> dict[str, list[str]]:
    text = resources.files("rvcbench.transforms").joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def hard_text_categories() -> list[str]:
    return list(_data("hard_texts.yaml"))


@transform("hard_text", TARGET)
def hard_text(target: Target, rng: np.random.Generator, context: TransformContext, *, category: str) -> Target:
    """An English sentence of one hard category (numbers, dates, URLs, spam, tongue twisters, emoji...).

    Categories and sentences: `rvcbench/transforms/data/hard_texts.yaml`. English prompts only make
    sense for English sentences, so a pair in another target language is unavailable.
    """
    texts = _data("hard_texts.yaml")
    if category not in texts:
        raise ValueError(f"unknown category {category!r}; known: {sorted(texts)}")
    if target.language != "en":
        raise TransformUnavailable(f"hard texts are English; this pair's target language is {target.language}")
    sentences = texts[category]
    return Target(sentences[int(rng.integers(len(sentences)))], "en")


@transform("long_form_text", TARGET)
def long_form_text(target: Target, rng: np.random.Generator, context: TransformContext, *,
                   seconds: float) -> Target:
    """About `seconds` of speech: the pair's text, then the speaker's other transcripts, then others'.

    Transcripts of the same language are appended (speaker's own first, in manifest order, then the
    rest of the dataset in a seeded order, cycling if the dataset is small) until the text's estimated
    duration (`estimated_seconds`) reaches `seconds`. Sentences are joined with ". " so every boundary is
    punctuated.
    """
    if seconds <= 0:
        raise ValueError(f"seconds must be positive; got {seconds!r}")
    own = [t for t in context.texts(language=target.language, speaker_id=context.speaker_id) if t != target.text]
    others = [t for t in context.texts(language=target.language) if t not in own and t != target.text]
    others = [others[int(i)] for i in rng.permutation(len(others))]
    pool = own + others
    if not pool:
        raise TransformUnavailable(f"the dataset has no other {target.language} transcript to extend the text with")
    pieces, index = [target.text.strip()], 0
    while estimated_seconds(" ".join(pieces), target.language) < seconds:
        pieces.append(pool[index % len(pool)].strip())
        index += 1
    return Target(" ".join(_sentence(p) for p in pieces), target.language)


def _sentence(text: str) -> str:
    return text if text[-1:] in ".!?。！？" else text + "."


@transform("cross_lingual_text", TARGET)
def cross_lingual_text(target: Target, rng: np.random.Generator, context: TransformContext, *,
                       language: str) -> Target:
    """A target text in `language`, different from the prompt's language.

    Texts come from the dataset's own transcripts in that language when it has some, else from the
    sentences shipped in `rvcbench/transforms/data/sentences.yaml` (en, fr, zh). A pair whose prompt is
    already in `language` is unavailable for the condition (that is same-language cloning).
    """
    if context.prompt_language == language:
        raise TransformUnavailable(f"the prompt is already in {language}: not a cross-lingual pair")
    texts = context.texts(language=language) or _data("sentences.yaml").get(language, [])
    if not texts:
        raise TransformUnavailable(f"no {language} text in the dataset or in rvcbench's sentence list")
    return Target(texts[int(rng.integers(len(texts)))], language)


@transform("same_language", TARGET)
def same_language(target: Target, rng: np.random.Generator, context: TransformContext, *,
                  language: str) -> Target:
    """Keep the pair as it is if prompt and target are both in `language`; otherwise it is unavailable.

    Selects the same-language pairs of one language (multilingual task) without changing them, so they
    share their clip with the clean condition.
    """
    if target.language != language or context.prompt_language != language:
        raise TransformUnavailable(f"not a {language} pair (prompt {context.prompt_language}, "
                                   f"target {target.language}); use a dataset with {language} speech")
    return target
