"""The 10 configs of the published RVCBench dataset (`Nanboy/RVCBench`): what each is, where it lives, fetching.

A config is one folder `<Config>/` with `metadata.parquet` + `audios/` (some carry more manifests, such as
Background_noise's noisy-prompt pairs). Where a config is found, in this order:
1. `--data-root DIR` (or `RVCBENCH_DATA_ROOT`): `DIR/<Config>/`, e.g. a folder copied from another machine;
2. the Hugging Face cache, after `rvcbench data fetch` (looked up without network);
3. otherwise it is downloaded with huggingface_hub, or, offline, the error gives the command to run elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from rvcbench.data.lock import LOCK_NAME, write_lock
from rvcbench.errors import DatasetError, MissingDependencyError, UnknownNameError

HF_DATASET_ID = "Nanboy/RVCBench"
HF_PREFIX = "rvcbench:"
DATA_ROOT_ENV = "RVCBENCH_DATA_ROOT"
CONFIGS_FILE = Path(__file__).with_name("rvcbench_configs.yaml")


@dataclass(frozen=True)
class HubConfig:
    name: str
    languages: tuple[str, ...]
    speakers: int
    sample_rate: int
    corpus: str
    purpose: str
    interferers: int = 0
    manifests: dict[str, str] = field(default_factory=dict)  # variant name → manifest path inside the folder


@cache
def hub_configs() -> dict[str, HubConfig]:
    raw = yaml.safe_load(CONFIGS_FILE.read_text(encoding="utf-8"))
    return {name: HubConfig(name=name, languages=tuple(c["languages"]), speakers=int(c["speakers"]),
                            sample_rate=int(c["sample_rate"]), corpus=c["corpus"], purpose=c["purpose"],
                            interferers=int(c.get("interferers", 0)), manifests=dict(c.get("manifests") or {}))
            for name, c in raw["configs"].items()}


def configs_source() -> str:
    return yaml.safe_load(CONFIGS_FILE.read_text(encoding="utf-8"))["source"]


def hub_config(name: str) -> HubConfig:
    configs = hub_configs()
    if name not in configs:
        raise UnknownNameError(f"unknown RVCBench config {name!r}; known: {', '.join(configs)}")
    return configs[name]


def parse_hub_spec(spec: str) -> tuple[HubConfig, str | None]:
    """`rvcbench:<Config>` or `rvcbench:<Config>:<variant>` → (config, variant or None)."""
    name, _, variant = spec[len(HF_PREFIX):].partition(":")
    config = hub_config(name)
    if variant and variant not in config.manifests:
        known = ", ".join(config.manifests) or "(none: only metadata.parquet)"
        raise UnknownNameError(f"config {name} has no manifest variant {variant!r}; known: {known}")
    return config, variant or None


def download_command(configs: list[str], to: str = "DIR") -> str:
    includes = " ".join(f"--include '{c}/*'" for c in configs)
    return f"hf download {HF_DATASET_ID} --repo-type dataset {includes} --local-dir {to}"


def offline_advice(configs: list[str]) -> str:
    return (f"without network here, run on a machine with network:\n    {download_command(configs)}\n"
            f"(or `rvcbench data fetch {' '.join(configs) if len(configs) < 10 else 'all'} --to DIR`), copy DIR "
            f"here and pass `--data-root DIR` (or set {DATA_ROOT_ENV}=DIR); each config is the folder DIR/<Config>/")


def data_root_from(option: str | Path | None) -> Path | None:
    value = option or os.environ.get(DATA_ROOT_ENV)
    return Path(value).expanduser().resolve() if value else None


def resolve_config_folder(name: str, data_root: Path | None = None, *, download: bool = True,
                          cache_dir: Path | None = None) -> Path:
    """The local folder of a config: under the data root, else in the HF cache, else downloaded."""
    hub_config(name)
    if data_root is not None:
        folder = data_root / name
        if not folder.is_dir():
            raise DatasetError(f"{folder}: no such config folder under --data-root {data_root} "
                               f"(expected {data_root}/<Config>/metadata.parquet); {offline_advice([name])}")
        return folder
    cached = _from_hf(name, cache_dir, local_files_only=True)
    if cached is not None:
        return cached
    if not download:
        raise DatasetError(f"config {name} is not in the Hugging Face cache; fetch it with "
                           f"`rvcbench data fetch {name}`; {offline_advice([name])}")
    folder = _from_hf(name, cache_dir, local_files_only=False)
    assert folder is not None
    return folder


def _from_hf(name: str, cache_dir: Path | None, *, local_files_only: bool,
             local_dir: Path | None = None, revision: str | None = None) -> Path | None:
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError as exc:
        raise MissingDependencyError("the RVCBench configs need `pip install huggingface_hub` "
                                     "(or `pip install 'rvcbench[hf]'`)") from exc
    try:
        local = snapshot_download(repo_id=HF_DATASET_ID, repo_type="dataset", allow_patterns=[f"{name}/*"],
                                  cache_dir=str(cache_dir) if cache_dir else None,
                                  local_dir=str(local_dir) if local_dir else None, revision=revision,
                                  local_files_only=local_files_only)
    except LocalEntryNotFoundError as exc:
        if local_files_only:
            return None
        raise DatasetError(f"could not download {HF_DATASET_ID} config {name!r}: {exc}\n{offline_advice([name])}") \
            from exc
    except OSError as exc:  # huggingface_hub's HTTP errors derive from OSError
        raise DatasetError(f"could not download {HF_DATASET_ID} config {name!r}: {exc}\n{offline_advice([name])}") \
            from exc
    folder = Path(local) / name
    if not folder.is_dir():
        if local_files_only:
            return None
        raise DatasetError(f"{HF_DATASET_ID} has no folder {name!r}; known configs: {', '.join(hub_configs())}")
    return folder


@dataclass(frozen=True)
class Fetched:
    config: str
    folder: Path
    files: int
    bytes: int


def fetch_configs(names: list[str], to: Path | None = None, cache_dir: Path | None = None) -> list[Fetched]:
    """Download configs (huggingface_hub: progress bars, resumes partial downloads) and lock each folder."""
    if names == ["all"]:
        names = list(hub_configs())
    for name in names:
        hub_config(name)
    revision = hub_revision(names)
    out = []
    for name in names:
        folder = _from_hf(name, cache_dir, local_files_only=False, local_dir=to, revision=revision)
        assert folder is not None
        lock = write_lock(folder, source=f"hf:{HF_DATASET_ID}/{name}", revision=revision)
        out.append(Fetched(name, folder, len(lock["files"]),
                           sum(e["bytes"] for e in lock["files"].values())))
    return out


def hub_revision(names: list[str]) -> str:
    """The dataset's current commit on the Hub: every config of one fetch comes from it, and the lock records it."""
    try:
        from huggingface_hub import HfApi
    except ImportError as exc:
        raise MissingDependencyError("fetching needs `pip install huggingface_hub`") from exc
    try:
        return HfApi().dataset_info(HF_DATASET_ID).sha
    except OSError as exc:
        raise DatasetError(f"cannot reach the Hugging Face Hub for {HF_DATASET_ID}: {exc}\n{offline_advice(names)}") \
            from exc


__all__ = ["HF_DATASET_ID", "HF_PREFIX", "LOCK_NAME", "HubConfig", "fetch_configs", "hub_config", "hub_configs",
           "parse_hub_spec", "resolve_config_folder"]
