"""The worker protocol: how the runner and an adapter in another environment talk over two pipes.

A message is one frame:

    8 bytes   header length H, unsigned big-endian
    H bytes   header: a JSON object (UTF-8)
    ...       the raw bytes of each array the header lists under "arrays", in order

Each entry of "arrays" is `{"dtype": "<f4", "shape": [n]}` (numpy's `dtype.str`, so byte order is explicit);
its payload is `prod(shape) * itemsize` bytes, C order. Inside the header an array is referenced as
`{"array": i}`. Only numeric arrays cross (bool, int, uint, float).

Why not pickle: the two sides run different environments on purpose (another numpy major version,
another Python), and numpy pickles name private modules that moved between versions
(`numpy.core` → `numpy._core`); unpickling also runs arbitrary code from the other side. JSON plus raw
bytes is version-free, and waveforms cross bit-exact.

Messages (runner → worker, then the worker's answer):

    (worker starts)      → {"op": "hello", "protocol": 1, "attributes": {...}, "describe": {...}, "environment": {...}}
    {"op": "load", "device": "cpu"}             → {"op": "loaded", "describe": {...}}
    {"op": "clone", "requests": [...]}          → {"op": "cloned", "outputs": [{"array": i} | {"failure": "reason"}]}
    {"op": "shutdown"}                          → (the worker exits with status 0)

Any request may be answered `{"op": "error", "error_type": ..., "message": ..., "traceback": ...}` when the
adapter raised; the worker keeps serving. A request is a `CloneRequest` as a JSON object whose audio fields
are array references.
"""

from __future__ import annotations

import json
import struct
from dataclasses import fields
from typing import BinaryIO

import numpy as np

from rvcbench.adapters.contract import CloneFailure, CloneRequest

PROTOCOL_VERSION = 1
_LENGTH = struct.Struct(">Q")
_NUMERIC_KINDS = "biuf"
MAX_HEADER_BYTES = 64 * 1024 * 1024


class ProtocolError(Exception):
    """The other side sent something that is not a frame of this protocol (or closed the stream)."""


class StreamClosed(ProtocolError):
    """The stream ended: the other process exited or closed its end."""


def write_message(stream: BinaryIO, header: dict, arrays: list[np.ndarray] = ()) -> None:
    """Send one frame: the JSON header, then the arrays' raw bytes."""
    specs, payloads = [], []
    for array in arrays:
        array = np.ascontiguousarray(array)
        if array.dtype.kind not in _NUMERIC_KINDS:
            raise ProtocolError(f"cannot send an array of dtype {array.dtype}: only numeric arrays cross")
        specs.append({"dtype": array.dtype.str, "shape": list(array.shape)})
        payloads.append(array.tobytes())
    body = json.dumps({**header, "arrays": specs}).encode("utf-8")
    stream.write(_LENGTH.pack(len(body)) + body)
    for payload in payloads:
        stream.write(payload)
    stream.flush()


def read_message(stream: BinaryIO) -> tuple[dict, list[np.ndarray]]:
    """Receive one frame; raises StreamClosed at end of stream, ProtocolError on garbage."""
    (length,) = _LENGTH.unpack(_read_exact(stream, _LENGTH.size))
    if length > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {length} bytes announced: not a frame of this protocol")
    try:
        header = json.loads(_read_exact(stream, length).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"unreadable header: {exc}") from exc
    arrays = []
    for spec in header.pop("arrays", []):
        dtype = np.dtype(spec["dtype"])
        shape = tuple(int(n) for n in spec["shape"])
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        arrays.append(np.frombuffer(_read_exact(stream, size), dtype=dtype).reshape(shape).copy())
    return header, arrays


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise StreamClosed(f"stream closed after {size - left} of {size} bytes")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


_AUDIO_FIELDS = ("prompt_audio", "target_audio")


def encode_requests(requests: list[CloneRequest]) -> tuple[list[dict], list[np.ndarray]]:
    """CloneRequests as JSON objects plus the arrays they reference."""
    encoded, arrays = [], []
    for request in requests:
        item = {}
        for f in fields(CloneRequest):
            value = getattr(request, f.name)
            if f.name in _AUDIO_FIELDS and value is not None:
                item[f.name] = {"array": len(arrays)}
                arrays.append(np.asarray(value))
            else:
                item[f.name] = value
        encoded.append(item)
    return encoded, arrays


def decode_requests(encoded: list[dict], arrays: list[np.ndarray]) -> list[CloneRequest]:
    requests = []
    for item in encoded:
        values = dict(item)
        for name in _AUDIO_FIELDS:
            if isinstance(values.get(name), dict):
                values[name] = arrays[values[name]["array"]]
        requests.append(CloneRequest(**values))
    return requests


def encode_outputs(outputs: list[object]) -> tuple[list[dict], list[np.ndarray]]:
    """Adapter outputs: arrays cross as they are (the runner's output checks judge them), failures as reasons.

    Something that is neither a numeric array nor a CloneFailure becomes a failure naming its type,
    the same reason the runner's output check gives in-process.
    """
    encoded, arrays = [], []
    for output in outputs:
        if isinstance(output, CloneFailure):
            encoded.append({"failure": output.reason})
        elif isinstance(output, np.ndarray) and output.dtype.kind in _NUMERIC_KINDS:
            encoded.append({"array": len(arrays)})
            arrays.append(output)
        else:
            kind = type(output).__name__ if not isinstance(output, np.ndarray) else f"array of {output.dtype}"
            encoded.append({"failure": f"adapter returned {kind}, not a numeric numpy array"})
    return encoded, arrays


def decode_outputs(encoded: list[dict], arrays: list[np.ndarray]) -> list[np.ndarray | CloneFailure]:
    return [arrays[o["array"]] if "array" in o else CloneFailure(str(o["failure"])) for o in encoded]
