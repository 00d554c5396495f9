"""Find a dataset by name or path, load its manifest, and validate it before anything runs.

Sources: `demo` (embedded in the package), a local folder in the RVCBench layout (`metadata.parquet`
+ audio files, usually under `audios/`), or one of the 10 configs of the RVCBench dataset
(`rvcbench:VCTK`, `rvcbench:Background_noise:noisy` for a config's other manifest; see `rvcbench.data.hub`
for where a config is found). Every problem of a dataset is listed in one error before anything runs.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import soundfile as sf

from rvcbench.data.demo import demo_dataset_root
from rvcbench.data.hub import HF_DATASET_ID, HF_PREFIX, hub_configs, parse_hub_spec, resolve_config_folder
from rvcbench.data.lock import read_lock, verify_lock
from rvcbench.data.manifest import (
    CANONICAL_COLUMNS,
    LEGACY_TO_CANONICAL,
    REQUIRED_COLUMNS,
    missing_required_columns,
    normalize_manifest,
    rename_legacy_columns,
)
from rvcbench.errors import DatasetError, UnknownNameError

MANIFEST_NAME = "metadata.parquet"


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    needs: str


def known_datasets() -> tuple[DatasetInfo, ...]:
    hub = tuple(
        DatasetInfo(f"{HF_PREFIX}{c.name}",
                    f"{'/'.join(c.languages)}, {c.speakers} speakers"
                    + (f" (+{c.interferers} interferers)" if c.interferers else "") + f", {c.sample_rate // 1000} kHz, "
                    f"{c.corpus}: {c.purpose}"
                    + "".join(f"; variant {HF_PREFIX}{c.name}:{v} = {m}" for v, m in c.manifests.items()),
                    f"`rvcbench data fetch {c.name}` (network), or --data-root DIR holding {c.name}/")
        for c in hub_configs().values())
    return (
        DatasetInfo("demo", "50 real recordings, 11 English speakers (VCTK, CMU ARCTIC), 50 clone pairs",
                    "nothing: embedded in the package"),
        *hub,
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


def load_dataset(spec: str, *, cache_dir: Path | None = None, validate: bool = True,
                 data_root: Path | None = None) -> Dataset:
    """Load `demo`, `rvcbench:<Config>[:<variant>]`, or a local folder; validate unless told not to."""
    hub_variant: str | None = None
    is_hub = spec.startswith(HF_PREFIX)
    if spec == "demo":
        root, source, name, manifest_name = demo_dataset_root(), "embedded", "demo", MANIFEST_NAME
    elif is_hub:
        config, hub_variant = parse_hub_spec(spec)
        root = resolve_config_folder(config.name, data_root, cache_dir=cache_dir)
        where = f"--data-root {data_root}" if data_root else "Hugging Face cache"
        source, name = f"hf:{HF_DATASET_ID}/{config.name} ({where})", spec
        manifest_name = config.manifests[hub_variant] if hub_variant else MANIFEST_NAME
    elif Path(spec).is_dir():
        root, source, manifest_name = Path(spec).resolve(), "local folder", MANIFEST_NAME
        name = root.name
    else:
        known = ", ".join(d.name for d in known_datasets())
        raise UnknownNameError(f"unknown dataset {spec!r}: not a known name and not a folder; known: {known}")
    manifest_path = root / manifest_name
    if not manifest_path.is_file():
        raise DatasetError(f"{manifest_path}: no manifest; a dataset folder needs {manifest_name} (RVCBench layout)")
    raw = read_manifest_file(manifest_path)
    problems = column_problems(raw, strict_canonical=is_hub and manifest_name == MANIFEST_NAME)
    if validate and read_lock(root) is not None:
        problems += verify_lock(root)
    if missing_required_columns(rename_legacy_columns(raw)):
        _raise(name, manifest_path, problems)
    manifest = normalize_manifest(raw, dataset_name=name)
    dataset = Dataset(name=name, root=root.resolve(), manifest=manifest, source=source,
                      fingerprint=manifest_fingerprint(manifest))
    if validate:
        problems += validate_dataset(dataset)
        if hub_variant:
            problems += variant_problems(dataset, root / MANIFEST_NAME, manifest_name)
        if problems:
            _raise(name, manifest_path, problems)
    return dataset


def _raise(name: str, manifest_path: Path, problems: list[str]) -> None:
    listing = "\n".join(f"  - {p}" for p in problems)
    raise DatasetError(f"dataset {name} ({manifest_path}) has {len(problems)} problem(s); nothing was run:\n{listing}")


def read_manifest_file(path: Path) -> pd.DataFrame:
    """A `metadata.parquet`, or one of upstream's JSON manifests (a list of pair records, legacy names allowed)."""
    try:
        if path.suffix.lower() == ".json":
            records = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise DatasetError(f"{path}: a JSON manifest is a list of pair records (objects)")
            return pd.DataFrame(records)
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read the manifest: {exc}") from exc


def column_problems(raw: pd.DataFrame, *, strict_canonical: bool) -> list[str]:
    """Missing columns, named the way the user can fix them (legacy names accepted)."""
    renamed = rename_legacy_columns(raw)
    problems = []
    missing = missing_required_columns(renamed)
    if missing:
        legacy = {v: k for k, v in LEGACY_TO_CANONICAL.items()}
        names = ", ".join(f"{c} (or legacy {legacy[c]})" if c in legacy else c for c in missing)
        problems.append(f"missing required column(s): {names}")
    if strict_canonical:
        absent = [c for c in CANONICAL_COLUMNS if c not in renamed.columns]
        if absent:
            problems.append(f"not an RVCBench manifest: canonical column(s) {', '.join(absent)} missing "
                            f"(upstream's metadata.parquet has all {len(CANONICAL_COLUMNS)})")
    return problems


def variant_problems(dataset: Dataset, clean_manifest: Path, variant_name: str) -> list[str]:
    """A config's extra manifest (e.g. noisy-prompt pairs) must name speakers its clean metadata.parquet knows."""
    if not clean_manifest.is_file():
        return [f"{clean_manifest}: missing; the variant {variant_name} is checked against it"]
    clean = normalize_manifest(rename_legacy_columns(read_manifest_file(clean_manifest)), dataset.name)
    known = set(clean["speaker_id"])
    unknown = sorted(set(dataset.manifest["speaker_id"]) - known)
    return [f"{variant_name}: speaker id {s!r} is not in {clean_manifest.name}" for s in unknown]


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
    root = dataset.root
    file_columns = ("prompt_file_name", "target_file_name")
    names = pd.unique(manifest[list(file_columns)].to_numpy().ravel())
    checked = {name: audio_file_problem(root, name) for name in names}
    suspect = manifest["pair_id"].eq("")  # only rows with a problem are visited (a million-row manifest is fine)
    for column in ("target_text", "prompt_language", "target_language"):
        suspect |= manifest[column].str.strip().eq("")
    for column in file_columns:
        suspect |= manifest[column].map(checked).notna()
    for row in manifest[suspect].itertuples(index=False):
        where = f"pair {row.pair_id!r}"
        if not row.pair_id:
            problems.append("a row has an empty pair_id")
        for column in ("target_text", "prompt_language", "target_language"):
            if not getattr(row, column).strip():
                problems.append(f"{where}: empty {column}")
        for column in file_columns:
            file_name = getattr(row, column)
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
