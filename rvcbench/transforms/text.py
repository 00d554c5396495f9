"""Text perturbations of the target text: what a cloner does with imperfect input text.

`typos` introduces character-level typing errors (swap, drop or duplicate adjacent letters) in an exact
fraction of the words, chosen by the seeded generator, so every model reads the same misspelt text.
"""

from __future__ import annotations

import re

import numpy as np

from rvcbench.transforms.base import TEXT, TransformContext, TransformUnavailable, transform

WORD = re.compile(r"[^\W\d_]{2,}")  # runs of two or more letters (any script); digits and punctuation untouched
OPERATIONS = ("swap", "drop", "duplicate")


def misspell(word: str, rng: np.random.Generator) -> str:
    """One typo in `word`: swap two differing adjacent letters, drop one, or duplicate one (rng's choice)."""
    operation = OPERATIONS[int(rng.integers(len(OPERATIONS)))]
    if operation == "swap":
        pairs = [i for i in range(len(word) - 1) if word[i] != word[i + 1]]
        if pairs:
            i = pairs[int(rng.integers(len(pairs)))]
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        operation = "duplicate"  # every adjacent pair is equal ("aa"): a swap would change nothing
    i = int(rng.integers(len(word)))
    if operation == "drop":
        return word[:i] + word[i + 1:]
    return word[: i + 1] + word[i] + word[i + 1:]


@transform("typos", TEXT)
def typos(text: str, rng: np.random.Generator, context: TransformContext, *, rate: float) -> str:
    """Character-level typos (swap/drop/duplicate adjacent letters) in a fraction `rate` of the words.

    round(rate × number of words) words of two or more letters get one typo each.
    """
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"rate must be between 0 and 1; got {rate!r}")
    matches = list(WORD.finditer(text))
    count = int(round(float(rate) * len(matches)))
    if count == 0:
        return text
    chosen = set(int(i) for i in rng.choice(len(matches), size=count, replace=False))
    pieces, end = [], 0
    for index, match in enumerate(matches):
        pieces.append(text[end:match.start()])
        pieces.append(misspell(match.group(), rng) if index in chosen else match.group())
        end = match.end()
    pieces.append(text[end:])
    return "".join(pieces)


@transform("wrong_transcript", TEXT)
def wrong_transcript(text: str, rng: np.random.Generator, context: TransformContext) -> str:
    """Another utterance's transcript in place of the prompt's (a mismatched transcript, as after a mix-up).

    Chosen by the seeded generator among the dataset's transcripts that differ from `text`.
    """
    others = [t for t in context.texts() if t.strip() != text.strip()]
    if not others:
        raise TransformUnavailable("the dataset has no other transcript to swap in")
    return others[int(rng.integers(len(others)))]


@transform("asr_noise", TEXT)
def asr_noise(text: str, rng: np.random.Generator, context: TransformContext, *, rate: float) -> str:
    """Simulated ASR errors in a fraction `rate` of the words: substitution, deletion or insertion.

    round(rate × words) positions get one error each (substitutions and insertions draw words from the
    dataset's vocabulary), as a transcript from an imperfect ASR system would have.
    """
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"rate must be between 0 and 1; got {rate!r}")
    words = text.split()
    vocabulary = sorted({w for t in context.texts() for w in t.split()} - set(words)) or ["uh"]
    count = int(round(float(rate) * len(words)))
    if count == 0:
        return text
    chosen = set(int(i) for i in rng.choice(len(words), size=count, replace=False))
    out = []
    for index, word in enumerate(words):
        if index not in chosen:
            out.append(word)
            continue
        operation = ("substitute", "delete", "insert")[int(rng.integers(3))]
        if operation == "substitute":
            out.append(vocabulary[int(rng.integers(len(vocabulary)))])
        elif operation == "insert":
            out += [word, vocabulary[int(rng.integers(len(vocabulary)))]]
    return " ".join(out)
