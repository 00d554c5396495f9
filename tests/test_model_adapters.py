"""The contract every models/<key>/adapter.py keeps, checked for each folder found there.

An adapter imports without its model stack (the runner then runs it in the model's own environment), declares
what upstream documents, pins its environment, documents itself, and fails with the command that fixes a
missing download before anything heavy is imported.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rvcbench.adapters.registry import create_adapter
from rvcbench.errors import MissingDependencyError

MODELS = Path(__file__).resolve().parents[1] / "models"
KEYS = sorted(path.parent.name for path in MODELS.glob("*/adapter.py"))
ALLOWED_IMPORTS = set(sys.stdlib_module_names) | {"numpy", "rvcbench"}
HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")  # a Hugging Face id; anything else is a local folder
PINNED = re.compile(r"[A-Za-z0-9][\w.-]*(\[[\w,.-]+\])?\s*(===?\s*[\w.+!-]+|@\s*git\+\S+@[\w.-]+)")
DECLARED = ("name", "description", "sample_rate", "languages", "needs_prompt_text", "batch_size", "requirements",
            "version", "weights_id", "license", "stack_modules")

IMPORT_EACH = """
import importlib, json, sys
from rvcbench.adapters.registry import create_adapter
new = {}
for key, preloaded in json.loads(sys.argv[1]).items():
    for name in preloaded:  # rvcbench's own modules may import what they like (soundfile, scipy)
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:  # `from rvcbench.x import name`: name is not a module
            pass
    before = set(sys.modules)
    create_adapter(key)
    new[key] = sorted({name.split(".")[0] for name in set(sys.modules) - before})
print(json.dumps(new))
"""


def top_level_imports(key: str) -> set[str]:
    """Modules imported by the statements at the top of models/<key>/adapter.py (not inside functions); for
    `from a.b import c`, both a.b and a.b.c (which may be a module)."""
    tree = ast.parse((MODELS / key / "adapter.py").read_text())
    names = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.fixture(scope="module")
def newly_imported() -> dict[str, list[str]]:
    """Per adapter, the top-level packages that importing it through the registry adds, in a fresh interpreter
    (here, earlier tests may already have imported torch and the like)."""
    preloaded = {key: sorted(n for n in top_level_imports(key) if n.startswith("rvcbench")) for key in KEYS}
    done = subprocess.run([sys.executable, "-c", IMPORT_EACH, json.dumps(preloaded)], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


def test_every_adapter_folder_is_found():
    assert len(KEYS) >= 11 and "cosyvoice2" in KEYS and "vibevoice" in KEYS


@pytest.mark.parametrize("key", KEYS)
def test_imports_only_stdlib_numpy_and_rvcbench_and_not_its_stack(key, newly_imported):
    assert {name.split(".")[0] for name in top_level_imports(key)} <= ALLOWED_IMPORTS
    stack = {name.split(".")[0] for name in create_adapter(key).stack_modules}
    assert not stack & set(newly_imported[key])
    # nor upstream's checkout code (cosyvoice, glmtts_inference, cli.SparkTTS, ...), which stack_modules leaves out
    others = [name for name in newly_imported[key] if name not in ALLOWED_IMPORTS and not name.startswith("rvcbench")]
    assert others == []


@pytest.mark.parametrize("key", KEYS)
def test_declares_its_attributes(key):
    adapter = create_adapter(key)
    assert [attr for attr in DECLARED if attr not in vars(type(adapter))] == []
    assert adapter.name == key and adapter.sample_rate > 0 and adapter.batch_size >= 1
    assert adapter.languages and all(isinstance(code, str) and code for code in adapter.languages)
    assert adapter.weights_id and adapter.license and adapter.version and adapter.description
    assert f"models/{key}/requirements.txt" in adapter.requirements
    assert adapter.stack_modules and all(isinstance(name, str) and name for name in adapter.stack_modules)


@pytest.mark.parametrize("key", KEYS)
def test_requirements_are_pinned(key):
    lines = [line.split("#")[0].split(";")[0].strip() for line in (MODELS / key / "requirements.txt").read_text()
             .splitlines()]
    requirements = [line for line in lines if line]
    assert requirements and [line for line in requirements if not PINNED.fullmatch(line)] == []


@pytest.mark.parametrize("key", KEYS)
def test_readme_documents_weights_licence_languages_rate_and_checks(key):
    adapter, readme = create_adapter(key), (MODELS / key / "README.md").read_text()
    assert adapter.weights_id in readme and "Licence" in readme
    assert [code for code in sorted(adapter.languages) if f"`{code}`" not in readme] == []
    assert f"{adapter.sample_rate / 1000:g} kHz" in readme
    assert re.search(r"^## Checked here\n\S", readme, re.MULTILINE)


@pytest.mark.parametrize("key", KEYS)
def test_missing_default_weights_name_the_download_command(key, offline_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # a default local folder (~/...) is then surely missing
    adapter = create_adapter(key)
    with pytest.raises(MissingDependencyError) as err:
        adapter.load("cpu")
    if HUB_ID.fullmatch(adapter.weights_id):
        assert f"huggingface-cli download {adapter.weights_id}" in str(err.value)
    else:  # a local folder: the message names where and how to fetch it
        assert "download" in str(err.value).lower() and str(Path(adapter.weights_id).expanduser()) in str(err.value)


@pytest.mark.parametrize("key", KEYS)
def test_clone_before_load_is_an_error(key):
    with pytest.raises(RuntimeError, match=f"{key}: .*before load"):
        create_adapter(key).clone([])
