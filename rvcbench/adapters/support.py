"""What real adapters share: lazy imports of a model's stack, locating weights, seeding, prompt files.

Adapters in `models/<key>/` call these instead of each writing their own, so every model fails the
same way when its stack or weights are missing: one message naming the exact command that fixes it.
Nothing here imports a model stack at module import time.
"""

from __future__ import annotations

import importlib
import os
import random
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np

from rvcbench import weights_store
from rvcbench.adapters.contract import CloneFailure, UpstreamCheckout
from rvcbench.audio import resample, save_audio
from rvcbench.errors import MissingDependencyError


def require(module: str, model: str, hint: str = "") -> ModuleType:
    """Import `module` for adapter `model`, or say how to install the model's stack."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = f" ({hint})" if hint else ""
        raise MissingDependencyError(
            f"model {model!r} needs the Python module {module!r}, which does not import here: {exc}. "
            f"Create the model's environment with `rvcbench env create {model}`{extra}."
        ) from exc


def missing_nltk_data(resources: dict[str, str], model: str) -> list[str]:
    """The packages of `resources` (package name → nltk.data.find path) that NLTK does not find."""
    nltk = require("nltk", model)
    missing = []
    for package, resource in resources.items():
        try:
            nltk.data.find(resource)
        except LookupError:
            missing.append(package)
    return missing


def require_nltk_data(resources: dict[str, str], model: str, user: str) -> None:
    """Fail before `user` is imported when NLTK data it reads is missing (g2p_en downloads it at import otherwise,
    which offline ends in a raw LookupError on every item). `resources`: package name → nltk.data.find path."""
    missing = missing_nltk_data(resources, model)
    if missing:
        raise MissingDependencyError(
            f"model {model!r}: {user} needs the NLTK data {', '.join(missing)} (it would download them when "
            f"imported): run `python -m nltk.downloader {' '.join(missing)}` with the Python of the model's "
            f"environment (`rvcbench env create {model}`).")


def download_command(repo_id: str, local_dir: Path | None = None) -> str:
    target = f" --local-dir {local_dir}" if local_dir else ""
    return f"huggingface-cli download {repo_id}{target}"


def resolve_weights(weights: str | os.PathLike | None, repo_id: str, model: str,
                    required_files: tuple[str, ...] = ()) -> Path:
    """Where the checkpoint of `model` lies on disk: `weights` (a folder or a Hugging Face id), else `repo_id`.

    A folder is used as it is. A Hugging Face id is looked up in rvcbench's weights store (what
    `rvcbench env create MODEL --with-weights` downloaded), then in the local Hugging Face cache only
    (`local_files_only`): a benchmark run never downloads behind the user's back. When the files are
    not there, the error names the exact download command and the `--weights` option.
    """
    spec = str(weights) if weights else repo_id
    path = Path(spec).expanduser()
    if path.exists() or spec.startswith((".", "/", "~")):
        if not path.is_dir():
            raise MissingDependencyError(f"model {model!r}: weights folder {path} does not exist. "
                                         f"Download them with `{download_command(repo_id, path)}`.")
        found = path
    else:
        kept = weights_store.stored(spec)  # downloaded by `rvcbench env create MODEL --with-weights`
        found = kept.path if kept else _cached_snapshot(spec, model)
    missing = [name for name in required_files if not (found / name).exists()]
    if missing:
        raise MissingDependencyError(
            f"model {model!r}: weights folder {found} lacks {', '.join(missing)}. "
            f"Download the full checkpoint with `{download_command(repo_id, found)}`.")
    return found


def _cached_snapshot(repo_id: str, model: str) -> Path:
    hub = require("huggingface_hub", model, "pip install huggingface_hub")
    errors = require("huggingface_hub.errors", model, "pip install 'huggingface_hub>=0.20'")
    try:
        return Path(hub.snapshot_download(repo_id, local_files_only=True))
    except (errors.LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError) as exc:
        raise MissingDependencyError(
            f"model {model!r}: the weights {repo_id!r} are not in the local Hugging Face cache ({exc}). "
            f"Download them with `{download_command(repo_id)}` or `rvcbench env create {model} --with-weights` "
            f"(some repositories are gated: accept the "
            f"licence on the model page and `huggingface-cli login` first), or pass a local folder with "
            f"`--weights PATH`.") from exc


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (when imported) torch on every device, so a clone is reproducible."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = _imported("torch")
    if torch is not None:
        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)


def _imported(module: str) -> ModuleType | None:
    import sys

    return sys.modules.get(module)


def prompt_at(audio: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """The prompt as float32 mono at the rate the upstream model reads."""
    return resample(np.asarray(audio, dtype=np.float32), sample_rate, target_rate)


@contextmanager
def prompt_files(prompts: list[np.ndarray], sample_rate: int, suffix: str = ".wav") -> Iterator[list[Path]]:
    """Write prompts to temporary files for upstream APIs that only take a path; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="rvcbench-prompt-") as tmp:
        paths = []
        for index, audio in enumerate(prompts):
            path = Path(tmp) / f"prompt{index}{suffix}"
            save_audio(path, audio, sample_rate)
            paths.append(path)
        yield paths


def as_waveform(output, model: str) -> np.ndarray:
    """Upstream output (torch tensor or array, any shape with one non-singleton axis) as float32 mono."""
    if hasattr(output, "detach"):
        output = output.detach().float().cpu().numpy()
    wave = np.asarray(output, dtype=np.float32)
    wave = np.squeeze(wave)
    if wave.ndim != 1:
        raise ValueError(f"model {model!r} returned audio of shape {wave.shape}; expected mono")
    return wave


def upstream_checkout(checkout: UpstreamCheckout, model: str) -> Path:
    """The local clone of `checkout` for `model`, put on `sys.path`.

    Some projects only run from a clone (they import their own folders, or vendored code under
    `third_party/`, by bare name). The clone is the one named by `checkout.variable` when it is set, else
    the one `rvcbench env create MODEL --with-upstream` recorded; `checkout.marker` catches a wrong folder
    here rather than deep in the model.
    """
    import sys

    from rvcbench.model_envs import recorded_env

    hint = (f"`rvcbench env create {model} --with-upstream`, or by hand `git clone --recursive {checkout.repo} DIR "
            f"&& git -C DIR checkout {checkout.commit} && git -C DIR submodule update --init --recursive` "
            f"and set {checkout.variable}=DIR")
    root = os.environ.get(checkout.variable, "").strip()
    where = checkout.variable
    if not root:
        recorded = recorded_env(model)
        root = (recorded.checkout or "") if recorded else ""
        where = f"the checkout recorded for {model}"
    if not root:
        raise MissingDependencyError(f"model {model!r} runs from a checkout of {checkout.repo} at "
                                     f"{checkout.commit}: {hint}.")
    path = Path(root).expanduser().resolve()
    if not (path / checkout.marker).exists():
        raise MissingDependencyError(
            f"model {model!r}: {where} ({path}) is not a checkout of {checkout.repo} (it has no "
            f"{checkout.marker}): {hint}.")
    for relative in reversed(checkout.import_paths):
        entry = str(path / relative)
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
    return path


def refusal(adapter, request) -> CloneFailure | None:
    """Why `adapter` cannot make `request` at all, as the failure to record; None when it can.

    The same three reasons for every adapter: an undeclared target language, an empty target text, and (for
    adapters that declare `needs_prompt_text`) an empty prompt transcript. The engine already holds back
    undeclared languages; the adapter answers them too, so a direct caller gets a reason instead of audio.
    """
    if not adapter.supports_language(request.target_language):
        return CloneFailure(f"unsupported language: {request.target_language}")  # the engine's own wording
    if not request.target_text.strip():
        return CloneFailure("empty target text")
    if adapter.needs_prompt_text and not request.prompt_text.strip():
        return CloneFailure(f"empty prompt transcript ({adapter.name} conditions on the prompt's text)")
    return None


def clone_valid(adapter, requests: list, make, also=None) -> list:
    """`make(valid_requests)` for the requests `refusal` lets through; the refused ones fail in their place.

    `also(request)`: the adapter's own refusal (a reason, or None) after the common ones, such as a language the
    loaded checkpoint lists as unsupported.
    """
    refused = [refusal(adapter, request) for request in requests]
    if also is not None:
        refused = [failure or (CloneFailure(reason) if (reason := also(request)) else None)
                   for request, failure in zip(requests, refused, strict=True)]
    valid = [request for request, failure in zip(requests, refused, strict=True) if failure is None]
    made = iter(make(valid) if valid else [])
    return [failure if failure is not None else next(made) for failure in refused]


def attention_for(device: str, flash_attn_installed: bool | None = None) -> str:
    """The transformers attention implementation: flash_attention_2 on CUDA when flash-attn is installed (the
    upstreams' recommendation), else sdpa (their own fallback, and the only choice on CPU)."""
    if flash_attn_installed is None:
        import importlib.util

        flash_attn_installed = importlib.util.find_spec("flash_attn") is not None
    return "flash_attention_2" if device.startswith("cuda") and flash_attn_installed else "sdpa"


@contextmanager
def hub_ids_as_folders(auto_classes, folders: dict[str, Path], model: str) -> Iterator[None]:
    """While the block runs, each class's `from_pretrained` opens the local folder resolved for a Hub id.

    For upstream code that calls a transformers Auto class with a hard-coded Hub id and no way to pass a path
    (MeloTTS's BERTs, Higgs Audio's semantic model): `load` resolves those ids first (`resolve_weights`), then
    builds upstream inside this block. An id that was not resolved is refused rather than downloaded; a path to
    an existing folder passes through. The original methods are back when the block ends.
    """
    saved = []

    def local(load):
        def from_pretrained(name, *args, **kwargs):
            name = str(name)
            if name not in folders and not Path(name).is_dir():
                raise MissingDependencyError(
                    f"model {model!r}: upstream asked for {name!r}, which load() did not resolve to a local folder "
                    f"(resolved: {', '.join(sorted(folders)) or 'none'}); no download is made during a run")
            return load(str(folders.get(name, name)), *args, **kwargs)
        return staticmethod(from_pretrained)

    for cls in auto_classes:
        saved.append((cls, cls.__dict__.get("from_pretrained")))
        cls.from_pretrained = local(cls.from_pretrained)
    try:
        yield
    finally:
        for cls, original in saved:
            if original is None:
                del cls.from_pretrained
            else:
                cls.from_pretrained = original
