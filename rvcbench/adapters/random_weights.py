"""Random-weight checks: an adapter's real upstream inference code, run through the worker, with no checkpoint.

No voice-cloning checkpoint can be downloaded where the project is built, so the strongest evidence that an
adapter calls its upstream correctly is to run the upstream package's own inference code, built from its real
config made small, with random weights, through the real worker in the model's own environment.

A model opts in with `models/<key>/random_weight_check.py`, a module that both environments can import (it
imports its upstream only inside functions) and that defines:

- `SPEC`, a `RandomWeightSpec`: what to record (the upstream distributions) and what to expect;
- `Adapter`, a subclass of the model's real `Adapter` (`adapter_module(__file__).Adapter`) whose `load` builds
  the small random model (best: saved in upstream's own checkpoint format and loaded by the real `load`).
  `clone` must stay the real adapter's.

`rvcbench check-adapter KEY --random-weights` (`run_random_weight_check`) starts the worker on that module in the
model's recorded environment, loads it, clones real demo prompts, and checks: every output is float32 mono and
finite (and, where the spec says how, of the expected length) at the declared sample rate; a batch equals each
item alone within the spec's tolerance (when the adapter batches); the same request and seed give the same clip;
an impossible request beside a good one is a `CloneFailure` with a reason and the good one still comes back; and
the spec's own extra requests fail with the reasons it names. The outcome is written to
`models/<key>/random_weight_check.json`, from which `docs/model-checks.md` is generated.

It proves call shapes, argument names, batching and failure handling of the upstream code path; it says nothing
about output quality (random weights speak no words).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

CHECK_FILE = "random_weight_check.py"
RECORD_FILE = "random_weight_check.json"


@dataclass(frozen=True)
class FailureProbe:
    """An extra request the adapter must answer with a `CloneFailure` whose reason contains `reason`."""

    what: str  # shown in the report: "a target longer than PL-BERT's 512 positions"
    target_text: str | None = None  # replaces the probe's target text, when set
    prompt_text: str | None = None  # replaces the probe's prompt transcript, when set
    target_language: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class RandomWeightSpec:
    """What a model's random-weight check records and expects.

    `distributions`: the installed distributions whose versions identify the upstream code that ran (the first
    is the upstream itself: "qwen-tts", "f5-tts", ...); a checkout's commit is recorded on its own.
    `batch_tolerance`: largest difference between an item in a batch and the same item alone, relative to the
    item's peak; None when batch and single differ by design (say why in `notes`).
    `expected_samples`: the clip length in samples as a function of the request, when upstream's arithmetic fixes
    it (hop sizes, durations); None when it depends on the random model's choices.
    `seeded`: the same request with another seed must give another clip (a sampler that reads the seed).
    """

    distributions: tuple[str, ...]
    built: str  # one line: what was built ("2-layer Qwen3 talker of width 64, upstream's 12 Hz codec config")
    batch_tolerance: float | None = 1e-4
    expected_samples: Callable | None = None
    seeded: bool = False
    failure_probes: tuple[FailureProbe, ...] = ()
    notes: tuple[str, ...] = field(default=())


def adapter_module(check_file: str | Path) -> ModuleType:
    """The real `models/<key>/adapter.py` beside a check module, imported under its own name."""
    path = Path(check_file).resolve().parent / "adapter.py"
    name = f"rvcbench_model_{path.parent.name}_adapter"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.modules[name] = module  # before running it: dataclasses and pickling look their module up there
    spec.loader.exec_module(module)
    return module


# --- the harness: runs in the main environment, the model in its worker -----------------------------------------

DETERMINISM_TOLERANCE = 1e-5  # the same request and seed twice, relative to the peak


@dataclass(frozen=True)
class RandomWeightReport:
    model: str
    results: list  # CheckResult
    record: dict  # what is written to models/<key>/random_weight_check.json

    @property
    def passed(self) -> bool:
        return all(r.passed is not False for r in self.results)


def check_file_of(model: str, registry=None) -> Path:
    """`models/<key>/random_weight_check.py` of a folder adapter; a clear error when there is none."""
    from rvcbench.adapters.registry import build_registry
    from rvcbench.errors import RvcbenchError

    registry = registry or build_registry()
    adapter_file = registry.target(model).rpartition(":")[0]
    path = Path(adapter_file).parent / CHECK_FILE
    if not adapter_file.endswith(".py") or not path.is_file():
        raise RvcbenchError(f"model {model!r} has no random-weight check ({path} does not exist); write one as "
                            "rvcbench/adapters/random_weights.py describes")
    return path


def load_spec(check_file: Path) -> RandomWeightSpec:
    from rvcbench.errors import RvcbenchError

    found = importlib.util.spec_from_file_location(f"rvcbench_random_weight_check_{check_file.parent.name}", check_file)
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)  # read afresh: the file is the one the worker will serve
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, RandomWeightSpec):
        raise RvcbenchError(f"{check_file}: SPEC must be a rvcbench.adapters.random_weights.RandomWeightSpec")
    return spec


def clip_or_reason(output: object) -> np.ndarray | str:
    """The output as a clip the engine takes (1-D float32, finite, not empty), else what is wrong with it."""
    from rvcbench.adapters.contract import CloneFailure

    if isinstance(output, CloneFailure):
        return f"CloneFailure({output.reason!r})"
    if not isinstance(output, np.ndarray):
        return f"{type(output).__name__}, not a numpy array"
    if output.dtype != np.float32 or output.ndim != 1 or output.size == 0:
        return f"array of dtype {output.dtype} and shape {output.shape}; expected non-empty float32 mono"
    if not np.isfinite(output).all():
        return f"{int((~np.isfinite(output)).sum())} NaN/inf samples"
    return output


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Largest sample difference relative to the peak of `b`; inf when the lengths differ."""
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a.astype(np.float64) - b)) / (np.max(np.abs(b)) + 1e-12))


def in_batches(session, requests: list, batch_size: int) -> list:
    """Clone `requests` in calls of at most `batch_size`, as the engine would; a raising call gives its message."""
    outputs = []
    for start in range(0, len(requests), batch_size):
        chunk = requests[start:start + batch_size]
        made = session.clone(chunk)
        outputs += [made] * len(chunk) if isinstance(made, str) else made
    return outputs


def check_outputs(session, spec: RandomWeightSpec, requests: list) -> tuple[list, dict]:
    from rvcbench.adapters.conformance import CheckResult

    adapter = session.adapter
    outputs = in_batches(session, requests, max(1, adapter.batch_size))
    clips, problems, lengths = {}, [], []
    for request, output in zip(requests, outputs, strict=True):
        clip = output if isinstance(output, str) else clip_or_reason(output)
        if isinstance(clip, str):
            problems.append(f"{request.pair_id}: {clip}")
            continue
        clips[request.pair_id] = clip
        lengths.append(f"{clip.size / adapter.sample_rate:.2f} s")
        if spec.expected_samples is not None:
            expected = int(spec.expected_samples(request))
            if clip.size != expected:
                problems.append(f"{request.pair_id}: {clip.size} samples, expected {expected} from upstream's "
                                "arithmetic")
    described = adapter.describe().get("sample_rate")
    results = [CheckResult("outputs", not problems,
                           "; ".join(problems) if problems else
                           f"{len(clips)} clips, float32 mono, finite ({', '.join(lengths)} at "
                           f"{adapter.sample_rate} Hz)" + (", lengths as upstream's arithmetic gives"
                                                           if spec.expected_samples else "")),
               CheckResult("sample rate", described == adapter.sample_rate,
                           f"describe() after load says {described} Hz, the adapter declares {adapter.sample_rate}")]
    return results, clips


def check_batch_equals_single(session, spec: RandomWeightSpec, requests: list, batched: dict) -> list:
    from rvcbench.adapters.conformance import CheckResult

    adapter = session.adapter
    if adapter.batch_size <= 1:
        return [CheckResult("batch == single", None, "batch size 1: the adapter does not batch")]
    if spec.batch_tolerance is None:
        return [CheckResult("batch == single", None, "differs by design: " + "; ".join(spec.notes))]
    if len(batched) < 2:
        return [CheckResult("batch == single", False, "needs at least two clips from the batch")]
    details, ok = [], True
    for request in requests:
        if request.pair_id not in batched:
            continue
        alone = session.clone([request])
        clip = alone if isinstance(alone, str) else clip_or_reason(alone[0])
        if isinstance(clip, str):
            details.append(f"{request.pair_id} alone: {clip}")
            ok = False
            continue
        difference = relative_difference(batched[request.pair_id], clip)
        ok &= difference <= spec.batch_tolerance
        details.append(f"{request.pair_id}: {difference:.1e}" if np.isfinite(difference) else
                       f"{request.pair_id}: {batched[request.pair_id].size} vs {clip.size} samples")
    return [CheckResult("batch == single", ok, f"in a batch of {min(adapter.batch_size, len(requests))} vs alone, "
                                               f"max difference relative to the peak (tolerance "
                                               f"{spec.batch_tolerance:g}): " + ", ".join(details))]


def check_seed(session, spec: RandomWeightSpec, request) -> list:
    from dataclasses import replace

    from rvcbench.adapters.conformance import CheckResult

    clips = []
    for seed in (request.seed, request.seed, request.seed + 1):
        made = session.clone([replace(request, seed=seed)])
        clip = made if isinstance(made, str) else clip_or_reason(made[0])
        if isinstance(clip, str):
            return [CheckResult("deterministic", False, clip)]
        clips.append(clip)
    difference = relative_difference(clips[1], clips[0])
    results = [CheckResult("deterministic", difference <= DETERMINISM_TOLERANCE,
                           f"the same request and seed twice: max difference {difference:.1e} of the peak")]
    if spec.seeded:
        other = relative_difference(clips[2], clips[0])
        shown = (f"max difference {other:.1e} of the peak" if np.isfinite(other) else
                 f"another length ({clips[2].size} vs {clips[0].size} samples)")
        results.append(CheckResult("seed used", other > DETERMINISM_TOLERANCE, f"another seed: {shown}"))
    return results


def check_failures(session, spec: RandomWeightSpec, good) -> list:
    from dataclasses import replace

    from rvcbench.adapters.conformance import CheckResult, impossible_request

    bad, what = impossible_request(session.adapter, good)
    probes = [(what, bad, "")]
    for probe in spec.failure_probes:
        changes = {name: value for name, value in (("target_text", probe.target_text),
                                                    ("prompt_text", probe.prompt_text),
                                                    ("target_language", probe.target_language)) if value is not None}
        probes.append((probe.what, replace(good, **changes), probe.reason))
    results = []
    for what, request, reason in probes:
        made = session.clone([good, request])
        if isinstance(made, str):
            results.append(CheckResult("failure reasons", False, f"{what}: the whole call failed: {made}"))
            continue
        kept = clip_or_reason(made[0])
        failed = made[1]
        from rvcbench.adapters.contract import CloneFailure

        if isinstance(kept, str):
            results.append(CheckResult("failure reasons", False, f"{what}: its good batch-mate was lost: {kept}"))
        elif not isinstance(failed, CloneFailure) or not failed.reason.strip():
            results.append(CheckResult("failure reasons", False, f"{what}: returned {type(failed).__name__}, "
                                                                 "not CloneFailure(reason)"))
        elif reason and reason not in failed.reason:
            results.append(CheckResult("failure reasons", False, f"{what}: reason {failed.reason!r} does not say "
                                                                 f"{reason!r}"))
        else:
            results.append(CheckResult("failure reasons", True, f"{what}: CloneFailure({failed.reason!r}), "
                                                                "its batch-mate made"))
    return results


def distribution_versions(python: str, names: tuple[str, ...]) -> dict[str, str]:
    """The installed version of each distribution in the environment of `python` ("" when not installed)."""
    import json
    import subprocess

    script = ("import json, sys\nfrom importlib import metadata\nout = {}\nfor n in sys.argv[1:]:\n    try:\n"
              "        out[n] = metadata.version(n)\n    except metadata.PackageNotFoundError:\n        out[n] = ''\n"
              "print(json.dumps(out))")
    found = subprocess.run([python, "-c", script, *names], capture_output=True, text=True, check=True)
    return json.loads(found.stdout.strip().splitlines()[-1])


def run_random_weight_check(model: str, python: str | None = None, device: str = "cpu",
                            on_result: Callable = lambda result: None) -> RandomWeightReport:
    """Run `models/<model>/random_weight_check.py` through the worker in the model's environment."""
    import sys
    import time
    from datetime import datetime, timezone

    import rvcbench
    from rvcbench.adapters.conformance import CheckResult, Session, check_declarations, probe_requests
    from rvcbench.adapters.registry import build_registry
    from rvcbench.adapters.worker_client import WorkerCloner, WorkerError
    from rvcbench.model_envs import recorded_env

    registry = build_registry()
    check_file = check_file_of(model, registry)
    spec = load_spec(check_file)
    env = recorded_env(model)
    if python is None:
        if env is None:
            from rvcbench.errors import MissingDependencyError

            raise MissingDependencyError(f"model {model!r} has no recorded environment to run its random-weight check "
                                         f"in; create one with `rvcbench env create {model} --shared-torch`, or pass "
                                         "--python")
        python = env.python
    started = time.time()
    results: list[CheckResult] = []

    def add(found: list) -> None:
        for result in found:
            results.append(result)
            on_result(result)

    try:
        cloner = WorkerCloner(model, python, env_path=env.path if env else None, adapter_file=str(check_file))
    except WorkerError as exc:
        add([CheckResult("worker", False, str(exc))])
        cloner = None
    worker_env = cloner.environment if cloner is not None else {}
    if cloner is not None:
        try:
            where = f"Python {cloner.environment['python']} in {cloner.environment['prefix']}"
            add([CheckResult("worker", True, where)])
            add([check_declarations(cloner)])
            loaded = time.time()
            try:
                cloner.load(device)
            except WorkerError as exc:
                add([CheckResult("load", False, str(exc))])
            else:
                add([CheckResult("load", True, f"random weights built and loaded on {device} in "
                                               f"{time.time() - loaded:.1f} s")])
                session = Session(cloner)
                requests = [probe.request for probe in probe_requests(cloner.needs_target_audio)]
                found, clips = check_outputs(session, spec, requests)
                add(found)
                add(check_batch_equals_single(session, spec, requests, clips))
                add(check_seed(session, spec, requests[0]))
                add(check_failures(session, spec, requests[0]))
        finally:
            cloner.close()
    adapter_cls = registry.get(model)
    record = {
        "model": model,
        "check": "random weights through the worker",
        "passed": all(r.passed is not False for r in results),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 1),
        "adapter_version": adapter_cls.version,
        "rvcbench": rvcbench.__version__,
        "python": worker_env.get("python", ""),
        "environment": "the main environment" if python == sys.executable else Path(python).parent.parent.name,
        "device": device,
        "distributions": distribution_versions(python, spec.distributions),
        "upstream_checkout": ({"repo": adapter_cls.checkout.repo, "commit": adapter_cls.checkout.commit}
                              if adapter_cls.checkout else None),
        "built": spec.built,
        "notes": list(spec.notes),
        "results": [{"check": r.check, "passed": r.passed, "detail": r.detail} for r in results],
    }
    return RandomWeightReport(model, results, record)


def write_record(report: RandomWeightReport, check_file: Path) -> Path:
    import json

    path = check_file.parent / RECORD_FILE
    path.write_text(json.dumps(report.record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# --- helpers for check modules (run in the model's environment) ---------------------------------------------------


def merged_config(base: dict, small: dict) -> dict:
    """An upstream config (`base`) made small: the entries of `small` put in, nested dicts merged."""
    out = dict(base)
    for key, value in small.items():
        out[key] = merged_config(base.get(key, {}), value) if isinstance(value, dict) else value
    return out


def append_logits_processor(model, make_processor: Callable) -> None:
    """Add `make_processor()` (a fresh transformers LogitsProcessor per `generate` call) to the processors that
    `model.generate` builds for itself, so a random model's token choices can be scripted: a random language
    model picks tokens at random and may never stop. Only this model instance is changed."""
    original = type(model)._get_logits_processor

    def with_script(self, *args, **kwargs):
        processors = original(self, *args, **kwargs)
        processors.append(make_processor())
        return processors

    model._get_logits_processor = with_script.__get__(model)


def byte_level_tokenizer(tokenizer_class=None, **special_tokens):
    """A Qwen2-style fast tokenizer over bytes (byte-level BPE, no merges) for a random model's text side.

    The real tokenizers are downloads; every byte is a token here, so any text encodes. `tokenizer_class` is the
    upstream's own fast class (default `transformers.Qwen2TokenizerFast`); `special_tokens` go to its constructor
    (`eos_token=`, `pad_token=`, ...)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    if tokenizer_class is None:
        from transformers import Qwen2TokenizerFast as tokenizer_class
    vocab = {char: index for index, char in enumerate(bytes_to_unicode().values())}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    return tokenizer_class(tokenizer_object=backend, **special_tokens)
