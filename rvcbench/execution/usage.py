"""What a phase of a run cost: seconds, GPU-seconds, peak GPU memory and peak resident memory.

Nobody in the field reports what a model costs to run, so every invocation of a run measures, per phase
(synthesis, scoring), the seconds spent inside its replicas, the GPU-seconds (those seconds on a CUDA device),
the peak GPU memory and the peak resident set size (RSS) of the process the phase ran in:

- peak RSS: the high-water mark of that process's resident memory (`own_peak_rss_bytes`). An adapter in its
  own environment runs in a worker subprocess, which reports its own figures with every clone reply
  (`worker_usage`); an in-process adapter shares the process with the scorers, so both phases then report the
  same peak.
- peak GPU memory: through torch (`torch.cuda.max_memory_allocated`) where the process has torch and CUDA
  initialised; otherwise by sampling the device with NVML (`pynvml`, package nvidia-ml-py) while the stage
  runs, which counts every process on the device (`gpu_source` says which).

An invocation's figures are appended to the run directory's `usage.jsonl`, so a run resumed after a crash
adds up the cost of all its invocations (`summarize_cost`).
"""

from __future__ import annotations

import json
import resource
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

USAGE_FILE = "usage.jsonl"
SAMPLE_SECONDS = 0.2  # NVML polling period while a stage runs without torch


@dataclass
class PhaseUsage:
    """One phase's cost in one invocation: sums of seconds, maxima of memory."""

    wall_seconds: float = 0.0  # inside the phase's replicas (model loading excluded, see `load_seconds`)
    gpu_seconds: float = 0.0  # the part of wall_seconds spent by replicas on a CUDA device
    peak_gpu_bytes: int | None = None
    peak_rss_bytes: int | None = None
    gpu_source: str | None = None  # "torch" or "nvml (whole device)"
    devices: list[str] = field(default_factory=list)

    def add(self, seconds: float, device: str, sample: dict) -> None:
        self.wall_seconds += seconds
        if device.startswith("cuda"):
            self.gpu_seconds += seconds
        if device not in self.devices:
            self.devices.append(device)
        self.peak_rss_bytes = _max(self.peak_rss_bytes, sample.get("peak_rss_bytes"))
        self.peak_gpu_bytes = _max(self.peak_gpu_bytes, sample.get("peak_gpu_bytes"))
        self.gpu_source = sample.get("gpu_source") or self.gpu_source


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def own_peak_rss_bytes() -> int:
    """This process's peak resident set size.

    On Linux the high-water mark of this process's own memory (`VmHWM` in /proc/self/status): `ru_maxrss`
    there starts from the parent's size at fork and survives exec, so a worker started from a 2 GB runner
    would report 2 GB. Elsewhere `ru_maxrss` (macOS: bytes).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def torch_peak_gpu_bytes(device: str) -> int | None:
    """torch's peak allocated memory on `device`, when this process has torch with CUDA initialised."""
    torch = sys.modules.get("torch")
    if torch is None or not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    if not torch.cuda.is_initialized():
        return None
    return int(torch.cuda.max_memory_allocated(torch.device(device)))


def process_sample(device: str) -> dict:
    """This process's figures now (what a worker sends back with each clone reply)."""
    gpu = torch_peak_gpu_bytes(device)
    return {"peak_rss_bytes": own_peak_rss_bytes(), "peak_gpu_bytes": gpu, "gpu_source": "torch" if gpu else None}


class DeviceSampler:
    """Polls NVML for the used memory of one CUDA device while a stage runs, for code that torch does not see.

    Without pynvml, or on a CPU device, it measures nothing (`peak_bytes` stays None).
    """

    def __init__(self, device: str) -> None:
        self.peak_bytes: int | None = None
        self._handle = _nvml_handle(device)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> DeviceSampler:
        if self._handle is not None:
            self._read()
            self._thread = threading.Thread(target=self._poll, daemon=True, name="rvcbench-nvml")
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._read()

    def _poll(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._read()

    def _read(self) -> None:
        import pynvml

        used = int(pynvml.nvmlDeviceGetMemoryInfo(self._handle).used)
        self.peak_bytes = used if self.peak_bytes is None else max(self.peak_bytes, used)


def _nvml_handle(device: str):
    if not device.startswith("cuda"):
        return None
    try:
        import pynvml
    except ImportError:
        return None
    pynvml.nvmlInit()
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    return pynvml.nvmlDeviceGetHandleByIndex(index)


def stage_sample(device: str, adapter: object | None, sampler: DeviceSampler | None) -> dict:
    """The figures of the process a stage's model ran in: the adapter's worker when it has one, else this one."""
    sample = getattr(adapter, "worker_usage", None) or process_sample(device)
    if sample.get("peak_gpu_bytes") is None and sampler is not None and sampler.peak_bytes is not None:
        sample = {**sample, "peak_gpu_bytes": sampler.peak_bytes, "gpu_source": "nvml (whole device)"}
    return sample


def append_usage(run_root: Path, invocation: dict) -> None:
    """Add one invocation's cost to the run's `usage.jsonl` (one JSON object per line)."""
    path = Path(run_root) / USAGE_FILE
    torn = path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n")
    with open(path, "a", encoding="utf-8") as f:
        f.write(("\n" if torn else "") + json.dumps(invocation, sort_keys=True) + "\n")


def read_usage(run_root: Path) -> list[dict]:
    """The invocations' figures. A line torn by a kill mid-write is skipped: that invocation's figures are lost,
    and `summarize_cost` then reports the cost as incomplete."""
    path = Path(run_root) / USAGE_FILE
    if not path.exists():
        return []
    invocations = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            invocations.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # torn: see the docstring
    return invocations


def invocation_usage(phases: dict[str, PhaseUsage], load_seconds: float, syntheses: int) -> dict:
    return {"phases": {name: asdict(p) for name, p in phases.items()}, "load_seconds": load_seconds,
            "syntheses": syntheses}


def summarize_cost(invocations: list[dict], *, syntheses: int, audio_seconds: float, clone_seconds: float) -> dict:
    """The run's cost over all its invocations, and per hour of generated audio.

    `syntheses`, `audio_seconds` and `clone_seconds` are the run store's totals (`RunStore.synth_totals`);
    `complete` is False when some syntheses were made by an invocation that recorded no cost (an older
    rvcbench, a shard merged without its usage file), so the sums undercount.
    """
    phases: dict[str, dict] = {}
    for invocation in invocations:
        for name, phase in invocation["phases"].items():
            total = phases.setdefault(name, asdict(PhaseUsage()))
            total["wall_seconds"] += phase["wall_seconds"]
            total["gpu_seconds"] += phase["gpu_seconds"]
            total["peak_gpu_bytes"] = _max(total["peak_gpu_bytes"], phase["peak_gpu_bytes"])
            total["peak_rss_bytes"] = _max(total["peak_rss_bytes"], phase["peak_rss_bytes"])
            total["gpu_source"] = phase["gpu_source"] or total["gpu_source"]
            total["devices"] += [d for d in phase["devices"] if d not in total["devices"]]
    loading = sum(i["load_seconds"] for i in invocations)
    synthesis = phases.get("synthesis")
    hours = audio_seconds / 3600.0
    per_hour = {
        "synthesis_wall_seconds": synthesis["wall_seconds"] / hours if synthesis and hours else None,
        "synthesis_gpu_seconds": synthesis["gpu_seconds"] / hours if synthesis and hours else None,
    }
    return {"generated_audio_seconds": audio_seconds,
            "rtf": clone_seconds / audio_seconds if audio_seconds else None,
            "phases": {**phases, "loading": {"wall_seconds": loading}},
            "per_audio_hour": per_hour, "invocations": len(invocations),
            "complete": sum(i["syntheses"] for i in invocations) >= syntheses}
