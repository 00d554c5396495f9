"""The worker process: one adapter, loaded once, served over the protocol of `rvcbench.adapters.protocol`.

    python -m rvcbench.adapters.worker MODEL [--weights W] [--adapter-file FILE]

`--adapter-file` serves the class `Adapter` of FILE as MODEL instead of the registered adapter (the
random-weight checks of `rvcbench.adapters.random_weights` run their check adapter this way).

The runner starts this with the interpreter of the model's own environment when the model's stack does
not import in the main one. Messages travel on the process's original stdin/stdout, which are claimed
before anything else runs: file descriptor 1 then points at stderr and 0 at /dev/null, so a print (from
Python or from C code) in the model can never corrupt a frame. Everything the model logs arrives on
stderr, which the runner keeps (the last lines explain a crash).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import BinaryIO

from rvcbench.adapters.contract import VoiceCloner
from rvcbench.adapters.protocol import (
    PROTOCOL_VERSION,
    StreamClosed,
    decode_requests,
    encode_outputs,
    read_message,
    write_message,
)
from rvcbench.execution.usage import process_sample

ATTRIBUTES = ("name", "description", "sample_rate", "languages", "needs_prompt_text", "needs_target_audio",
              "batch_size", "requirements", "version", "weights_id", "license", "stack_modules", "weights")


def claim_protocol_streams() -> tuple[BinaryIO, BinaryIO]:
    """Keep private copies of stdin/stdout for frames; point fd 0 at /dev/null and fd 1 at stderr."""
    messages_in = os.fdopen(os.dup(0), "rb")
    messages_out = os.fdopen(os.dup(1), "wb")
    sys.stdout.flush()
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return messages_in, messages_out


def attributes(adapter: VoiceCloner) -> dict:
    """The adapter's declarations as JSON values (the runner's proxy takes them as its own)."""
    values = {name: getattr(adapter, name) for name in ATTRIBUTES}
    values["languages"] = sorted(values["languages"])
    values["stack_modules"] = list(values["stack_modules"])
    return values


def environment() -> dict:
    return {"python": sys.version.split()[0], "executable": sys.executable, "prefix": sys.prefix, "pid": os.getpid()}


def error_message(exc: BaseException) -> dict:
    return {"op": "error", "error_type": type(exc).__name__, "message": str(exc).strip() or repr(exc),
            "traceback": traceback.format_exc(limit=8)}


def serve(adapter: VoiceCloner, messages_in: BinaryIO, messages_out: BinaryIO) -> None:
    """Answer requests until `shutdown` or until the runner closes the stream."""
    device = "cpu"
    while True:
        try:
            header, arrays = read_message(messages_in)
        except StreamClosed:
            return
        op = header.get("op")
        if op == "shutdown":
            return
        try:
            if op == "load":
                device = str(header["device"])
                adapter.load(device)
                write_message(messages_out, {"op": "loaded", "describe": adapter.describe()})
            elif op == "clone":
                outputs = list(adapter.clone(decode_requests(header["requests"], arrays)))
                encoded, out_arrays = encode_outputs(outputs)
                write_message(messages_out, {"op": "cloned", "outputs": encoded, "usage": process_sample(device)},
                              out_arrays)
            else:
                write_message(messages_out, {"op": "error", "error_type": "ProtocolError",
                                             "message": f"unknown request {op!r}", "traceback": ""})
        except Exception as exc:  # noqa: BLE001 — sent to the runner, which records it like an in-process raise
            write_message(messages_out, error_message(exc))


def main(argv: list[str] | None = None) -> int:
    messages_in, messages_out = claim_protocol_streams()
    parser = argparse.ArgumentParser(prog="python -m rvcbench.adapters.worker")
    parser.add_argument("model")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--adapter-file", default=None)
    args = parser.parse_args(argv)
    from rvcbench.adapters.registry import build_registry, create_adapter

    try:
        registry = build_registry()
        if args.adapter_file:
            registry.register(args.model, f"{Path(args.adapter_file).resolve()}:Adapter", replace=True)
        adapter = create_adapter(args.model, registry, weights=args.weights)
    except Exception as exc:  # noqa: BLE001 — the runner shows why the adapter cannot be built in this environment
        write_message(messages_out, error_message(exc))
        return 1
    write_message(messages_out, {"op": "hello", "protocol": PROTOCOL_VERSION, "attributes": attributes(adapter),
                                 "describe": adapter.describe(), "environment": environment()})
    serve(adapter, messages_in, messages_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
