"""`rvcbench new-adapter`: a models/NAME/ folder from the template that imports, lists and explains itself."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from rvcbench.adapters.registry import build_registry, create_adapter
from rvcbench.adapters.scaffold import scaffold_adapter
from rvcbench.cli import main
from rvcbench.errors import RvcbenchError


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RVCBENCH_MODELS_PATH", str(tmp_path / "models"))
    monkeypatch.setenv("RVCBENCH_ENVS_DIR", str(tmp_path / "envs"))
    return tmp_path / "models"


def test_new_adapter_writes_a_folder_that_rvcbench_models_lists(models_dir):
    result = CliRunner().invoke(main, ["new-adapter", "my-vc", "--dir", str(models_dir)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (models_dir / "my-vc").iterdir()) == ["README.md", "adapter.py", "requirements.txt"]
    listing = CliRunner().invoke(main, ["models"])
    assert listing.exit_code == 0 and "my-vc" in listing.output and "cannot import" not in listing.output
    assert build_registry().origin("my-vc") == f"folder {models_dir / 'my-vc'}"
    adapter = create_adapter("my-vc")
    assert adapter.name == "my-vc" and adapter.sample_rate > 0 and "$" not in adapter.requirements
    readme = (models_dir / "my-vc" / "README.md").read_text()
    assert "rvcbench check-adapter my-vc" in readme and "${name}" not in readme


def test_a_fresh_scaffold_fails_its_check_at_load_saying_what_to_fill_in(models_dir):
    scaffold_adapter("fresh", models_dir)
    result = CliRunner().invoke(main, ["check-adapter", "fresh", "--device", "cpu"])
    assert result.exit_code == 1
    assert "NotImplementedError: fill in load() in the adapter of fresh" in result.output


def test_the_scaffold_requirements_file_gives_an_environment_plan(models_dir):
    scaffold_adapter("fresh", models_dir)
    result = CliRunner().invoke(main, ["env", "create", "fresh", "--dry-run", "--installer", "pip"])
    assert result.exit_code == 0, result.output
    assert " -r " not in result.output  # the template pins nothing yet
    assert "--no-deps" in result.output


@pytest.mark.parametrize("name, reason", [("My VC", "not a valid model name"), ("9lives", "not a valid model name"),
                                          ("a--b", "not a valid model name"), ("oracle", "exists already")])
def test_bad_or_taken_names_are_refused(models_dir, name, reason):
    with pytest.raises(RvcbenchError, match=reason):
        scaffold_adapter(name, models_dir)
    assert not (models_dir / name).exists()


def test_an_existing_folder_is_never_overwritten(models_dir):
    (models_dir / "mine").mkdir(parents=True)
    (models_dir / "mine" / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(main, ["new-adapter", "mine", "--dir", str(models_dir)])
    assert result.exit_code == 2 and "exists already" in result.output
    assert (models_dir / "mine" / "notes.txt").read_text() == "keep me"
