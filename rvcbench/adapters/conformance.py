"""Conformance checks every adapter must pass (`rvcbench check-adapter MODEL`).

They test what the engine relies on and cannot see when it goes wrong in a run: a clip at another rate
than declared, a batch returned in another order, randomness that ignores the seed, state carried from
one item to the next, a declared language that does not work, a failure without a reason. The probes are
three real pairs of the embedded demo set (three speakers; targets of about 23, 47 and 87 characters),
so a check costs about a dozen short clones.

What "sample rate" can test: a waveform carries no rate, so the check reads the declared rate back from
`describe()` after `load` and requires a median speaking rate of 8–30 characters per second of speech
at the declared rate (real read English: about 13–22). Audio made at 44.1 or 48 kHz and declared as
16 kHz (or the reverse) falls outside; a mismatch under about 2× is not observable without a reference.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from rvcbench.adapters.contract import ANY_LANGUAGE, CloneFailure, CloneRequest, VoiceCloner
from rvcbench.audio import load_audio
from rvcbench.data import load_dataset
from rvcbench.synthesis import OutputRejected, check_waveform

PROBE_PAIRS = ("arctic_axb__axb_arctic_a0005", "arctic_aew__aew_arctic_a0001", "vctk_p231__p231_006")
PROBE_SEED = 1234
MIN_CHARS_PER_SECOND, MAX_CHARS_PER_SECOND = 8.0, 30.0
SPEECH_FLOOR_DB = -30.0  # frames quieter than this (relative to the loudest) are pauses, not speech
LANGUAGE_CHECK_MAX_SECONDS = 30.0
UNDECLARED_CANDIDATES = ("fi", "sw", "is", "cy", "eu")
NO_MESSAGE = "with no message"
SAMPLE_SENTENCES = {
    "en": "The weather is nice today.", "zh": "今天天气很好。", "ja": "今日はいい天気ですね。",
    "ko": "오늘은 날씨가 좋네요.", "fr": "Il fait beau aujourd'hui.", "de": "Heute ist das Wetter schön.",
    "es": "Hoy hace buen tiempo.", "it": "Oggi il tempo è bello.", "pt": "Hoje o tempo está bom.",
    "ru": "Сегодня хорошая погода.", "pl": "Dzisiaj jest ładna pogoda.", "nl": "Het is mooi weer vandaag.",
    "tr": "Bugün hava çok güzel.", "cs": "Dnes je hezké počasí.", "ar": "الطقس جميل اليوم.",
    "hu": "Ma szép idő van.", "hi": "आज मौसम अच्छा है।", "sv": "Det är fint väder i dag.",
    "uk": "Сьогодні гарна погода.", "vi": "Hôm nay trời đẹp.", "id": "Cuaca hari ini bagus.",
}


@dataclass(frozen=True)
class CheckResult:
    check: str
    passed: bool | None  # None: not applicable here
    detail: str

    @property
    def label(self) -> str:
        return {True: "PASS", False: "FAIL", None: "SKIP"}[self.passed]


@dataclass(frozen=True)
class Probe:
    request: CloneRequest
    expected_seconds: float


def probe_requests(needs_target_audio: bool) -> list[Probe]:
    """The three probe pairs as requests (targets attached only for adapters that declare they need them)."""
    dataset = load_dataset("demo")
    rows = dataset.manifest.set_index("pair_id").loc[list(PROBE_PAIRS)]
    probes = []
    for pair_id, row in rows.iterrows():
        prompt, prompt_sr = load_audio(dataset.audio_path(row["prompt_file_name"]))
        target, target_sr = load_audio(dataset.audio_path(row["target_file_name"]))
        request = CloneRequest(pair_id=str(pair_id), prompt_audio=prompt, prompt_sample_rate=prompt_sr,
                               prompt_text=row["prompt_text"], prompt_language=row["prompt_language"],
                               target_text=row["target_text"], target_language=row["target_language"],
                               seed=PROBE_SEED, target_audio=target if needs_target_audio else None,
                               target_sample_rate=target_sr if needs_target_audio else None)
        probes.append(Probe(request, len(target) / target_sr))
    return probes


def speech_seconds(wav: np.ndarray, sample_rate: int) -> float:
    """Seconds from the first to the last frame of speech (leading and trailing silence trimmed)."""
    frame = max(1, sample_rate // 50)
    frames = len(wav) // frame
    if frames == 0:
        return len(wav) / sample_rate
    rms = np.sqrt(np.mean(wav[: frames * frame].astype(np.float64).reshape(frames, frame) ** 2, axis=1))
    active = np.flatnonzero(rms > rms.max() * 10 ** (SPEECH_FLOOR_DB / 20))
    return (active[-1] - active[0] + 1) * frame / sample_rate


class Session:
    """One adapter under test: clone calls that never raise (an exception becomes its message)."""

    def __init__(self, adapter: VoiceCloner) -> None:
        self.adapter = adapter

    def clone(self, requests: list[CloneRequest]) -> list[object] | str:
        try:
            outputs = list(self.adapter.clone(requests))
        except Exception as exc:  # noqa: BLE001 — a raising adapter is what the checks report
            message = str(exc).strip()[:300]
            return f"clone raised {type(exc).__name__}: {message}" if message else \
                f"clone raised {type(exc).__name__} {NO_MESSAGE}"
        if len(outputs) != len(requests):
            return f"clone returned {len(outputs)} outputs for {len(requests)} requests"
        return outputs

    def valid(self, output: object, expected_seconds: float) -> np.ndarray | str:
        if isinstance(output, CloneFailure):
            return f"CloneFailure({output.reason!r})"
        try:
            return check_waveform(output, self.adapter.sample_rate, expected_seconds)
        except OutputRejected as exc:
            return f"rejected by the engine: {exc}"


def check_declarations(adapter: VoiceCloner) -> CheckResult:
    info = adapter.describe()
    try:
        json.dumps(info)
    except (TypeError, ValueError) as exc:
        return CheckResult("declarations", False, f"describe() is not JSON (it is recorded with every run): {exc}")
    if info.get("sample_rate") != adapter.sample_rate:
        return CheckResult("declarations", False, f"describe() says {info.get('sample_rate')} Hz, the class "
                                                  f"declares {adapter.sample_rate} Hz")
    return CheckResult("declarations", True, f"{adapter.sample_rate} Hz, languages {sorted(adapter.languages)}, "
                                             f"batch size {adapter.batch_size}, version {adapter.version}")


def check_batch(session: Session, probes: list[Probe]) -> list[CheckResult]:
    """One batch of three (long, short, medium): valid clips, plausible speaking rate, order kept."""
    order = [2, 0, 1]
    outputs = session.clone([probes[i].request for i in order])
    if isinstance(outputs, str):
        return [CheckResult(name, False, outputs) for name in ("valid output", "sample rate", "batch order")]
    waves = {}
    longest = max(p.expected_seconds for p in probes)  # the length itself is judged by the rate and order checks
    for index, output in zip(order, outputs, strict=True):
        wav = session.valid(output, longest)
        if isinstance(wav, str):
            return [CheckResult("valid output", False, f"{probes[index].request.pair_id}: {wav}"),
                    CheckResult("sample rate", None, "needs valid clips"),
                    CheckResult("batch order", None, "needs valid clips")]
        waves[index] = wav
    results = [CheckResult("valid output", True, "float32 mono, finite, not silent, plausible length")]
    sr = session.adapter.sample_rate
    rates = {i: len(probes[i].request.target_text) / speech_seconds(waves[i], sr) for i in waves}
    described = session.adapter.describe().get("sample_rate")
    median = float(np.median(list(rates.values())))
    shown = f"median {median:.1f} chars/s (clips: " + ", ".join(f"{rates[i]:.1f}" for i in sorted(rates)) + ")"
    if described != sr:
        results.append(CheckResult("sample rate", False, f"after load, describe() says {described} Hz; "
                                                         f"the adapter declares {sr} Hz"))
    elif MIN_CHARS_PER_SECOND <= median <= MAX_CHARS_PER_SECOND:
        results.append(CheckResult("sample rate", True, f"speaking rate at {sr} Hz: {shown}"))
    else:
        results.append(CheckResult("sample rate", False, f"speaking rate at the declared {sr} Hz: {shown}, outside "
                                                         f"{MIN_CHARS_PER_SECOND:g}–{MAX_CHARS_PER_SECOND:g}: the "
                                                         f"clips are not at {sr} Hz"))
    lengths = [speech_seconds(waves[i], sr) for i in range(3)]
    if lengths[0] < lengths[1] < lengths[2]:
        results.append(CheckResult("batch order", True, "outputs follow the requests (speech of "
                                                        + ", ".join(f"{s:.1f}" for s in lengths) + " s)"))
    else:
        sent = ", ".join(str(len(probes[i].request.target_text)) for i in order)
        got = ", ".join(f"{lengths[i]:.1f}" for i in order)
        results.append(CheckResult("batch order", False, f"outputs do not follow the requests: texts of {sent} chars "
                                                         f"came back as speech of {got} s, in that order"))
    return results


def same_clip(a: np.ndarray, b: np.ndarray) -> tuple[bool, str]:
    if a.shape != b.shape:
        return False, f"{a.size} vs {b.size} samples"
    diff = float(np.max(np.abs(a.astype(np.float64) - b)))
    return diff <= 1e-4, "identical" if diff == 0 else f"max difference {diff:.2g}"


def check_determinism_and_state(session: Session, probes: list[Probe]) -> list[CheckResult]:
    """Right after load: B; A (another speaker); B; B. The last two give determinism, the first and third state."""
    short = probes[0]
    other = Probe(replace(probes[1].request, target_text=short.request.target_text), short.expected_seconds)
    clips = []
    for probe in (short, other, short, short):
        outputs = session.clone([probe.request])
        wav = outputs if isinstance(outputs, str) else session.valid(outputs[0], probe.expected_seconds)
        if isinstance(wav, str):
            return [CheckResult("deterministic", False, wav), CheckResult("no state leaking", None, wav)]
        clips.append(wav)
    same, detail = same_clip(clips[2], clips[3])
    results = [CheckResult("deterministic", same, f"same request and seed twice: {detail}")]
    if not same:
        return [*results, CheckResult("no state leaking", None, "needs a deterministic adapter")]
    same, detail = same_clip(clips[0], clips[2])
    return [*results, CheckResult("no state leaking", same,
                                  f"{short.request.pair_id} before and after cloning another speaker: {detail}")]


def check_languages(session: Session, probes: list[Probe]) -> CheckResult:
    adapter = session.adapter
    declared = sorted(adapter.languages - {ANY_LANGUAGE})
    undeclared = next(code for code in UNDECLARED_CANDIDATES if code not in adapter.languages)
    notes, failures = [], []
    if ANY_LANGUAGE in adapter.languages:
        notes.append("takes any language")
    elif adapter.supports_language(undeclared):
        failures.append(f"supports_language() accepts {undeclared!r}, which `languages` does not declare")
    else:
        notes.append(f"the engine refuses {undeclared!r} (unsupported language)")
    for language in declared:
        text = SAMPLE_SENTENCES.get(language.split("-")[0].lower())
        if language in {p.request.target_language for p in probes}:
            continue  # the probes already spoke it
        if text is None:
            notes.append(f"{language}: no sample sentence, not checked")
            continue
        request = replace(probes[0].request, target_text=text, target_language=language)
        outputs = session.clone([request])
        wav = outputs if isinstance(outputs, str) else session.valid(outputs[0], LANGUAGE_CHECK_MAX_SECONDS)
        if isinstance(wav, str):
            failures.append(f"{language}: {wav}")
    if failures:
        return CheckResult("languages", False, "; ".join(failures))
    checked = [lang for lang in declared if lang.split("-")[0].lower() in SAMPLE_SENTENCES]
    return CheckResult("languages", True, "; ".join([f"made clips in {', '.join(checked) or '(none)'}", *notes]))


def impossible_request(adapter: VoiceCloner, request: CloneRequest) -> tuple[CloneRequest, str]:
    """A request this adapter cannot make: an undeclared language, a missing target, or no text."""
    if ANY_LANGUAGE not in adapter.languages:
        language = next(code for code in UNDECLARED_CANDIDATES if code not in adapter.languages)
        return replace(request, target_language=language), f"undeclared language {language!r}"
    if adapter.needs_target_audio:
        return replace(request, target_audio=None, target_sample_rate=None), "no target recording"
    return replace(request, target_text=""), "empty target text"


def check_failure_reasons(session: Session, probes: list[Probe]) -> CheckResult:
    """An impossible request beside a good one: a reason for the bad item, and the good one still made."""
    good = probes[0]
    bad, what = impossible_request(session.adapter, good.request)
    outputs = session.clone([good.request, bad])
    if isinstance(outputs, str):
        if outputs.endswith(NO_MESSAGE):
            return CheckResult("failure reasons", False, f"{what}: {outputs}")
        return CheckResult("failure reasons", True, f"{what}: {outputs} (the engine retries the batch item by item)")
    made = session.valid(outputs[0], good.expected_seconds)
    if isinstance(made, str):
        return CheckResult("failure reasons", False, f"a good request beside a failing one was lost: {made}")
    failed = outputs[1]
    if isinstance(failed, CloneFailure):
        ok = bool(failed.reason.strip())
        return CheckResult("failure reasons", ok, f"{what}: CloneFailure({failed.reason!r})" if ok else
                           f"{what}: CloneFailure with an empty reason")
    verdict = session.valid(failed, good.expected_seconds)
    if isinstance(verdict, str):
        return CheckResult("failure reasons", True, f"{what}: {verdict}")
    return CheckResult("failure reasons", False, f"{what}: returned audio instead of CloneFailure(reason)")


def run_checks(adapter: VoiceCloner, device: str = "cpu",
               on_result: Callable[[CheckResult], None] = lambda result: None) -> list[CheckResult]:
    """Load the adapter and run every check; nothing raises, every problem is a failed check."""
    results: list[CheckResult] = []

    def add(found: list[CheckResult]) -> None:
        for result in found:
            results.append(result)
            on_result(result)

    add([check_declarations(adapter)])
    try:
        adapter.load(device)
    except Exception as exc:  # noqa: BLE001 — reported as the failed `load` check
        add([CheckResult("load", False, f"{type(exc).__name__}: {exc}")])
        return results
    add([CheckResult("load", True, f"on {device}")])
    session = Session(adapter)
    probes = probe_requests(adapter.needs_target_audio)
    add(check_determinism_and_state(session, probes))  # first: its first clone meets the adapter fresh
    add(check_batch(session, probes))
    add([check_languages(session, probes)])
    add([check_failure_reasons(session, probes)])
    return results


def format_row(result: CheckResult) -> str:
    return f"{result.check:<18} {result.label:<5} {result.detail}"
