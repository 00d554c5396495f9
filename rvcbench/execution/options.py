"""The run's execution options, checked before any work: each bad value is an error naming the option.

Devices: `--devices cuda:0,cuda:1` (one synthesis replica per entry; `cpu` may repeat, as CPU stand-ins
for GPUs), `--gpus N` (= cuda:0 … cuda:N-1, or N GPU actors on Ray), or the single `--device`.
"""

from __future__ import annotations

import hashlib

from rvcbench.errors import RvcbenchError


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """`i/n` → (i, n) with 0 ≤ i < n; None → None."""
    if value is None:
        return None
    index, sep, count = value.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or n < 1 or not 0 <= i < n:
        raise RvcbenchError(f"--shard {value!r}: expected i/n with 0 <= i < n (e.g. 0/4 … 3/4 for four shards)")
    return i, n


def in_shard(synth_key: str, shard: tuple[int, int] | None) -> bool:
    """Deterministic partition by synthesis key: items sharing a clip stay in one shard."""
    if shard is None:
        return True
    digest = hashlib.sha256(synth_key.encode()).digest()
    return int.from_bytes(digest[:8], "little") % shard[1] == shard[0]


def cuda_devices() -> list[str]:
    """The CUDA devices this machine has (none without torch or a GPU)."""
    try:
        import torch
    except ImportError:
        return []
    return [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []


def resolve_devices(device: str, devices: str | None, gpus: int | None, *, on_ray: bool = False,
                    option: str = "--devices") -> list[str]:
    """The synthesis replicas' devices. On Ray, `--gpus N` asks the cluster (not this machine) for N GPUs."""
    if devices is not None and gpus is not None:
        raise RvcbenchError(f"give {option} or --gpus, not both")
    if gpus is not None:
        if gpus < 1:
            raise RvcbenchError(f"--gpus {gpus}: must be at least 1")
        if on_ray:
            return ["cuda"] * gpus
        found = cuda_devices()
        if gpus > len(found):
            raise RvcbenchError(f"--gpus {gpus}: this machine has {len(found)} CUDA device(s)"
                                + (f" ({', '.join(found)})" if found else "") + "; use --executor ray for a cluster")
        return found[:gpus]
    if devices is None:
        return [device]
    return check_devices(devices, option, on_ray=on_ray)


def check_devices(value: str, option: str, *, on_ray: bool = False) -> list[str]:
    names = [d.strip() for d in value.split(",")]
    if not names or any(not d for d in names):
        raise RvcbenchError(f"{option} {value!r}: expected a comma-separated list such as cuda:0,cuda:1 or cpu,cpu")
    found = cuda_devices()
    for name in names:
        if name == "cpu":
            continue
        if name == "cuda" or name.startswith("cuda:"):
            if on_ray:  # the cluster's GPUs, not this machine's
                continue
            index = name.partition(":")[2] or "0"
            if not index.isdigit() or f"cuda:{index}" not in found:
                raise RvcbenchError(f"{option}: device {name!r} does not exist here; devices found: "
                                    f"{', '.join(['cpu', *found])}")
            continue
        raise RvcbenchError(f"{option}: unknown device {name!r}; use cpu, cuda or cuda:N (found: "
                            f"{', '.join(['cpu', *found])})")
    if on_ray and len({n.partition(':')[0] for n in names}) > 1:
        raise RvcbenchError(f"{option} {value!r}: on Ray all replicas are of one kind (cpu or cuda)")
    return names


def check_positive(name: str, value: float | None, *, integer: bool = True) -> None:
    if value is None:
        return
    if value < 1 if integer else value <= 0:
        raise RvcbenchError(f"{name} {value}: must be {'at least 1' if integer else 'positive'}")


def parse_resources(value: str | None) -> dict[str, float] | None:
    """`NAME=N,...` (custom Ray resources a synthesis actor asks for) → {name: amount}."""
    if not value:
        return None
    out = {}
    for part in value.split(","):
        name, sep, amount = part.strip().partition("=")
        try:
            number = float(amount)
        except ValueError:
            number = -1.0
        if not sep or not name or number <= 0:
            raise RvcbenchError(f"--ray-resources {part!r}: expected NAME=N with N > 0 (e.g. stand_in_gpu=1)")
        out[name] = number
    return out
