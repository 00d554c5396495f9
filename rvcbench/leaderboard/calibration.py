"""Calibration rows on the site: what the profile's scorers give real recordings (`rvcbench calibrate`).

Shown under each profile's ranking, for the datasets its runs used: the same-speaker ceiling (real target vs
its prompt; WER and MOS of real speech) and the other-speaker floor of speaker similarity. They frame the
models' numbers and are never ranked with them.
"""

from __future__ import annotations

import json
from pathlib import Path

from rvcbench.leaderboard.aggregate import Column, Entry
from rvcbench.leaderboard.estimate import Estimate
from rvcbench.leaderboard.render import macro

DEFAULT_CALIBRATION = Path("leaderboard/calibration")
KIND = "rvcbench-calibration"


def load_calibrations(folder: Path) -> list[dict]:
    """Every calibration file of the folder (others are ignored: the folder may hold notes)."""
    out = []
    for path in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("kind") == KIND:
            out.append(data)
    return out


def calibration_view(calibrations: list[dict], profile: str, rows: list[Entry], columns: list[Column]) -> dict:
    """The ceiling and floor rows of the calibrations made with this profile on these rows' datasets."""
    datasets = {(r.data["dataset"]["name"], r.data["dataset"].get("fingerprint")) for r in rows}
    chosen = [c for c in calibrations if c.get("profile") == profile
              and (c["dataset"]["name"], c["dataset"].get("fingerprint")) in datasets]
    lines = [{"label": label, "dataset": c["dataset"]["name"],
              "cells": [Estimate.of(c.get(key, {}).get(col.key)) for col in columns]}
             for c in chosen
             for label, key in (("same speaker (ceiling)", "same_speaker"), ("other speaker (floor)", "other_speaker"))]
    return {"profile": profile, "columns": columns, "lines": lines}


def calibration_table(calibrations: list[dict], profile: str, rows: list[Entry], columns: list[Column]) -> str:
    """The calibration table as HTML; empty when no calibration matches."""
    return str(macro("fragments.html", "calibration_table")(calibration_view(calibrations, profile, rows, columns)))
