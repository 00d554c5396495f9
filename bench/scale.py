"""How `rvcbench run` scales with the number of pairs: wall time, items/s, peak memory, re-open time.

For each size (default 1437, 14370, 143700 pairs) a dataset is built with `bench/make_scale_dataset.py`
(the demo's 50 rows cycled, unique pair ids, shared audio trimmed to 1 s: the oracle writes one clip per
pair, ~5.5 s at the demo's lengths = ~25 GB of clips at 143,700 pairs, ~7 GB at 1 s). Each mode runs

    rvcbench run --model oracle --profile none|offline --data DATA --out RUNDIR --quiet [--extra ...]

as a child process on a fresh RUNDIR and records its wall seconds, items/s and peak RSS, then runs the
same command again on the finished run directory ("re-open": it only reads the run back and prints the
summary) and times that. `oracle-offline` scores every clip with the offline profile, which is slow on a
CPU (~0.2 clips/s = ~5 s per clip measured on this 2-core machine: 1437 pairs take ~2 h), so it runs only
for sizes <= --offline-max. Its metrics mean little here (the trimmed audio says only the start of the
target text); only its timing and memory are the point.

Peak RSS is GNU time's %M (`/usr/bin/time`): the largest resident set of the child or of any descendant it
waited for, not a sum over processes (workers of a separate daemon, such as Ray's, are not counted).
Without /usr/bin/time, the child runs the CLI in-process and reports its own getrusage maxrss (and that of
its waited-for children) from an atexit hook: that misses the interpreter's teardown, which GNU time
includes (~130 MB more on a 50-pair oracle run).

    python bench/scale.py                                   # 1437, 14370, 143700 pairs
    python bench/scale.py --sizes 200,1437 --json /tmp/scale.json
    python bench/scale.py --extra "--executor worker"       # the same runs with another executor

Prints a markdown table and, per mode, RSS(largest)/RSS(smallest) and items/s(largest)/items/s(smallest).
A benchmark: it asserts nothing. Data and runs live under --work (default /tmp/rvcbench-scale).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_scale_dataset import build  # noqa: E402

MODES = {"oracle-none": ["--model", "oracle", "--profile", "none"],
         "oracle-offline": ["--model", "oracle", "--profile", "offline"]}
GNU_TIME = "/usr/bin/time"
# Fallback: run the CLI in this child and write its peak RSS (KiB, Linux) to the file named in argv[1].
IN_PROCESS = ("import atexit, resource, sys; out = sys.argv.pop(1); "
              "atexit.register(lambda: open(out, 'w').write(str(max(resource.getrusage(resource.RUSAGE_SELF)"
              ".ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)))); "
              "sys.argv[0] = 'rvcbench'; from rvcbench.cli import main; main()")


def rss_method() -> str:
    return "GNU time %M" if os.access(GNU_TIME, os.X_OK) else "in-process getrusage"


def measured(args: list[str]) -> dict:
    """Run `rvcbench ARGS` as a child; its exit code, wall seconds, peak RSS (MB) and output tail."""
    with tempfile.NamedTemporaryFile(suffix=".rss", delete=False) as handle:
        rss_file = handle.name
    if os.access(GNU_TIME, os.X_OK):
        command = [GNU_TIME, "-f", "%M", "-o", rss_file, sys.executable, "-m", "rvcbench", *args]
    else:
        command = [sys.executable, "-c", IN_PROCESS, rss_file, *args]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    try:
        rss_mb = int(Path(rss_file).read_text().split()[-1]) / 1024
    except (OSError, ValueError, IndexError):
        rss_mb = None
    os.unlink(rss_file)
    return {"rc": done.returncode, "wall_s": wall, "rss_mb": rss_mb,
            "tail": (done.stdout + done.stderr).strip().splitlines()[-5:]}


def run_one(size: int, mode: str, data: Path, run_dir: Path, extra: list[str]) -> dict:
    shutil.rmtree(run_dir, ignore_errors=True)
    args = ["run", *MODES[mode], "--data", str(data), "--out", str(run_dir), "--quiet", *extra]
    row = {"size": size, "mode": mode, "command": "rvcbench " + shlex.join(args)}
    first = measured(args)
    row.update(rc=first["rc"], wall_s=first["wall_s"], rss_mb=first["rss_mb"])
    summary_path = run_dir / "summary.json"
    if first["rc"] != 0 or not summary_path.is_file():
        row["error"] = first["tail"]
        return row
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    row.update(items=summary.get("items"), ok=summary.get("ok"), failed=summary.get("failed"),
               items_per_s=(summary.get("items") or 0) / first["wall_s"], timing=summary.get("timing"))
    again = measured(args)
    row.update(reopen_rc=again["rc"], reopen_s=again["wall_s"], reopen_rss_mb=again["rss_mb"])
    if again["rc"] != 0:
        row["reopen_error"] = again["tail"]
    return row


def fmt(value: object, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def ratios(rows: list[dict]) -> dict:
    """Per mode, largest size over smallest size, among the runs that finished."""
    out = {}
    for mode in MODES:
        done = sorted((r for r in rows if r["mode"] == mode and "items_per_s" in r), key=lambda r: r["size"])
        if len(done) < 2:
            continue
        small, large = done[0], done[-1]
        rss = large["rss_mb"] / small["rss_mb"] if large["rss_mb"] and small["rss_mb"] else None
        out[mode] = {"sizes": [small["size"], large["size"]], "rss_ratio": rss,
                     "items_per_s_ratio": large["items_per_s"] / small["items_per_s"]}
    return out


def report(rows: list[dict], result_ratios: dict, notes: list[str]) -> str:
    lines = [f"- {n}" for n in notes] + ["",
             "| size | mode | items | ok | wall s | items/s | peak RSS MB | re-open s |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['size']} | {r['mode']} | {fmt(r.get('items'), 'd')} | {fmt(r.get('ok'), 'd')} "
                     f"| {r['wall_s']:.1f} | {fmt(r.get('items_per_s'), '.1f')} | {fmt(r['rss_mb'], '.0f')} "
                     f"| {fmt(r.get('reopen_s'), '.1f')} |")
    lines.append("")
    for mode, q in result_ratios.items():
        small, large = q["sizes"]
        lines.append(f"- {mode}, {large} vs {small} pairs: RSS x{fmt(q['rss_ratio'], '.2f')}, "
                     f"items/s x{q['items_per_s_ratio']:.2f}")
    for r in rows:
        if r.get("timing"):
            lines.append(f"- timing ({r['size']}, {r['mode']}): "
                         + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                                     for k, v in r["timing"].items()))
        for key in ("error", "reopen_error"):
            if r.get(key):
                lines.append(f"- {key.replace('_', ' ')} ({r['size']}, {r['mode']}, rc {r['rc']}): "
                             + " / ".join(r[key]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1437,14370,143700", help="comma-separated numbers of pairs")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of: {', '.join(MODES)}")
    parser.add_argument("--offline-max", type=int, default=200, help="largest size oracle-offline runs on")
    parser.add_argument("--clip-seconds", type=float, default=1.0, help="length of the dataset's audio files")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rvcbench-scale"), help="datasets and run dirs")
    parser.add_argument("--extra", default="", help='more `rvcbench run` arguments, e.g. "--executor worker"')
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    modes = [m for m in args.modes.split(",") if m]
    if unknown := [m for m in modes if m not in MODES]:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; known: {', '.join(MODES)}")
    extra = shlex.split(args.extra)
    notes = [f"peak RSS: {rss_method()} (largest single process of the child's tree, not a sum)",
             f"dataset: demo rows cycled, audio trimmed to {args.clip_seconds:g} s; work dir {args.work}",
             f"extra arguments: {args.extra or 'none'}"]
    skipped = [s for s in sizes if s > args.offline_max]
    if "oracle-offline" in modes and skipped:
        notes.append(f"oracle-offline skipped for {', '.join(map(str, skipped))} pairs (> --offline-max "
                     f"{args.offline_max}): offline scoring is ~0.2 clips/s (~5 s/clip) on a 2-core CPU")
    rows = []
    for size in sizes:
        data = args.work / "data" / str(size)
        build(size, data, args.clip_seconds)
        for mode in modes:
            if mode == "oracle-offline" and size > args.offline_max:
                continue
            print(f"{size} pairs, {mode} ...", file=sys.stderr, flush=True)
            rows.append(run_one(size, mode, data, args.work / "runs" / f"{size}-{mode}", extra))
    result_ratios = ratios(rows)
    print(report(rows, result_ratios, notes))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"notes": notes, "runs": rows, "ratios": result_ratios}, indent=1) + "\n",
                             encoding="utf-8")


if __name__ == "__main__":
    main()
