"""The manifest of clone pairs, in the column layout of RVCBench's `metadata.parquet`.

One row = clone the speaker of the `prompt` recording, say `target_text`, and compare with the real
`target` recording of the same speaker. File names are relative to the dataset root. Extra columns
(accent, gender, ...) are kept and travel with every result row.
"""

from __future__ import annotations

import pandas as pd

REQUIRED_COLUMNS: tuple[str, ...] = (
    "speaker_id",
    "pair_id",
    "prompt_file_name",
    "prompt_text",
    "prompt_language",
    "target_file_name",
    "target_text",
    "target_language",
    "dataset_name",
    "split",
)
TEXT_COLUMNS = ("speaker_id", "pair_id", "prompt_file_name", "prompt_text", "prompt_language",
                "target_file_name", "target_text", "target_language", "dataset_name", "split")

# The published RVCBench manifests (`src/datasets/manifest_utils.py` upstream): every config's
# metadata.parquet has these columns in this order, dataset-specific extras after them.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "dataset_name", "split", "pair_id", "speaker_id",
    "prompt_file_name", "prompt_speaker_id", "prompt_language", "prompt_text",
    "prompt_phonemes", "prompt_tone", "prompt_word2ph",
    "target_file_name", "target_speaker_id", "target_language", "target_text",
    "target_phonemes", "target_tone", "target_word2ph",
    "source_manifest", "source_row",
)
# Upstream's legacy per-speaker JSON names (`ori_*` = the prompt, `gt_*` = the ground-truth target).
LEGACY_TO_CANONICAL: dict[str, str] = {
    **{f"ori_{k}": f"prompt_{v}" for k, v in (("pth", "file_name"), ("spk", "speaker_id"), ("lang", "language"),
                                              ("text", "text"), ("phonemes", "phonemes"), ("tone", "tone"),
                                              ("word2ph", "word2ph"))},
    **{f"gt_{k}": f"target_{v}" for k, v in (("pth", "file_name"), ("spk", "speaker_id"), ("lang", "language"),
                                             ("text", "text"), ("phonemes", "phonemes"), ("tone", "tone"),
                                             ("word2ph", "word2ph"))},
}


def _as_text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def rename_legacy_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Upstream's legacy names (`ori_pth`, `gt_text`, ...) → canonical ones, where the canonical one is absent."""
    renames = {old: new for old, new in LEGACY_TO_CANONICAL.items()
               if old in frame.columns and new not in frame.columns}
    return frame.rename(columns=renames)


def missing_required_columns(frame: pd.DataFrame) -> list[str]:
    """Required columns the manifest lacks after legacy renaming and RVCBench's fallbacks."""
    fallbacks = {"dataset_name", "split"} | ({"target_language"} if "prompt_language" in frame.columns else set())
    if "prompt_speaker_id" in frame.columns:
        fallbacks.add("speaker_id")
    return [c for c in REQUIRED_COLUMNS if c not in frame.columns and c not in fallbacks]


def normalize_manifest(frame: pd.DataFrame, dataset_name: str) -> pd.DataFrame:
    """Fill optional columns the way RVCBench does, so its published manifests load as they are.

    Legacy `ori_*`/`gt_*` names are renamed to `prompt_*`/`target_*`. Missing `dataset_name`/`split`
    get the dataset's name / "default"; a missing `target_language` falls back to `prompt_language`,
    a missing `speaker_id` to `prompt_speaker_id`. Required text columns are coerced to `str` (NaN → "").
    Callers check `missing_required_columns` first: this function does not invent a text or a file.
    """
    frame = rename_legacy_columns(frame)
    if "speaker_id" not in frame.columns and "prompt_speaker_id" in frame.columns:
        frame["speaker_id"] = frame["prompt_speaker_id"]
    if "dataset_name" not in frame.columns:
        frame["dataset_name"] = dataset_name
    if "split" not in frame.columns:
        frame["split"] = "default"
    if "target_language" not in frame.columns and "prompt_language" in frame.columns:
        frame["target_language"] = frame["prompt_language"]
    for column in TEXT_COLUMNS:
        if column in frame.columns:
            frame[column] = frame[column].map(_as_text)
    ordered = [c for c in REQUIRED_COLUMNS if c in frame.columns]
    return frame[ordered + [c for c in frame.columns if c not in ordered]].reset_index(drop=True)


def pairs_from_utterances(utterances: pd.DataFrame, dataset_name: str, split: str) -> pd.DataFrame:
    """Turn a table of utterances into clone pairs: each utterance is a target once.

    Its prompt is the next utterance of the same speaker (cyclically, in table order), so every
    speaker with two or more utterances contributes one pair per utterance. Input columns:
    speaker_id, utt_id, file_name, text, language; any other column is kept as an extra.
    """
    rows = []
    extras = [c for c in utterances.columns if c not in {"speaker_id", "utt_id", "file_name", "text", "language"}]
    for speaker_id, group in utterances.groupby("speaker_id", sort=False):
        group = group.reset_index(drop=True)
        if len(group) < 2:
            continue
        for i, target in group.iterrows():
            prompt = group.iloc[(i + 1) % len(group)]
            row = {
                "speaker_id": str(speaker_id),
                "pair_id": f"{speaker_id}__{target.utt_id}",
                "prompt_file_name": prompt.file_name,
                "prompt_text": prompt.text,
                "prompt_language": prompt.language,
                "target_file_name": target.file_name,
                "target_text": target.text,
                "target_language": target.language,
                "dataset_name": dataset_name,
                "split": split,
            }
            row.update({c: target[c] for c in extras})
            rows.append(row)
    return pd.DataFrame(rows)
