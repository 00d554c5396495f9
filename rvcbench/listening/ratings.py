"""Read the ratings CSVs the page downloads and check every row against the test's key (test.json).

Columns (the page writes them in this order): listener, position, trial, item, design, rating, choice, check,
seconds, time. MOS and MUSHRA rows carry a `rating` (1–5 integer; 0–100) for the stimulus `item`; an ABX row
carries the chosen stimulus as `item` and the side it was shown on (A or B) as `choice`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

from rvcbench.listening.errors import RatingsFileError

COLUMNS = ("listener", "position", "trial", "item", "design", "rating", "choice", "check", "seconds", "time")
REQUIRED = ("listener", "trial", "item", "design", "rating", "choice", "check")
KEY_FILE = "test.json"
RANGES = {"mos": (1.0, 5.0), "mushra": (0.0, 100.0)}


@dataclass(frozen=True)
class Rating:
    listener: str
    trial: str
    item: str
    value: float | None  # MOS / MUSHRA rating; None for an ABX choice (`item` is the chosen stimulus)
    file: Path
    line: int


def load_key(folder: Path) -> dict:
    """The test's key, DIR/test.json, checked to be one."""
    path = Path(folder) / KEY_FILE
    if not path.is_file():
        raise RatingsFileError(f"{path}: no such file; give the exported test's folder with --test DIR")
    try:
        key = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RatingsFileError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(key, dict) or key.get("format") != "rvcbench-listening-test":
        raise RatingsFileError(f"{path}: not the key of an rvcbench listening test (format is not "
                               "'rvcbench-listening-test')")
    return key


def key_for(files: list[Path], test_dir: Path | None) -> tuple[Path, dict]:
    """The one key all ratings files belong to: --test DIR, else the test.json beside each file (all the same)."""
    folders = [Path(test_dir)] if test_dir else sorted({Path(f).parent for f in files})
    keys = [(folder, load_key(folder)) for folder in folders]
    ids = {key["test_id"] for _, key in keys}
    if len(ids) > 1:
        listing = ", ".join(f"{folder / KEY_FILE} ({key['test_id']})" for folder, key in keys)
        raise RatingsFileError(f"the ratings files belong to different tests: {listing}; import one test at a time")
    return keys[0]


def read_ratings(files: list[Path], key: dict) -> list[Rating]:
    """Every row of every file, validated; refuses a file or row that does not fit the key, naming it."""
    ratings: list[Rating] = []
    seen: dict[tuple[str, str, str], tuple[Path, int]] = {}
    for file in map(Path, files):
        for rating in _read_file(file, key):
            where = (rating.listener, rating.trial, rating.item if rating.value is not None else "")
            if where in seen:
                first_file, first_line = seen[where]
                raise RatingsFileError(f"{file}, line {rating.line}: listener {rating.listener!r} answered trial "
                                       f"{rating.trial} again (first in {first_file}, line {first_line}); remove "
                                       "one of the two")
            seen[where] = (file, rating.line)
            ratings.append(rating)
    return ratings


def _read_file(file: Path, key: dict) -> list[Rating]:
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RatingsFileError(f"{file}: cannot read the ratings file ({exc})") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise RatingsFileError(f"{file}, line 1: the header lacks the column(s) {', '.join(missing)}; expected "
                               f"{','.join(COLUMNS)} (the file the test page downloads)")
    rows = []
    for row in reader:
        try:
            rows.append(_rating(row, key, file, reader.line_num))
        except RatingsFileError as exc:
            raise RatingsFileError(f"{file}, line {reader.line_num}: {exc}") from None
    if not rows:
        raise RatingsFileError(f"{file}: no ratings below the header")
    return rows


def _rating(row: dict, key: dict, file: Path, line: int) -> Rating:
    if None in row or any(v is None for v in row.values()):
        raise RatingsFileError("the row does not have as many fields as the header")
    design, listener = row["design"].strip(), row["listener"].strip()
    if design != key["design"]:
        raise RatingsFileError(f"design {design!r}, but the test is {key['design']!r}")
    if not listener:
        raise RatingsFileError("the listener is empty")
    trial = next((t for t in key["trials"] if t["id"] == row["trial"].strip()), None)
    if trial is None:
        raise RatingsFileError(f"trial {row['trial']!r} is not in this test's key (test {key['test_id']}): the file "
                               "belongs to another test, or was edited")
    item = row["item"].strip()
    if item not in trial["stimuli"]:
        raise RatingsFileError(f"item {item!r} is not a stimulus of trial {trial['id']}")
    expected_check = trial["check"] if design == "abx" else key["stimuli"][item]["check"]
    if row["check"].strip() != expected_check:
        raise RatingsFileError(f"check flag {row['check']!r}, but the key says {expected_check!r} for this item")
    if design == "abx":
        if row["choice"].strip() not in ("A", "B"):
            raise RatingsFileError(f"choice {row['choice']!r}: an ABX answer is A or B")
        return Rating(listener, trial["id"], item, None, file, line)
    return Rating(listener, trial["id"], item, _value(row["rating"], design), file, line)


def _value(text: str, design: str) -> float:
    low, high = RANGES[design]
    try:
        value = float(text)
    except ValueError:
        raise RatingsFileError(f"rating {text!r} is not a number") from None
    if not math.isfinite(value) or not low <= value <= high or (design == "mos" and value != int(value)):
        kind = "an integer from 1 to 5" if design == "mos" else "a number from 0 to 100"
        raise RatingsFileError(f"rating {text!r}: a {design.upper()} rating is {kind}")
    return value
