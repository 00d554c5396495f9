"""Build a local dataset folder of N clone pairs from the embedded demo set, for scale benchmarks.

The folder is in the layout `rvcbench run --data DIR` accepts (see `rvcbench/data/loaders.py`):

    DIR/metadata.parquet     N rows, the demo manifest's columns, cycling through its 50 rows; each row
                             gets a unique pair_id `<demo pair_id>_r<k:06d>` (k = 0..N-1), so every row is
                             its own work item (the plan keys items by pair_id and seed)
    DIR/audios/<spk>/<utt>.flac   the demo's 50 recordings, trimmed to their first --clip-seconds
                             (default 1.0), written once and shared by every row that names them
    DIR/ATTRIBUTION.md       the demo's licences and attribution (the audio is a trimmed copy of it)
    DIR/scale_dataset.json   what built the folder (pairs, clip seconds); a rerun with the same
                             settings does nothing

Clips are trimmed because the oracle writes one clip per pair: at the demo's ~5.5 s per file (16-bit WAV clips),
143,700 pairs would fill ~25 GB of run directory; at 1 s they stay ~7 GB. The texts are left whole, so
a trimmed file says only the start of its text: scores on this set (WER above all) are not the oracle's
ceiling; the set is for timing and memory.

    python bench/make_scale_dataset.py --pairs 14370 --out /tmp/scale/14370 [--clip-seconds 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from rvcbench.data.demo import demo_dataset_root

INFO_NAME = "scale_dataset.json"


def build(pairs: int, out: Path, clip_seconds: float) -> bool:
    """Write the dataset; False if `out` already holds the same one."""
    settings = {"pairs": pairs, "clip_seconds": clip_seconds, "source": "demo"}
    info_path = out / INFO_NAME
    if (out / "metadata.parquet").is_file() and info_path.is_file():
        if json.loads(info_path.read_text(encoding="utf-8")) == settings:
            return False
    demo = demo_dataset_root()
    manifest = pd.read_parquet(demo / "metadata.parquet")
    out.mkdir(parents=True, exist_ok=True)
    info_path.unlink(missing_ok=True)  # a half-rebuilt folder is never taken for a finished one
    for name in sorted(set(manifest["prompt_file_name"]) | set(manifest["target_file_name"])):
        audio, rate = sf.read(demo / name, frames=int(round(clip_seconds * sf.info(demo / name).samplerate)),
                              dtype="int16")
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(out / name, audio, rate, format="FLAC", subtype="PCM_16")
    shutil.copyfile(demo / "ATTRIBUTION.md", out / "ATTRIBUTION.md")
    rows = manifest.iloc[np.arange(pairs) % len(manifest)].reset_index(drop=True)
    rows["pair_id"] = [f"{p}_r{k:06d}" for k, p in enumerate(rows["pair_id"])]
    tmp = out / ".metadata.parquet.part"
    rows.to_parquet(tmp, index=False)
    os.replace(tmp, out / "metadata.parquet")
    info_path.write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, required=True, help="rows of the manifest (N)")
    parser.add_argument("--out", type=Path, required=True, help="the dataset folder to write")
    parser.add_argument("--clip-seconds", type=float, default=1.0, help="keep the first S seconds of each file")
    args = parser.parse_args()
    if args.pairs < 1 or args.clip_seconds <= 0:
        parser.error("--pairs and --clip-seconds must be positive")
    written = build(args.pairs, args.out, args.clip_seconds)
    print(f"{args.out}: {args.pairs} pairs, clips of {args.clip_seconds:g} s"
          + ("" if written else " (already there, nothing written)"))


if __name__ == "__main__":
    main()
