"""Scorer profiles: named sets of scorers with their settings, each a YAML file.

Built-in profiles live in `rvcbench/scoring/profiles/<name>.yaml`; a user profile is any YAML file passed as
`--profile path/to/mine.yaml`:

    name: my-profile
    description: ECAPA SIM and Whisper medium WER with Whisper's own language detection
    reference: ""                      # the protocol whose numbers it reproduces, if any
    scorers:
      - sim_ecapa
      - {name: wer_whisper_medium, settings: {language: auto}}

A profile is validated before anything runs: an unknown key, scorer or setting is an error naming the file and
the key. Results of different profiles are never ranked together; the profile's name (and, for a user file, its
sha256) is recorded with every run.
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from rvcbench.errors import RvcbenchError, UnknownNameError

BUILTIN_DIR = Path(__file__).with_name("profiles")
TOP_LEVEL_KEYS = {"name", "description", "reference", "scorers"}
SCORER_KEYS = {"name", "settings"}


class ProfileError(RvcbenchError):
    """A profile file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class ScorerSpec:
    name: str
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    reference: str
    scorers: tuple[ScorerSpec, ...]
    path: Path | None = None
    sha256: str = ""

    @property
    def scorer_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.scorers)

    @property
    def user_file(self) -> Path | None:
        """The user's profile file (None for a built-in): what another process passes to `resolve_profile`."""
        return self.path if self.path is not None and self.path.parent != BUILTIN_DIR else None

    def argument(self) -> str:
        """What `resolve_profile` takes to give this profile back, in any process: a built-in's name, else the file."""
        return str(self.user_file) if self.user_file else self.name


def _parse(path: Path, *, check_scorers: bool) -> Profile:
    try:
        raw = path.read_text(encoding="utf-8")
        spec = yaml.safe_load(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: cannot read the profile: {exc}") from exc
    if not isinstance(spec, dict):
        raise ProfileError(f"{path}: a profile is a mapping with keys {sorted(TOP_LEVEL_KEYS)}")
    extra = set(spec) - TOP_LEVEL_KEYS
    if extra:
        raise ProfileError(f"{path}: unknown key(s) {sorted(extra)}; allowed: {sorted(TOP_LEVEL_KEYS)}")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ProfileError(f"{path}: key 'name': a non-empty string")
    scorers = spec.get("scorers")
    if not isinstance(scorers, list):
        raise ProfileError(f"{path}: key 'scorers': a list of scorer names or {{name, settings}} mappings")
    specs = []
    for i, entry in enumerate(scorers):
        where = f"{path}: key 'scorers[{i}]'"
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or set(entry) - SCORER_KEYS or "name" not in entry:
            raise ProfileError(f"{where}: a scorer name or a mapping with keys {sorted(SCORER_KEYS)}")
        settings = entry.get("settings") or {}
        if not isinstance(settings, dict):
            raise ProfileError(f"{where}: settings is a mapping")
        specs.append(ScorerSpec(str(entry["name"]), dict(settings)))
    profile = Profile(name, str(spec.get("description", "")).strip(), str(spec.get("reference", "") or ""),
                      tuple(specs), path, hashlib.sha256(raw.encode()).hexdigest()[:16])
    if check_scorers:
        check_profile(profile)
    return profile


def check_profile(profile: Profile) -> None:
    """Every scorer is registered and every setting is a parameter of that scorer."""
    from rvcbench.scoring.registry import SCORERS

    for i, spec in enumerate(profile.scorers):
        where = f"{profile.path or profile.name}: key 'scorers[{i}]'"
        if spec.name not in SCORERS.names():
            raise ProfileError(f"{where}: unknown scorer {spec.name!r}; known: {', '.join(SCORERS.names())}")
        parameters = scorer_parameters(SCORERS.get(spec.name))
        unknown = [k for k in spec.settings if k not in parameters]
        if unknown:
            raise ProfileError(f"{where}: scorer {spec.name} has no setting(s) {unknown}; "
                               f"allowed: {sorted(parameters) or '(none)'}")


def scorer_parameters(cls: type) -> dict[str, object]:
    """A scorer's settings: its constructor's keyword parameters and their defaults."""
    signature = inspect.signature(cls.__init__)
    return {n: p.default for n, p in signature.parameters.items()
            if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


@cache
def builtin_profiles() -> dict[str, Profile]:
    """The profiles shipped with rvcbench (scorers checked when used, so the registry can import this module)."""
    return {p.stem: _parse(p, check_scorers=False) for p in sorted(BUILTIN_DIR.glob("*.yaml"))}


def resolve_profile(name_or_path: str, builtin_names: dict[str, tuple[str, ...]] | None = None) -> Profile:
    """A built-in profile by name, or a user profile file; validated."""
    from rvcbench.scoring.registry import PROFILES

    names = builtin_names if builtin_names is not None else PROFILES
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ProfileError(f"{path}: no such profile file")
        profile = _parse(path, check_scorers=True)
        if profile.name in names:
            raise ProfileError(f"{path}: key 'name': {profile.name!r} is a built-in profile; name yours differently "
                               "so their results are never mixed")
        return profile
    if name_or_path not in names:
        raise UnknownNameError(f"unknown scorer profile {name_or_path!r}; known: {', '.join(names)} "
                               "(or a path to a profile YAML file)")
    shipped = builtin_profiles().get(name_or_path)
    if shipped is not None and shipped.scorer_names == tuple(names[name_or_path]):
        check_profile(shipped)
        return shipped
    profile = Profile(name_or_path, "", "", tuple(ScorerSpec(n) for n in names[name_or_path]))
    check_profile(profile)
    return profile


def build_scorers(profile: Profile) -> list:
    """One instance per scorer; a scorer whose settings the profile changes records them in its version."""
    import json

    from rvcbench.scoring.registry import SCORERS

    scorers = []
    for spec in profile.scorers:
        scorer = SCORERS.get(spec.name)(**spec.settings)
        if spec.settings:
            blob = json.dumps(spec.settings, sort_keys=True, default=str).encode()
            scorer.settings_tag = f"+settings-{hashlib.sha256(blob).hexdigest()[:8]}"
        scorers.append(scorer)
    return scorers
