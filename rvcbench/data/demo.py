"""The embedded demo dataset: 50 real recordings of 11 speakers (VCTK, CMU ARCTIC) shipped in the package.

Licences and attribution: `demo_speech/ATTRIBUTION.md` beside the audio; it ships with the package.
Rebuilt from the source WAVs by `tools/build_demo_dataset.py` (lossless FLAC).
"""

from __future__ import annotations

from pathlib import Path


def demo_dataset_root() -> Path:
    return Path(__file__).resolve().parent / "demo_speech"
