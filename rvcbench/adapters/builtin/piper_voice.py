"""A Piper (VITS) voice run directly with onnxruntime, phonemised by espeak-ng through ctypes.

This is the text-to-speech half of the `baseline` adapter. It deliberately avoids the GPL
`piper-tts` / `piper-phonemize` packages: phonemes come from the espeak-ng library shipped by
`espeakng_loader`, and the phoneme-id encoding (BOS, pad after every symbol, EOS) is re-implemented
from the voice's JSON config.

espeak-ng keeps global state and is not thread-safe, so it is initialised once per process and
every call goes through one lock. `TextToPhonemes` returns one clause per call and drops the
punctuation, so the text is split on clause punctuation here and the marks are put back as Piper
symbols (the voice was trained with them; they carry pauses and intonation).
"""

from __future__ import annotations

import ctypes
import json
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rvcbench.errors import MissingDependencyError

BOS, EOS, PAD = "^", "$", "_"
CLAUSE_PUNCTUATION = ",.;:!?"
_CLAUSE_RE = re.compile(r"([^,.;:!?]*)([,.;:!?]*)")
_LANG_SWITCH_RE = re.compile(r"\([a-z\-]+\)")  # espeak marks language switches as "(fr)"

_ESPEAK_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_PHONEMES_IPA = 0x02

_espeak_lock = threading.Lock()
_espeak_lib: ctypes.CDLL | None = None
_espeak_voice: str | None = None
_ort_seed_lock = threading.Lock()  # onnxruntime.set_seed is process-wide


def _espeak(voice: str) -> ctypes.CDLL:
    """The process-wide espeak-ng library, initialised once; call with `_espeak_lock` held."""
    global _espeak_lib, _espeak_voice
    if _espeak_lib is None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise MissingDependencyError(
                "the baseline voice needs espeak-ng: pip install espeakng-loader") from exc
        lib = ctypes.CDLL(str(espeakng_loader.get_library_path()))
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.argtypes = [
            ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        data_path = str(espeakng_loader.get_data_path()).encode()
        if lib.espeak_Initialize(_ESPEAK_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0) <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise with data at {data_path!r}")
        _espeak_lib = lib
    if _espeak_voice != voice:
        if _espeak_lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        _espeak_voice = voice
    return _espeak_lib


def _clause_to_ipa(lib: ctypes.CDLL, clause: str) -> str:
    """IPA for one clause (no punctuation inside); espeak may still return it in pieces."""
    buf = ctypes.create_string_buffer(clause.encode("utf-8"))
    ptr = ctypes.c_char_p(ctypes.addressof(buf))
    pieces = []
    while ptr.value:
        out = lib.espeak_TextToPhonemes(ctypes.byref(ptr), _ESPEAK_CHARS_UTF8, _ESPEAK_PHONEMES_IPA)
        if out:
            pieces.append(out.decode("utf-8"))
    return " ".join(p.strip() for p in pieces if p.strip())


def phonemize(text: str, voice: str = "en-us") -> str:
    """espeak-ng IPA for `text`, with the clause punctuation (,.;:!?) kept as symbols.

    Words are separated by spaces, and a punctuation mark follows its clause directly
    ("həlˈoʊ, wˈɜːld."), as Piper's own phonemiser produces it.
    """
    text = unicodedata.normalize("NFC", " ".join(text.split()))
    out = []
    with _espeak_lock:
        lib = _espeak(voice)
        for words, marks in _CLAUSE_RE.findall(text):
            if not words.strip() and not marks:
                continue
            ipa = _clause_to_ipa(lib, words) if words.strip() else ""
            ipa = _LANG_SWITCH_RE.sub("", ipa)
            if out and ipa and not out[-1].endswith(" "):
                out.append(" ")
            out.append(ipa)
            if marks:
                out.append(marks)
    # Piper decomposes phonemes (NFD) before looking them up, so combining marks become symbols.
    return unicodedata.normalize("NFD", "".join(out).strip())


def phoneme_ids(phonemes: str, id_map: dict[str, list[int]]) -> list[int]:
    """Piper's encoding: BOS, pad, then each known symbol followed by pad, then EOS.

    Symbols missing from the voice's map are skipped (Piper does the same).
    """
    pad = id_map[PAD]
    ids = [*id_map[BOS], *pad]
    for symbol in phonemes:
        if symbol in id_map and symbol not in (BOS, EOS, PAD):
            ids.extend(id_map[symbol])
            ids.extend(pad)
    ids.extend(id_map[EOS])
    return ids


@dataclass(frozen=True)
class PiperSettings:
    """Inference scales of a Piper voice (defaults from the voice's JSON config)."""

    noise_scale: float = 0.667
    length_scale: float = 1.0
    noise_w: float = 0.8


class PiperVoice:
    """One Piper ONNX voice: `synthesize(text, seed)` → float32 mono at `sample_rate`.

    Reproducibility: the VITS graph draws its noise with onnxruntime's `RandomNormalLike`, whose
    generator is seeded from the process-wide `onnxruntime.set_seed` value when the session is
    created and then advances on every run. So each `synthesize` call sets the seed and builds a
    fresh session from the model bytes held in memory (about 0.3 s on CPU), which makes the output
    a function of (text, seed) only. The session runs with a fixed thread count (default 1) so the
    float arithmetic does not depend on the machine's core count.
    """

    def __init__(self, model_path: str | Path, config_path: str | Path,
                 settings: PiperSettings | None = None, threads: int = 1) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise MissingDependencyError(
                "the baseline voice needs onnxruntime: pip install onnxruntime") from exc
        self._ort = ort
        config = json.loads(Path(config_path).read_text(encoding="utf-8"))
        self.model_path = Path(model_path)
        self.sample_rate = int(config["audio"]["sample_rate"])
        self.espeak_voice = str(config.get("espeak", {}).get("voice", "en-us"))
        self.id_map: dict[str, list[int]] = config["phoneme_id_map"]
        inference = config.get("inference", {})
        self.settings = settings or PiperSettings(
            noise_scale=float(inference.get("noise_scale", 0.667)),
            length_scale=float(inference.get("length_scale", 1.0)),
            noise_w=float(inference.get("noise_w", 0.8)),
        )
        self.threads = threads
        self._model_bytes = self.model_path.read_bytes()
        self._input_names = {i.name for i in self._new_session().get_inputs()}
        missing = {"input", "input_lengths", "scales"} - self._input_names
        if missing:
            raise ValueError(f"{self.model_path} is not a Piper export: no inputs {sorted(missing)}")

    def _new_session(self):
        options = self._ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = self._ort.ExecutionMode.ORT_SEQUENTIAL
        return self._ort.InferenceSession(
            self._model_bytes, sess_options=options, providers=["CPUExecutionProvider"])

    def synthesize(self, text: str, seed: int = 0) -> np.ndarray:
        """Speak `text`; returns float32 mono in [-1, 1] at `self.sample_rate`."""
        ids = phoneme_ids(phonemize(text, self.espeak_voice), self.id_map)
        return self.synthesize_ids(ids, seed)

    def synthesize_ids(self, ids: list[int], seed: int = 0) -> np.ndarray:
        s = self.settings
        feeds = {
            "input": np.asarray([ids], dtype=np.int64),
            "input_lengths": np.asarray([len(ids)], dtype=np.int64),
            "scales": np.asarray([s.noise_scale, s.length_scale, s.noise_w], dtype=np.float32),
        }
        if "sid" in self._input_names:
            feeds["sid"] = np.zeros(1, dtype=np.int64)
        with _ort_seed_lock:
            # The random kernels take the seed when the session is built, so seeding and
            # building must not interleave with another thread's.
            self._ort.set_seed(int(seed) % (2**31))
            session = self._new_session()
        (audio,) = session.run(None, feeds)
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        return np.clip(audio, -1.0, 1.0)
