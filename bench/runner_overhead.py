"""Runner overhead and pipelining, measured in one run of this script (ratios, not absolute speed).

For `baseline` on the demo set (default: all 50 pairs, the offline profile), three runs into fresh directories:

  serial      in-process, one device, `--no-pipeline`: all synthesis, then all scoring
  pipelined   in-process, one device: clips scored while later ones synthesize
  ray         the pipelined run on a local Ray cluster (`--executor ray`), one synthesis and one scoring actor

Reported from each run's summary `timing`: wall seconds, seconds inside `clone` and inside the scoring replicas,
and for the serial run the runner's overhead = 1 − (clone + scoring) / wall, the share of wall time spent
neither in the model nor in the scorer models (planning, audio I/O, commits, the summary, model loading),
and the same with model loading counted as the models' time.
Ratios: pipelined / serial wall time, ray / pipelined wall time.

    .venv/bin/python bench/runner_overhead.py [--limit 50] [--profile offline] [--skip-ray] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RVCBENCH = [sys.executable, "-m", "rvcbench"]


def run(name: str, work: Path, limit: int, profile: str, extra: list[str]) -> dict:
    out = work / name
    cmd = [*RVCBENCH, "run", "--model", "baseline", "--profile", profile, "--limit", str(limit), "--quiet",
           "--out", str(out), *extra]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    timing = json.loads((out / "summary.json").read_text())["timing"]
    inside = timing["clone_seconds"] + timing["scoring_seconds"]
    return {"run": name, "process_wall_s": wall, "runner_wall_s": timing["wall_seconds"],
            "clone_s": timing["clone_seconds"], "scoring_s": timing["scoring_seconds"],
            "load_s": timing["load_seconds"], "overhead_share": 1.0 - inside / timing["wall_seconds"],
            "overhead_share_without_loading": 1.0 - (inside + timing["load_seconds"]) / timing["wall_seconds"],
            "items": timing["synthesized"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--profile", default="offline")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rvcbench-overhead-"))
    try:
        rows = [run("serial", work, args.limit, args.profile, ["--device", "cpu", "--no-pipeline"]),
                run("pipelined", work, args.limit, args.profile, ["--device", "cpu"])]
        if not args.skip_ray:
            rows.append(run("ray", work, args.limit, args.profile, ["--executor", "ray", "--devices", "cpu",
                                                                     "--ray-cpus-per-actor", "0.5"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"baseline, {args.limit} demo pairs, profile {args.profile}")
    print("| run | process wall s | runner wall s | in clone s | in scorers s | loading models s | overhead share "
          "| overhead share, loading not counted |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        serial = r["run"] == "serial"
        share = f"{r['overhead_share']:.1%}" if serial else "(concurrent)"
        share2 = f"{r['overhead_share_without_loading']:.1%}" if serial else "(concurrent)"
        print(f"| {r['run']} | {r['process_wall_s']:.1f} | {r['runner_wall_s']:.1f} | {r['clone_s']:.1f} | "
              f"{r['scoring_s']:.1f} | {r['load_s']:.1f} | {share} | {share2} |")
    by = {r["run"]: r for r in rows}
    ratios = {"pipelined/serial wall": by["pipelined"]["process_wall_s"] / by["serial"]["process_wall_s"]}
    if "ray" in by:
        ratios["ray/pipelined wall"] = by["ray"]["process_wall_s"] / by["pipelined"]["process_wall_s"]
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ratios": ratios}, indent=1))


if __name__ == "__main__":
    main()
