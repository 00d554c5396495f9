"""Text normalisation applied to both the reference text and the ASR hypothesis before WER/CER.

WER depends on the normaliser as much as on the ASR model ("50 dogs." vs "fifty dogs" is 0 % or 50 %
WER), so the rules are fixed, versioned (`NORMALIZER_VERSION`, recorded in the WER scorer's version)
and written down here. They follow the spirit of Whisper's `EnglishTextNormalizer`, kept small.

English (`normalize_english`), applied in this order:
  1. Unicode NFKC, lowercase (`str.lower`); typographic apostrophes/quotes (’ ‘ ʼ ´ `) become `'`.
  2. Abbreviated titles: mr → mister, mrs → missus, dr → doctor (with or without the dot).
  3. Unambiguous contractions are expanded: won't → will not, can't → can not, shan't → shall not,
     let's → let us, n't → not, 're → are, 've → have, 'll → will, 'm → am.
     Ambiguous ones are NOT expanded ('s: is/has/possessive; 'd: would/had); their apostrophe is
     dropped in step 6, so "it's" and "its" both become "its".
  4. Numbers are verbalised with num2words: thousands separators are removed ("1,000" → "1000"),
     "$5" → "five dollars", "5%" → "five percent", ordinals "21st" → "twenty first", decimals
     "3.5" → "three point five", integers 1100–2099 (not multiples of 1000) as years
     ("1990" → "nineteen ninety"), other integers as cardinals ("50" → "fifty"); the words "and" and
     the hyphens/commas num2words inserts are dropped ("105" → "one hundred five"); in numbers
     already spelled out, "and" after hundred/thousand/million/billion before a number word is
     dropped too ("one hundred and five" → "one hundred five").
  5. Hesitations that Whisper drops anyway are removed: uh, um, hmm, mm, mhm, mmm.
  6. Every other character of Unicode category P (punctuation) or S (symbols) becomes a space;
     apostrophes are deleted (joining "o'clock" → "oclock").
  7. Whitespace is collapsed; leading/trailing whitespace removed.

Other languages (`normalize_basic`, the documented fallback): NFKC, `str.casefold`, punctuation and
symbols → space, whitespace collapsed. Numbers are left as written.

Languages written without spaces between words (`CHARACTER_LANGUAGES`: zh, ja, th, lo, km, my, bo):
`word_units` splits them into characters, so their "WER" is a character error rate.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

NORMALIZER_VERSION = "1"

CHARACTER_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo"})

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "´": "'", "`": "'"})

_TITLES = (
    (re.compile(r"\bmrs\b\.?"), "missus"),
    (re.compile(r"\bmr\b\.?"), "mister"),
    (re.compile(r"\bdr\b\.?"), "doctor"),
)

_CONTRACTIONS = (
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"\blet's\b"), "let us"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'m\b"), " am"),
)

_FILLERS = re.compile(r"\b(?:uh|um|hmm|mm|mhm|mmm)\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_CURRENCY = re.compile(r"\$(\d+(?:\.\d+)?)")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s?%")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SPELLED_AND = re.compile(
    r"\b(hundred|thousand|million|billion)[\s,]+and\s+(?=(?:one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety)\b)")


def _number_words(text: str, to: str = "cardinal") -> str:
    from num2words import num2words

    if "." in text:
        value: float | int = float(text)
    else:
        value = int(text)
        if to == "cardinal" and 1100 <= value <= 2099 and value % 1000 != 0 and len(text) == 4:
            to = "year"
    words = num2words(value, lang="en", to=to)
    words = words.replace("-", " ").replace(",", " ")
    return " " + re.sub(r"\band\b", " ", words) + " "


def _verbalize_numbers(text: str) -> str:
    text = _THOUSANDS.sub("", text)
    text = _CURRENCY.sub(lambda m: m.group(1) + " dollars", text)
    text = _PERCENT.sub(lambda m: m.group(1) + " percent", text)
    text = _ORDINAL.sub(lambda m: _number_words(m.group(1), to="ordinal"), text)
    return _NUMBER.sub(lambda m: _number_words(m.group(0)), text)


def _strip_punctuation(text: str) -> str:
    text = text.replace("'", "")
    return "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def normalize_basic(text: str) -> str:
    """Language-independent fallback: NFKC, casefold, punctuation/symbols → space, collapse spaces."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _collapse("".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text))


def normalize_english(text: str) -> str:
    """The English rules listed in this module's docstring."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_APOSTROPHES)
    for pattern, replacement in _TITLES:
        text = pattern.sub(replacement, text)
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    text = _verbalize_numbers(text)
    text = _SPELLED_AND.sub(r"\1 ", text)
    text = _FILLERS.sub(" ", text)
    return _collapse(_strip_punctuation(text))


NORMALIZERS: dict[str, Callable[[str], str]] = {"en": normalize_english}


def base_language(language: str) -> str:
    """'en-US' / 'en_gb' / 'EN' → 'en'."""
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]


def normalize_text(text: str, language: str = "en") -> str:
    """Normalise `text` with the rules for `language`; unknown languages use `normalize_basic`."""
    return NORMALIZERS.get(base_language(language), normalize_basic)(text)


def word_units(normalized: str, language: str = "en") -> list[str]:
    """The units WER counts: words, or characters for languages written without spaces."""
    if base_language(language) in CHARACTER_LANGUAGES:
        return [ch for ch in normalized if not ch.isspace()]
    return normalized.split()
