"""How much a prompt transform moved the speaker embedding: SIM of the model-input prompt vs the original.

Same encoder and recipe as `sim` (Resemblyzer GE2E, `speaker_similarity.py`). For the optimised
protections of the `protection` task this is the white-box number: PGD and the universal patch are
optimised against this very encoder (`transforms/surrogate.py`), so a low `input_sim` says the attack
worked on its surrogate, not that it protects; whether it transfers to a voice-cloning model is what
`sim` of that model's clones shows.
"""

from __future__ import annotations

import math

from rvcbench.scoring.contract import (
    NEEDS_INPUT_PROMPT_AUDIO,
    NEEDS_PROMPT_AUDIO,
    Metric,
    ScoreInput,
    Scorer,
    ScorerMeta,
)
from rvcbench.scoring.speaker_similarity import ResemblyzerSimilarity

NAME = "input_sim_resemblyzer"


class InputSimilarity(Scorer):
    meta = ScorerMeta(
        name=NAME,
        version=ResemblyzerSimilarity.meta.version,
        model=ResemblyzerSimilarity.meta.model,
        needs=frozenset({NEEDS_PROMPT_AUDIO, NEEDS_INPUT_PROMPT_AUDIO}),
        sample_rate=ResemblyzerSimilarity.meta.sample_rate,
        metrics=(Metric("input_sim", True, "Cosine similarity of Resemblyzer embeddings: the prompt the model "
                                           "received vs the original prompt (white-box for surrogate attacks)",
                         top_level=False),),
        requirements=ResemblyzerSimilarity.meta.requirements,
        settings=ResemblyzerSimilarity.meta.settings,
    )

    def __init__(self) -> None:
        self._similarity = ResemblyzerSimilarity()

    def load(self, device: str) -> None:
        self._similarity.load(device)

    def score(self, batch: list[ScoreInput]) -> list[dict[str, float | str]]:
        ready = [item for item in batch if item.prompt_audio is not None and item.input_prompt_audio is not None]
        scored = iter(self._similarity.score([ScoreInput(item.pair_id, item.input_prompt_audio,
                                                         prompt_audio=item.prompt_audio) for item in ready]))
        out: list[dict[str, float | str]] = []
        for item in batch:
            if item.prompt_audio is None or item.input_prompt_audio is None:
                out.append({"input_sim": math.nan, f"{NAME}_error": "not provided: both prompts are needed"})
                continue
            values = next(scored)
            row: dict[str, float | str] = {"input_sim": values["sim_prompt"]}
            if not math.isfinite(values["sim_prompt"]) and "sim_resemblyzer_error" in values:
                row[f"{NAME}_error"] = values["sim_resemblyzer_error"]  # the errors about the prompts, not the
                # target (the similarity scorer also asks for a target, which this one never passes)
            out.append(row)
        return out
