"""Find a dataset by name or path, load its manifest, and validate it before anything runs.

Sources: `demo` (embedded in the package), a local folder in the RVCBench layout (`metadata.parquet`
+ audio files, usually under `audios/`), or a config of the RVCBench dataset on the Hugging Face Hub
(`rvcbench:VCTK` → `Nanboy/RVCBench`, folder `VCTK/`), downloaded with huggingface_hub.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import soundfile as sf

from rvcbench.data.demo import demo_dataset_root
from rvcbench.data.manifest import REQUIRED_COLUMNS, normalize_manifest
from rvcbench.errors import DatasetError, MissingDependencyError, UnknownNameError

MANIFEST_NAME = "metadata.parquet"
HF_DATASET_ID = "Nanboy/RVCBench"
HF_PREFIX = "rvcbench:"
# Configs of the published RVCBench dataset (one folder each on the Hub).
HF_CONFIGS = ("Libritts", "VCTK", "AISHELL1_dev", "CommonVoiceFR_dev", "Bilingual_uedin")


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    needs: str


KNOWN_DATASETS: tuple[DatasetInfo, ...] = (
    DatasetInfo("demo", "50 real recordings, 11 English speakers (VCTK, CMU ARCTIC), 50 clone pairs",
                "nothing: embedded in the package"),
    *(DatasetInfo(f"{HF_PREFIX}{c}", f"RVCBench config {c} from the Hugging Face Hub ({HF_DATASET_ID})",
                  "network access and `pip install huggingface_hub`") for c in HF_CONFIGS),
    DatasetInfo("PATH", "any local folder with metadata.parquet and its audio files",
                "the folder (RVCBench layout)"),
)


@dataclass(frozen=True)
class Dataset:
    name: str
    root: Path
    manifest: pd.DataFrame
    source: str
    fingerprint: str  # hash of the manifest: recorded with every run

    def audio_path(self, file_name: str) -> Path:
        return resolve_audio_path(self.root, file_name)


def resolve_audio_path(root: Path, file_name: str) -> Path:
    """`file_name` relative to the root; RVCBench manifests may also name it relative to `audios/`."""
    direct = root / file_name
    if not direct.exists() and (root / "audios" / file_name).exists():
        return root / "audios" / file_name
    return direct


def load_dataset(spec: str, *, cache_dir: Path | None = None, validate: bool = True) -> Dataset:
    """Load `demo`, `rvcbench:<Config>`, or a local folder; validate unless told not to."""
    if spec == "demo":
        root, source, name = demo_dataset_root(), "embedded", "demo"
    elif spec.startswith(HF_PREFIX):
        config = spec[len(HF_PREFIX):]
        root, source, name = download_hf_config(config, cache_dir), f"hf:{HF_DATASET_ID}/{config}", spec
    elif Path(spec).is_dir():
        root, source, name = Path(spec).resolve(), "local folder", Path(spec).resolve().name
    else:
        known = ", ".join(d.name for d in KNOWN_DATASETS)
        raise UnknownNameError(f"unknown dataset {spec!r}: not a known name and not a folder; known: {known}")
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.is_file():
        raise DatasetError(f"{manifest_path}: no manifest; a dataset folder needs {MANIFEST_NAME} (RVCBench layout)")
    try:
        raw = pd.read_parquet(manifest_path)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{manifest_path}: cannot read the manifest: {exc}") from exc
    manifest = normalize_manifest(raw, dataset_name=name)
    dataset = Dataset(name=name, root=root.resolve(), manifest=manifest, source=source,
                      fingerprint=manifest_fingerprint(manifest))
    if validate:
        problems = validate_dataset(dataset)
        if problems:
            listing = "\n".join(f"  - {p}" for p in problems)
            raise DatasetError(
                f"dataset {name} ({manifest_path}) has {len(problems)} problem(s); nothing was run:\n{listing}")
    return dataset


def manifest_fingerprint(manifest: pd.DataFrame) -> str:
    table = manifest[list(REQUIRED_COLUMNS)].to_csv(index=False).encode()
    return hashlib.sha256(table).hexdigest()[:16]


def validate_dataset(dataset: Dataset) -> list[str]:
    """Every problem of the manifest and its audio, as one list (empty = fine).

    Checks: required columns, duplicate pair ids, empty texts or languages, paths that are absolute
    or leave the dataset root, missing files, files soundfile cannot read, empty audio.
    """
    manifest = dataset.manifest
    missing = [c for c in REQUIRED_COLUMNS if c not in manifest.columns]
    if missing:
        return [f"missing column(s): {', '.join(missing)}"]
    problems: list[str] = []
    if manifest.empty:
        problems.append("the manifest has no rows")
    duplicated = manifest.loc[manifest["pair_id"].duplicated(), "pair_id"].unique()
    for pair_id in duplicated:
        problems.append(f"duplicate pair_id {pair_id!r}")
    checked: dict[str, str | None] = {}
    root = dataset.root
    for row in manifest.itertuples(index=False):
        where = f"pair {row.pair_id!r}"
        if not row.pair_id:
            problems.append("a row has an empty pair_id")
        for column in ("target_text", "prompt_language", "target_language"):
            if not getattr(row, column).strip():
                problems.append(f"{where}: empty {column}")
        for column in ("prompt_file_name", "target_file_name"):
            file_name = getattr(row, column)
            if file_name not in checked:
                checked[file_name] = audio_file_problem(root, file_name)
            if checked[file_name]:
                problems.append(f"{where}: {column} {checked[file_name]}")
    return problems


def audio_file_problem(root: Path, file_name: str) -> str | None:
    """Why this manifest entry is not a usable audio file, or None if it is."""
    if not file_name:
        return "is empty"
    if os.path.isabs(file_name):
        return f"{file_name!r} is an absolute path; paths must be relative to the dataset root"
    path = resolve_audio_path(root, file_name)
    if not path.resolve().is_relative_to(root.resolve()):
        return f"{file_name!r} leaves the dataset root {root}"
    if not path.is_file():
        return f"{path} does not exist"
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        return f"{path} is not readable audio: {exc}"
    if info.frames == 0:
        return f"{path} has no samples"
    return None


def download_hf_config(config: str, cache_dir: Path | None) -> Path:
    """Download one config folder of the RVCBench dataset and return its local root."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise MissingDependencyError("the Hugging Face datasets need `pip install huggingface_hub`") from exc
    try:
        local = snapshot_download(repo_id=HF_DATASET_ID, repo_type="dataset", allow_patterns=[f"{config}/*"],
                                  cache_dir=str(cache_dir) if cache_dir else None)
    except OSError as exc:  # huggingface_hub's HTTP and offline errors derive from OSError
        raise DatasetError(
            f"could not download {HF_DATASET_ID} config {config!r}: {exc}. Without network, download it elsewhere "
            f"(huggingface-cli download {HF_DATASET_ID} --repo-type dataset --include '{config}/*' --local-dir DIR) "
            f"and pass --data DIR/{config}"
        ) from exc
    root = Path(local) / config
    if not root.is_dir():
        raise DatasetError(f"{HF_DATASET_ID} has no config folder {config!r}; known: {', '.join(HF_CONFIGS)}")
    return root
