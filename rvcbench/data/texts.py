"""The dataset's transcripts, for transforms that build or swap texts (long-form, wrong transcript)."""

from __future__ import annotations

from rvcbench.transforms.base import TransformContext


class DatasetTexts:
    """The dataset's transcripts, for transforms that build or swap texts (long-form, wrong transcript)."""

    def __init__(self, manifest) -> None:
        rows = []
        for r in manifest.itertuples():
            rows.append((r.target_text, r.target_language, r.speaker_id))
            rows.append((r.prompt_text, r.prompt_language, r.speaker_id))
        self._rows = list(dict.fromkeys(rows))

    def texts(self, language: str | None = None, speaker_id: str | None = None) -> list[str]:
        chosen = [text for text, lang, speaker in self._rows
                  if (language is None or lang == language) and (speaker_id is None or speaker == speaker_id)]
        return [t for t in dict.fromkeys(chosen) if str(t).strip()]

    def context(self, row: dict) -> TransformContext:
        return TransformContext(speaker_id=row["speaker_id"], texts=self.texts,
                                prompt_language=row["prompt_language"])
