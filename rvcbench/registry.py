"""One small registry mechanism for adapters and scorers (lm-evaluation-harness style).

Entries are lazy `"module:Class"` strings (or `"path/to/file.py:Class"`), so listing names never
imports a heavy model stack. Third-party packages add entries through an entry-point group.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from rvcbench.errors import UnknownNameError


class Registry:
    def __init__(self, kind: str, entry_point_group: str) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._targets: dict[str, str] = {}
        self._origins: dict[str, str] = {}

    def register(self, name: str, target: str, origin: str = "built-in", replace: bool = False) -> None:
        """Register `name` → `"module:Class"` or `"/path/file.py:Class"`; once, unless `replace`."""
        if name in self._targets and self._targets[name] != target and not replace:
            raise ValueError(
                f"{self.kind} name {name!r} is registered twice: {self._targets[name]} "
                f"({self._origins[name]}) and {target} ({origin})"
            )
        self._targets[name] = target
        self._origins[name] = origin

    def load_entry_points(self) -> None:
        for ep in entry_points(group=self.entry_point_group):
            self.register(ep.name, ep.value, origin=f"entry point of {ep.dist.name if ep.dist else '?'}")

    def names(self) -> list[str]:
        return sorted(self._targets)

    def origin(self, name: str) -> str:
        return self._origins[name]

    def target(self, name: str) -> str:
        self._check(name)
        return self._targets[name]

    def get(self, name: str) -> Any:
        """Import and return the registered class."""
        return import_target(self.target(name))

    def _check(self, name: str) -> None:
        if name not in self._targets:
            known = ", ".join(self.names()) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known {self.kind}s: {known}")


def import_target(target: str) -> Any:
    """Resolve `"package.module:Attr"` or `"/path/to/file.py:Attr"`."""
    module_part, _, attr = target.rpartition(":")
    if module_part.endswith(".py"):
        path = Path(module_part)
        module_name = f"rvcbench_plugin_{path.parent.name}_{path.stem}"
        if module_name not in sys.modules:
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        module = sys.modules[module_name]
    else:
        module = importlib.import_module(module_part)
    return getattr(module, attr)
