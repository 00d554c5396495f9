"""The RVCBench dataset's 10 configs: listing, legacy columns, lock files and checksums, variants, stats, fetching."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from upstream_layout import CONFIGS, build_rvcbench_layout

from rvcbench.cli import main
from rvcbench.data import hub as hub_module
from rvcbench.data import load_dataset
from rvcbench.data.hub import hub_configs
from rvcbench.data.lock import LOCK_NAME, verify_lock, write_lock
from rvcbench.data.manifest import CANONICAL_COLUMNS
from rvcbench.data.stats import stats_for, union_report
from rvcbench.data.subsets import PairSubsetError, parse_pairs, select_pairs
from rvcbench.errors import DatasetError, UnknownNameError

TEN = ["AISHELL1_dev", "Background_noise", "Bilingual_uedin", "CommonVoiceFR_dev", "Libritts", "Long_context",
       "Multispeaker_libri", "VCTK", "robotcall", "vctk_text_robust"]


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    return build_rvcbench_layout(tmp_path_factory.mktemp("rvcbench_layout"))


@pytest.fixture
def layout_copy(layout, tmp_path) -> Path:
    return Path(shutil.copytree(layout, tmp_path / "data"))


def test_all_ten_configs_are_listed_with_languages_speakers_and_purpose():
    assert sorted(hub_configs()) == sorted(TEN)
    out = CliRunner().invoke(main, ["data"]).output
    for name in TEN:
        assert f"rvcbench:{name}" in out
    assert "zh, 40 speakers" in out and "rvcbench:Background_noise:noisy" in out and "+2 interferers" in out


def test_every_config_of_the_upstream_layout_loads_by_name_from_the_data_root(layout):
    for name in CONFIGS:
        dataset = load_dataset(f"rvcbench:{name}", data_root=layout)
        assert len(dataset.manifest) == 2 and dataset.root == (layout / name).resolve()
    robotcall = load_dataset("rvcbench:robotcall", data_root=layout)
    assert set(robotcall.manifest["spam_type"]) == {"irs_scam", "car_warranty"}  # extras travel with the rows


def test_noisy_variant_reads_upstreams_legacy_json_pairs(layout):
    noisy = load_dataset("rvcbench:Background_noise:noisy", data_root=layout)
    clean = load_dataset("rvcbench:Background_noise", data_root=layout)
    assert list(noisy.manifest["target_file_name"]) == list(clean.manifest["target_file_name"])  # twins
    assert all("noisy10dB" in f for f in noisy.manifest["prompt_file_name"])
    assert noisy.fingerprint != clean.fingerprint
    with pytest.raises(UnknownNameError, match="no manifest variant 'loud'.*noisy"):
        load_dataset("rvcbench:Background_noise:loud", data_root=layout)


def test_legacy_ori_gt_columns_are_mapped_to_canonical_ones(tmp_path):
    demo = load_dataset("demo").manifest.head(3)
    legacy = demo.rename(columns={"prompt_file_name": "ori_pth", "prompt_text": "ori_text",
                                  "prompt_language": "ori_lang", "target_file_name": "gt_pth",
                                  "target_text": "gt_text", "target_language": "gt_lang"})
    folder = tmp_path / "legacy"
    shutil.copytree(load_dataset("demo").root / "audios", folder / "audios")
    legacy.to_parquet(folder / "metadata.parquet")
    loaded = load_dataset(str(folder))
    assert list(loaded.manifest["target_text"]) == list(demo["target_text"])
    assert list(loaded.manifest["prompt_file_name"]) == list(demo["prompt_file_name"])


def test_a_manifest_without_target_text_is_one_clear_error_not_a_keyerror(tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(load_dataset("demo").root / "audios", folder / "audios")
    load_dataset("demo").manifest.drop(columns=["target_text", "target_file_name"]).to_parquet(
        folder / "metadata.parquet")
    with pytest.raises(DatasetError) as err:
        load_dataset(str(folder))
    message = str(err.value)
    assert "metadata.parquet" in message and "target_file_name (or legacy gt_pth)" in message
    assert "target_text (or legacy gt_text)" in message and "nothing was run" in message
    result = CliRunner().invoke(main, ["run", "--model", "oracle", "--data", str(folder), "--quiet"])
    assert result.exit_code == 2 and "Traceback" not in result.output and "gt_text" in result.output


def test_a_config_missing_a_canonical_column_and_a_file_lists_every_problem(layout_copy):
    folder = layout_copy / "VCTK"
    manifest = pd.read_parquet(folder / "metadata.parquet").drop(columns=["prompt_phonemes"])
    manifest.to_parquet(folder / "metadata.parquet")
    (folder / manifest.iloc[0]["target_file_name"]).unlink()
    with pytest.raises(DatasetError) as err:
        load_dataset("rvcbench:VCTK", data_root=layout_copy)
    message = str(err.value)
    assert "2 problem(s)" in message and "prompt_phonemes" in message and "does not exist" in message


def test_noisy_pairs_naming_an_unknown_speaker_are_refused(layout_copy):
    path = layout_copy / "Background_noise" / "filelists_noise" / "pairs_10dB_cross.json"
    records = json.loads(path.read_text())
    records[0]["ori_spk"] = records[0]["gt_spk"] = "p999"
    path.write_text(json.dumps(records))
    with pytest.raises(DatasetError, match="speaker id 'p999' is not in metadata.parquet"):
        load_dataset("rvcbench:Background_noise:noisy", data_root=layout_copy)


def test_lock_file_detects_changed_missing_and_added_files(layout_copy):
    folder = layout_copy / "Libritts"
    lock = write_lock(folder, source="test", revision="abc")
    assert set(lock["files"]) >= {"metadata.parquet"} and LOCK_NAME not in lock["files"]
    assert verify_lock(folder) == []
    wav = sorted(folder.glob("audios/*/*.wav"))
    data = bytearray(wav[0].read_bytes())
    data[-1] ^= 0xFF  # same size, different content
    wav[0].write_bytes(bytes(data))
    wav[1].unlink()
    (folder / "audios" / "extra.wav").write_bytes(b"RIFF")
    problems = verify_lock(folder)
    assert len(problems) == 3
    assert any("sha256 differs" in p for p in problems) and any("missing" in p for p in problems)
    assert any("not in the lock" in p for p in problems)
    assert len(verify_lock(folder, full=False)) == 2  # the quick check cannot see a same-size change
    with pytest.raises(DatasetError, match="4 problem") as err:  # a locked folder is checked before a run uses it
        load_dataset("rvcbench:Libritts", data_root=layout_copy)
    assert "sha256 differs" in str(err.value) and "does not exist" in str(err.value)  # lock + manifest, one list
    result = CliRunner().invoke(main, ["data", "verify", str(layout_copy)])
    assert result.exit_code == 2 and "3 problem(s)" in result.output


def test_fetch_downloads_with_huggingface_hub_and_locks_each_folder(layout, tmp_path, monkeypatch):
    """The Hub stands in as a local folder: snapshot_download copies the requested config, as it would download it."""
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id, *, repo_type, allow_patterns, local_dir=None, revision=None, **kwargs):
        calls.append((repo_id, repo_type, allow_patterns, revision))
        config = allow_patterns[0].split("/")[0]
        shutil.copytree(layout / config, Path(local_dir) / config, dirs_exist_ok=True)
        return str(local_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setattr(hub_module, "hub_revision", lambda names: "0123abcd")
    result = CliRunner().invoke(main, ["data", "fetch", "VCTK", "robotcall", "--to", str(tmp_path / "got")])
    assert result.exit_code == 0, result.output
    assert calls == [("Nanboy/RVCBench", "dataset", ["VCTK/*"], "0123abcd"),
                     ("Nanboy/RVCBench", "dataset", ["robotcall/*"], "0123abcd")]
    lock = json.loads((tmp_path / "got" / "VCTK" / LOCK_NAME).read_text())
    assert lock["revision"] == "0123abcd" and lock["source"] == "hf:Nanboy/RVCBench/VCTK"
    assert CliRunner().invoke(main, ["data", "verify", str(tmp_path / "got")]).exit_code == 0
    assert len(load_dataset("rvcbench:VCTK", data_root=tmp_path / "got").manifest) == 2


def test_offline_the_error_gives_the_download_command_and_the_data_root(offline_hub, monkeypatch):
    monkeypatch.delenv("RVCBENCH_DATA_ROOT", raising=False)
    result = CliRunner().invoke(main, ["run", "--model", "oracle", "--data", "rvcbench:VCTK", "--quiet"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "hf download Nanboy/RVCBench --repo-type dataset --include 'VCTK/*'" in result.output
    assert "--data-root" in result.output
    fetch = CliRunner().invoke(main, ["data", "fetch", "Libritts"])
    assert fetch.exit_code == 2 and "hf download" in fetch.output
    unknown = CliRunner().invoke(main, ["data", "fetch", "LibriSpeech"])
    assert unknown.exit_code == 2 and "known: " in unknown.output and "Libritts" in unknown.output


def test_stats_count_each_config_and_explain_the_union(layout):
    found, missing = stats_for([], layout)
    assert missing == [] and len(found) == 11  # 10 configs + Background_noise's noisy variant
    by_name = {s.name: s.as_dict() for s in found}
    assert by_name["rvcbench:VCTK"]["speakers"] == 2 and by_name["rvcbench:VCTK"]["pairs"] == 2
    assert by_name["rvcbench:robotcall"]["extra_columns"] == ["spam_type"]
    assert by_name["rvcbench:Bilingual_uedin"]["languages"] == ["en", "zh"]
    assert by_name["rvcbench:Long_context"]["target_hours"] > 3 * by_name["rvcbench:Libritts"]["target_hours"]
    union = union_report(found)
    assert union["speakers_sum"] == 22 and union["speakers_union"] < union["speakers_sum"]
    assert union["speakers_shared_by"]["rvcbench:Libritts & rvcbench:Long_context"] == 1
    assert union["recordings_union"] < union["recordings_sum"]  # the noisy variant shares its twin's targets
    out = CliRunner().invoke(main, ["data", "stats", "--data-root", str(layout)]).output
    assert "225 speakers" in out and "14,370" in out and "more than one dataset" in out


def test_stats_of_a_partial_data_root_name_what_is_missing(layout, tmp_path):
    shutil.copytree(layout / "VCTK", tmp_path / "VCTK")
    found, missing = stats_for([], tmp_path)
    assert [s.name for s in found] == ["rvcbench:VCTK"] and "rvcbench:Libritts" in missing


def test_pair_subsets_are_deterministic_and_change_the_fingerprint():
    demo = load_dataset("demo")
    one_each = select_pairs(demo, "per_speaker=1")
    assert len(one_each.manifest) == 11 and one_each.manifest["speaker_id"].is_unique
    assert one_each.fingerprint != demo.fingerprint
    assert select_pairs(demo, "per_speaker=1").fingerprint == one_each.fingerprint
    three = select_pairs(demo, "speakers=3,per_speaker=2").manifest
    assert len(three) == 6 and list(dict.fromkeys(three["speaker_id"])) == list(
        dict.fromkeys(demo.manifest["speaker_id"]))[:3]
    assert select_pairs(demo, "all") is demo and parse_pairs(None) == {}
    for bad in ("per_speaker=0", "speakers", "voices=2", "speakers=2,speakers=3"):
        with pytest.raises(PairSubsetError):
            parse_pairs(bad)


def test_canonical_columns_follow_upstreams_order():
    assert CANONICAL_COLUMNS[:4] == ("dataset_name", "split", "pair_id", "speaker_id")
    assert len(CANONICAL_COLUMNS) == 20 and CANONICAL_COLUMNS[-2:] == ("source_manifest", "source_row")
