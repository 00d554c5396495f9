"""Datasets: the embedded demo set, local folders in the RVCBench layout, the Hub loader, validation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

import rvcbench.data.loaders as loaders
from rvcbench.data import load_dataset
from rvcbench.data.demo import demo_dataset_root
from rvcbench.data.manifest import REQUIRED_COLUMNS
from rvcbench.errors import DatasetError, UnknownNameError


def test_demo_set_has_fifty_same_speaker_pairs_of_real_recordings():
    dataset = load_dataset("demo")
    manifest = dataset.manifest
    assert len(manifest) == 50 and manifest.speaker_id.nunique() == 11
    assert list(manifest.columns[: len(REQUIRED_COLUMNS)]) == list(REQUIRED_COLUMNS)
    assert (manifest.prompt_file_name != manifest.target_file_name).all()
    # the prompt is always a recording of the same speaker
    assert all(p.split("/")[1] == s for p, s in zip(manifest.prompt_file_name, manifest.speaker_id, strict=True))
    rates = {sf.info(str(dataset.audio_path(f))).samplerate for f in manifest.target_file_name}
    assert rates == {16000, 22050, 48000}
    assert {"gender", "accent"} <= set(manifest.columns)  # extras kept for per-group reports


def test_demo_set_ships_its_attribution():
    text = (demo_dataset_root() / "ATTRIBUTION.md").read_text()
    assert "VCTK" in text and "ARCTIC" in text


def make_local_dataset(root: Path, rows: int = 3) -> Path:
    """A folder in the RVCBench layout (audios/ + metadata.parquet) made from demo recordings."""
    demo = load_dataset("demo")
    manifest = demo.manifest.head(rows).copy()
    for column in ("prompt_file_name", "target_file_name"):
        for name in manifest[column]:
            dest = root / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(demo.audio_path(name), dest)
    # RVCBench manifests may name files relative to audios/: accept both
    manifest["prompt_file_name"] = manifest["prompt_file_name"].str.removeprefix("audios/")
    manifest.drop(columns=["dataset_name", "split"]).to_parquet(root / "metadata.parquet")
    return root


def test_local_folder_in_rvcbench_layout_loads(tmp_path):
    dataset = load_dataset(str(make_local_dataset(tmp_path / "mine")))
    assert len(dataset.manifest) == 3 and dataset.source == "local folder"
    assert (dataset.manifest.dataset_name == "mine").all() and (dataset.manifest.split == "default").all()
    assert dataset.audio_path(dataset.manifest.prompt_file_name[0]).is_file()


def test_validation_lists_every_problem_and_runs_nothing(tmp_path):
    root = make_local_dataset(tmp_path / "bad", rows=5)
    (root / "audios" / "broken.wav").write_text("this is not audio")
    (tmp_path / "outside.wav").write_bytes((root / "audios").joinpath(
        *load_dataset(str(root)).manifest.target_file_name[0].split("/")[1:]).read_bytes())
    manifest = pd.read_parquet(root / "metadata.parquet")
    manifest.loc[0, "target_text"] = "   "
    manifest.loc[1, "target_file_name"] = "audios/missing.wav"
    manifest.loc[2, "target_file_name"] = "audios/broken.wav"
    manifest.loc[3, "prompt_file_name"] = "../outside.wav"
    manifest.loc[4, "pair_id"] = manifest.loc[0, "pair_id"]
    manifest.to_parquet(root / "metadata.parquet")
    with pytest.raises(DatasetError) as info:
        load_dataset(str(root))
    message = str(info.value)
    assert "5 problem(s)" in message and "nothing was run" in message
    assert "empty target_text" in message
    assert "missing.wav does not exist" in message
    assert "broken.wav is not readable audio" in message
    assert "leaves the dataset root" in message
    assert "duplicate pair_id" in message


def test_missing_manifest_and_unknown_name_are_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="metadata.parquet"):
        load_dataset(str(tmp_path))
    with pytest.raises(UnknownNameError, match="known: demo, rvcbench:Libritts"):
        load_dataset("no-such-dataset")


def test_hub_config_is_looked_up_in_the_cache_then_downloaded(tmp_path, monkeypatch):
    """The Hub loader on a local snapshot of upstream's layout (no network here): cache first, then download."""
    from huggingface_hub.errors import LocalEntryNotFoundError
    from upstream_layout import build_rvcbench_layout

    snapshot = build_rvcbench_layout(tmp_path / "snapshot", ["VCTK"])
    calls = []

    def fake_snapshot_download(**kwargs):
        calls.append(kwargs)
        if kwargs["local_files_only"]:
            raise LocalEntryNotFoundError("not cached")
        return str(snapshot)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.delenv("RVCBENCH_DATA_ROOT", raising=False)
    dataset = load_dataset("rvcbench:VCTK")
    assert [c["local_files_only"] for c in calls] == [True, False]  # the cache is asked first, without network
    assert calls[1]["repo_id"] == "Nanboy/RVCBench" and calls[1]["repo_type"] == "dataset"
    assert calls[1]["allow_patterns"] == ["VCTK/*"]
    assert dataset.source.startswith("hf:Nanboy/RVCBench/VCTK") and len(dataset.manifest) == 2


def test_hub_download_failure_says_how_to_get_the_data(monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(**kwargs):
        if kwargs["local_files_only"]:
            raise LocalEntryNotFoundError("not cached")
        raise OSError("network is unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    monkeypatch.delenv("RVCBENCH_DATA_ROOT", raising=False)
    with pytest.raises(DatasetError, match="(?s)hf download Nanboy/RVCBench .*--data-root"):
        loaders.load_dataset("rvcbench:VCTK")
