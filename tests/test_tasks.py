"""Task specs: the shipped ones validate; a bad spec is refused with the file, the key and the allowed values."""

from __future__ import annotations

from pathlib import Path

import pytest

from rvcbench.scoring.registry import PROFILES, SCORERS
from rvcbench.summary import known_metrics
from rvcbench.tasks import CLEAN, TaskSpecError, discover_tasks, load_task, load_tasks

METRICS = set(known_metrics([SCORERS.get(n).meta for n in PROFILES["offline"]]))


def write_spec(root: Path, text: str, family: str = "input", name: str = "mytask") -> Path:
    path = root / family / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


VALID = """
name: mytask
family: input
description: test
applies_to: prompt
metrics: [sim]
conditions:
  - grid:
      transform: add_noise
      params: {noise: [white, pink], snr_db: [10, 0]}
  - name: reverb
    steps:
      - {transform: add_reverb, rt60_s: 0.5}
"""


def test_every_shipped_task_spec_validates():
    tasks = load_tasks("all", METRICS)
    assert {"noisy-reference", "multi-speaker-reference", "reference-length", "post-processing",
            "protection", "text-robustness", "accent-diversity"} <= {t.name for t in tasks}
    assert next(t for t in tasks if t.name == "accent-diversity").group_by == ("accent", "gender")
    for task in tasks:
        assert task.conditions[0].name == CLEAN and task.conditions[0].is_clean
        assert len({c.name for c in task.conditions}) == len(task.conditions)


def test_a_grid_expands_to_every_combination_after_clean(tmp_path):
    task = load_task(write_spec(tmp_path, VALID), METRICS)
    names = [c.name for c in task.conditions]
    assert names[0] == CLEAN and len(names) == 1 + 4 + 1
    assert "add_noise noise=pink snr_db=0" in names and "reverb" in names


@pytest.mark.parametrize("change, message", [
    (("add_reverb", "add_echo"), "unknown transform 'add_echo'; allowed: .*add_reverb"),
    (("rt60_s", "rt_60"), "has no parameter\\(s\\) \\['rt_60'\\]; allowed: \\['rt60_s'\\]"),
    (("metrics: [sim]", "metrics: [similarity]"), "key 'metrics': unknown \\['similarity'\\]; allowed: .*sim"),
    (("family: input", "family: inputs"), "key 'family'"),
    (("applies_to: prompt", "applies_to: text"), "transform 'add_noise' changes audio, not text"),
    (("description: test", "descripton: test"), "unknown key\\(s\\) \\['descripton'\\]"),
])
def test_a_bad_spec_names_the_file_the_key_and_the_allowed_values(tmp_path, change, message):
    path = write_spec(tmp_path, VALID.replace(*change))
    with pytest.raises(TaskSpecError, match=message) as info:
        load_task(path, METRICS)
    assert str(path) in str(info.value)


def test_unknown_task_names_list_the_known_ones():
    from rvcbench.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="known: .*noisy-reference"):
        load_tasks("no-such-task", METRICS)
    assert "noisy-reference" in discover_tasks()
