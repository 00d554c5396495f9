"""The WER text normaliser: the rules in its docstring, and the edit counts built on it."""

from __future__ import annotations

import math

import pytest

from rvcbench.scoring.asr import error_counts
from rvcbench.scoring.text_normalize import normalize_basic, normalize_text, word_units


@pytest.mark.parametrize(("written", "spoken"), [
    ("50 dogs.", "fifty dogs"),
    ("For the 20th time", "for the twentieth time"),
    ("in 1990", "in nineteen ninety"),
    ("It costs $5", "it costs five dollars"),
    ("3.5% of 1,000", "three point five percent of one thousand"),
    ("105 people", "one hundred and five people"),
    ("Mr. Smith won't go", "mister smith will not go"),
    ("I'm sure they're here", "i am sure they are here"),
])
def test_written_and_spoken_forms_normalise_to_the_same_string(written: str, spoken: str) -> None:
    assert normalize_text(written, "en") == normalize_text(spoken, "en")


def test_fifty_dogs_exact_form() -> None:
    assert normalize_text("50 dogs.") == "fifty dogs"


def test_case_punctuation_and_whitespace_are_removed() -> None:
    messy = "  Lord,  but I'M glad -- to see you   again, Phil! "
    assert normalize_text(messy) == "lord but i am glad to see you again phil"


def test_ambiguous_contractions_drop_the_apostrophe_only() -> None:
    assert normalize_text("It’s Philip's") == "its philips"
    assert normalize_text("it's") == normalize_text("its")


def test_hesitations_are_removed() -> None:
    assert normalize_text("Um, I think, uh, yes") == "i think yes"


def test_unicode_is_nfkc_normalised() -> None:
    assert normalize_text("ﬁne café") == normalize_text("fine cafe\u0301")


def test_region_tags_use_the_base_language_rules() -> None:
    assert normalize_text("50 dogs", "en-US") == normalize_text("50 dogs", "EN_gb") == "fifty dogs"


def test_other_languages_fall_back_to_basic_rules_and_keep_numbers() -> None:
    assert normalize_text("Ça va? Très BIEN, 50!", "fr") == "ça va très bien 50"
    assert normalize_text("Straße", "de") == normalize_basic("STRASSE")


def test_languages_without_spaces_count_characters() -> None:
    assert word_units("你好 世界", "zh") == ["你", "好", "世", "界"]
    assert word_units("hello world", "en") == ["hello", "world"]


def test_identical_after_normalisation_gives_zero_wer() -> None:
    counts = error_counts("Six spoons of fresh snow peas, five thick slabs.",
                          "6 spoons of fresh snow peas 5 thick slabs")
    assert counts["wer"] == 0.0 and counts["cer"] == 0.0
    assert counts["wer_ref_words"] == 9


def test_shuffled_words_give_high_wer() -> None:
    reference = "She can scoop these things into three red bags and we will go meet her Wednesday"
    words = reference.split()
    shuffled = " ".join(words[1::2] + words[0::2])
    counts = error_counts(reference, shuffled)
    assert counts["wer"] > 0.6
    assert counts["wer_errors"] == pytest.approx(counts["wer"] * counts["wer_ref_words"])


def test_counts_add_up_for_corpus_wer() -> None:
    counts = error_counts("a b c d", "a x c")  # one substitution, one deletion
    assert (counts["wer_errors"], counts["wer_ref_words"]) == (2.0, 4.0)
    assert counts["wer"] == 0.5


def test_empty_hypothesis_is_all_deletions() -> None:
    counts = error_counts("the two men shook hands", "")
    assert counts["wer"] == 1.0


def test_empty_reference_gives_nan() -> None:
    counts = error_counts("...", "anything")
    assert math.isnan(counts["wer"]) and counts["wer_ref_words"] == 0
