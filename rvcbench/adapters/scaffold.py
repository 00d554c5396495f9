"""`rvcbench new-adapter NAME`: a new `models/NAME/` folder from the documented template.

The template (`rvcbench/adapters/template/`) is an adapter with every declaration marked TODO, the
lazy-import pattern, the engine's helpers, a pinned requirements file and a README with the table
every model folder carries. The guide is docs/adding-a-model.md.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from rvcbench.adapters.registry import build_registry
from rvcbench.errors import RvcbenchError
from rvcbench.model_envs import checkout_root

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
MAX_NAME_LENGTH = 40
TEMPLATE_FILES = {"adapter.py": "adapter.py.tmpl", "requirements.txt": "requirements.txt.tmpl",
                  "README.md": "README.md.tmpl"}


def default_models_dir() -> Path:
    """The checkout's `models/` when rvcbench runs from one, else `./models`."""
    root = checkout_root()
    return root / "models" if root else Path.cwd() / "models"


def check_name(name: str) -> None:
    if len(name) > MAX_NAME_LENGTH or not NAME_PATTERN.match(name):
        raise RvcbenchError(f"{name!r} is not a valid model name: use lowercase letters and digits, words joined "
                            f"by '-' or '_', starting with a letter, at most {MAX_NAME_LENGTH} characters "
                            "(e.g. f5-tts, xtts_v2)")
    if name in build_registry().names():
        raise RvcbenchError(f"a model named {name!r} exists already (`rvcbench models`); choose another name")


def scaffold_adapter(name: str, models_dir: Path | None = None) -> list[Path]:
    """Write `<models_dir>/<name>/` from the template; refuses an existing folder."""
    check_name(name)
    folder = (models_dir or default_models_dir()) / name
    if folder.exists():
        raise RvcbenchError(f"{folder} exists already; new-adapter never overwrites a folder")
    template = resources.files("rvcbench.adapters").joinpath("template")
    folder.mkdir(parents=True)
    written = []
    for target, source in TEMPLATE_FILES.items():
        text = Template(template.joinpath(source).read_text(encoding="utf-8")).substitute(name=name)
        path = folder / target
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
