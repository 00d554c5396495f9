"""`rvcbench data stats`: what a dataset holds (speakers, pairs, hours, languages, extra columns), and the union
over several, with the reasons the union is smaller than the sum (speakers shared between configs, recordings
used by two configs, such as a clean/noisy twin's targets).

Speakers are identified by their id across configs: the RVCBench configs keep each corpus's own ids (VCTK
`p227`, LibriSpeech/LibriTTS numbers, which LibriTTS inherits from LibriSpeech), so the same id is the same
person. Recordings are identified by content (sha256), so a file copied into two configs counts once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from rvcbench.data.loaders import Dataset
from rvcbench.data.lock import read_lock, sha256_file
from rvcbench.data.manifest import CANONICAL_COLUMNS, REQUIRED_COLUMNS

PAPER_COUNTS = {"speakers": 225, "utterances": 14370, "source": "arXiv:2602.00443v2 (README: '225 speakers, "
                "14,370 utterances')"}


@dataclass
class DatasetStats:
    name: str
    speakers: set[str]
    pairs: int
    prompt_seconds: float
    target_seconds: float
    languages: list[str]
    extra_columns: list[str]
    recordings: dict[str, str] = field(default_factory=dict)  # sha256 → file name (prompts and targets)

    def as_dict(self) -> dict:
        return {"name": self.name, "speakers": len(self.speakers), "pairs": self.pairs,
                "prompt_hours": self.prompt_seconds / 3600, "target_hours": self.target_seconds / 3600,
                "languages": self.languages, "extra_columns": self.extra_columns, "recordings": len(self.recordings)}


def dataset_stats(dataset: Dataset) -> DatasetStats:
    manifest = dataset.manifest
    lock = read_lock(dataset.root) or {}
    locked = lock.get("files", {}) if isinstance(lock.get("files"), dict) else {}
    seconds: dict[str, float] = {}
    recordings: dict[str, str] = {}

    def visit(file_name: str) -> float:
        if file_name not in seconds:
            path = dataset.audio_path(file_name)
            info = sf.info(str(path))
            seconds[file_name] = info.frames / info.samplerate
            relative = path.resolve().relative_to(dataset.root).as_posix()
            digest = locked.get(relative, {}).get("sha256") or sha256_file(path)
            recordings[digest] = file_name
        return seconds[file_name]

    prompts = set(manifest["prompt_file_name"])
    targets = set(manifest["target_file_name"])
    languages = sorted(set(manifest["prompt_language"]) | set(manifest["target_language"]))
    known = set(CANONICAL_COLUMNS) | set(REQUIRED_COLUMNS)
    return DatasetStats(dataset.name, set(manifest["speaker_id"]), len(manifest),
                        sum(visit(f) for f in prompts), sum(visit(f) for f in targets), languages,
                        [c for c in manifest.columns if c not in known], recordings)


def union_report(stats: list[DatasetStats]) -> dict:
    """The union over datasets and why it differs from the sum: shared speakers, shared recordings."""
    speaker_in: dict[str, list[str]] = defaultdict(list)
    recording_in: dict[str, list[str]] = defaultdict(list)
    for s in stats:
        for speaker in s.speakers:
            speaker_in[speaker].append(s.name)
        for digest in s.recordings:
            recording_in[digest].append(s.name)
    shared_speakers = {k: v for k, v in speaker_in.items() if len(v) > 1}
    shared_recordings = {k: v for k, v in recording_in.items() if len(v) > 1}
    overlaps: dict[str, int] = defaultdict(int)
    for names in shared_speakers.values():
        overlaps[" & ".join(sorted(names))] += 1
    twins: dict[str, int] = defaultdict(int)
    for names in shared_recordings.values():
        twins[" & ".join(sorted(names))] += 1
    return {
        "datasets": len(stats),
        "speakers_sum": sum(len(s.speakers) for s in stats), "speakers_union": len(speaker_in),
        "pairs_sum": sum(s.pairs for s in stats),
        "recordings_sum": sum(len(s.recordings) for s in stats), "recordings_union": len(recording_in),
        "prompt_hours": sum(s.prompt_seconds for s in stats) / 3600,
        "target_hours": sum(s.target_seconds for s in stats) / 3600,
        "languages": sorted({lang for s in stats for lang in s.languages}),
        "speakers_shared_by": dict(sorted(overlaps.items())),
        "recordings_shared_by": dict(sorted(twins.items())),
        "paper": PAPER_COUNTS,
    }


def format_stats(stats: list[DatasetStats], union: dict | None, missing: list[str]) -> str:
    head = (f"{'dataset':<34}{'speakers':>9}{'pairs':>8}{'recordings':>11}{'prompt h':>10}{'target h':>10}  "
            f"languages  extra columns")
    lines = [head, "-" * len(head)]
    for s in stats:
        d = s.as_dict()
        lines.append(f"{s.name:<34}{d['speakers']:>9}{d['pairs']:>8}{d['recordings']:>11}{d['prompt_hours']:>10.3f}"
                     f"{d['target_hours']:>10.3f}  {','.join(s.languages):<9}  {', '.join(s.extra_columns) or '-'}")
    for name in missing:
        lines.append(f"{name:<34}not present here (rvcbench data fetch {name.split(':')[-1]})")
    if union and len(stats) > 1:
        u = union
        lines += ["", f"union over {u['datasets']} datasets: {u['speakers_union']} speakers "
                      f"(sum {u['speakers_sum']}), "
                      f"{u['pairs_sum']} pairs, {u['recordings_union']} distinct recordings "
                      f"(sum {u['recordings_sum']}), "
                      f"{u['prompt_hours']:.3f} h of prompts, {u['target_hours']:.3f} h of targets, "
                      f"languages {', '.join(u['languages'])}"]
        lines.append(f"the paper reports {u['paper']['speakers']} speakers and {u['paper']['utterances']:,} utterances "
                     f"({u['paper']['source']})")
        if u["speakers_shared_by"]:
            lines.append("speakers counted in more than one dataset (why the union is smaller than the sum):")
            lines += [f"  {n} speaker(s) in {where}" for where, n in u["speakers_shared_by"].items()]
        if u["recordings_shared_by"]:
            lines.append("recordings used by more than one dataset (e.g. a clean/noisy twin's targets):")
            lines += [f"  {n} recording(s) in {where}" for where, n in u["recordings_shared_by"].items()]
        if missing:
            lines.append(f"not counted: {', '.join(missing)} (not present here)")
    return "\n".join(lines)


def stats_for(path_or_names: list[str], data_root: Path | None) -> tuple[list[DatasetStats], list[str]]:
    """Stats of config names (found under the data root or in the HF cache, never downloaded) or folders;
    with no argument, every config of the RVCBench dataset and its variants."""
    from rvcbench.data.hub import HF_PREFIX, hub_configs, resolve_config_folder
    from rvcbench.data.loaders import load_dataset
    from rvcbench.errors import DatasetError

    specs = path_or_names or [f"{HF_PREFIX}{c.name}" + suffix for c in hub_configs().values()
                              for suffix in ["", *(f":{v}" for v in c.manifests)]]
    out, missing = [], []
    for spec in specs:
        if not Path(spec).is_dir() and not spec.startswith(HF_PREFIX):
            spec = HF_PREFIX + spec
        if spec.startswith(HF_PREFIX):
            try:
                resolve_config_folder(spec[len(HF_PREFIX):].split(":")[0], data_root, download=False)
            except DatasetError:
                missing.append(spec)
                continue
        out.append(dataset_stats(load_dataset(spec, data_root=data_root)))
    return out, missing
