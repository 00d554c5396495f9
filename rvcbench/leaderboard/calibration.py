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
from rvcbench.leaderboard.render import e, estimate_cell, scroll_table

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


def calibration_table(calibrations: list[dict], profile: str, rows: list[Entry], columns: list[Column]) -> str:
    datasets = {(r.data["dataset"]["name"], r.data["dataset"].get("fingerprint")) for r in rows}
    chosen = [c for c in calibrations if c.get("profile") == profile
              and (c["dataset"]["name"], c["dataset"].get("fingerprint")) in datasets]
    if not chosen:
        return ""
    head = '<th scope="col">Real recordings</th><th scope="col">Dataset</th>' + "".join(
        f'<th scope="col">{e(c.label)}</th>' for c in columns)
    lines = []
    for calibration in chosen:
        for label, key in (("same speaker (ceiling)", "same_speaker"), ("other speaker (floor)", "other_speaker")):
            values = calibration.get(key, {})
            cells = "".join(estimate_cell(Estimate.of(values.get(c.key))) for c in columns)
            lines.append(f'<tr class="calibration"><th scope="row">{e(label)}</th>'
                         f"<td>{e(calibration['dataset']['name'])}</td>{cells}</tr>")
    table = (f'<table class="calibration"><caption>What these scorers give real recordings (rvcbench calibrate): '
             f"not models, never ranked</caption><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>")
    return "<h3>Calibration</h3>" + scroll_table(table, f"calibration, profile {profile}")
