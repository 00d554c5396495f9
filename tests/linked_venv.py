"""A real second virtual environment made in a second, without downloads, for worker tests.

`python -m venv --without-pip` gives a separate interpreter prefix; a `.pth` file adds the main
environment's site-packages (and so rvcbench and the baseline's stack) to it.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

from rvcbench.model_envs import env_python


def make_linked_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site_packages = next(p for p in path.glob("**/site-packages") if p.is_dir())
    main_site = sysconfig.get_paths()["purelib"]
    (site_packages / "_rvcbench_main_env.pth").write_text(f"import site; site.addsitedir({main_site!r})\n")
    return env_python(path)
