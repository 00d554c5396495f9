"""Rebuild the embedded demo dataset (rvcbench/data/demo_speech/) from ../shared/data/demo_speech.

Run once by maintainers; its output is committed. Audio is re-encoded losslessly to FLAC (the
decoded PCM is checked sample-for-sample against the source WAV), the manifest is written in the
RVCBench `metadata.parquet` layout, and ATTRIBUTION.md ships beside it.

    python tools/build_demo_dataset.py [--source ../shared/data/demo_speech]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from rvcbench.data.demo import demo_dataset_root
from rvcbench.data.manifest import pairs_from_utterances


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo = Path(__file__).resolve().parents[1]
    parser.add_argument("--source", type=Path, default=repo.parent / "shared" / "data" / "demo_speech")
    args = parser.parse_args()
    source: Path = args.source
    out = demo_dataset_root()
    if out.exists():
        shutil.rmtree(out)
    (out / "audios").mkdir(parents=True)

    utts = pd.read_csv(source / "metadata.csv")
    flac_names = []
    for row in utts.itertuples():
        wav_path = source / row.path
        if hashlib.sha256(wav_path.read_bytes()).hexdigest() != row.sha256:
            raise SystemExit(f"{wav_path}: sha256 differs from metadata.csv")
        pcm, sr = sf.read(wav_path, dtype="int16")
        name = f"audios/{row.speaker_id}/{row.utt_id}.flac"
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(out / name, pcm, sr, format="FLAC", subtype="PCM_16")
        back, sr_back = sf.read(out / name, dtype="int16")
        if sr_back != sr or not np.array_equal(back, pcm):
            raise SystemExit(f"{name}: FLAC round trip is not lossless")
        flac_names.append(name)
    utts["file_name"] = flac_names

    kept = ["speaker_id", "utt_id", "file_name", "text", "language", "gender", "accent", "source_corpus", "license"]
    manifest = pairs_from_utterances(utts[kept], dataset_name="demo_speech", split="demo")
    manifest.to_parquet(out / "metadata.parquet", index=False)
    utts.to_csv(out / "source_metadata.csv", index=False)
    shutil.copy(source / "ATTRIBUTION.md", out / "ATTRIBUTION.md")
    print(f"wrote {len(manifest)} pairs, {len(utts)} recordings to {out}")


if __name__ == "__main__":
    main()
