"""One virtual environment per model: create it, record where it is, check that its stack imports.

Models pin conflicting stacks (torch versions, numpy majors), so each `models/<key>/` gets its own
environment and the runner talks to it through a worker (`rvcbench.adapters.worker`). Environments live
in `~/.cache/rvcbench/envs/<key>/` (or under the folder named by RVCBENCH_ENVS_DIR) and are recorded in
`envs.json` there; any existing virtual environment can be recorded too (`record_env`).

An environment gets the model's pinned `requirements.txt` first, then the few packages the worker needs
(numpy, scipy, soundfile, with rvcbench's own version ranges) and rvcbench itself without its
dependencies: the scorers' stack (torch, Whisper, ...) stays in the main environment, where scoring runs.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import rvcbench
from rvcbench.errors import RvcbenchError

ENVS_DIR_VARIABLE = "RVCBENCH_ENVS_DIR"
REGISTRY_FILE = "envs.json"
REQUIREMENTS_FILE = "requirements.txt"
WORKER_PACKAGES = ("numpy", "scipy", "soundfile")  # what the worker and adapter support import
CHECK_SECONDS = 300


class ModelEnvError(RvcbenchError):
    """A model environment cannot be created, found or used; the message says what to do."""


@dataclass(frozen=True)
class ModelEnv:
    model: str
    path: str
    python: str
    python_version: str
    created: str
    installer: str  # uv, pip, or recorded (made by hand)
    requirements: str | None
    checkout: str | None = None  # the upstream clone made by `--with-upstream`
    notes: tuple[str, ...] = ()  # what differs from the pins (a shared torch, ...)

    @property
    def ok(self) -> bool:
        """The interpreter is still there (a removed base Python leaves a dangling link)."""
        return Path(self.python).exists()


@dataclass(frozen=True)
class CreatePlan:
    model: str
    env_path: Path
    installer: str
    requirements: Path
    commands: list[list[str]]
    files: dict[Path, str] = field(default_factory=dict)  # written before the commands run
    notes: tuple[str, ...] = ()  # where the environment differs from the pins, and why
    checkout: Path | None = None  # the upstream clone the commands make


@dataclass(frozen=True)
class ModuleCheck:
    module: str
    ok: bool
    version: str  # the module's version, or the installed distribution's when the import failed ("" if none)
    error: str


def envs_dir() -> Path:
    return Path(os.environ.get(ENVS_DIR_VARIABLE) or Path.home() / ".cache" / "rvcbench" / "envs").expanduser()


def env_python(env_path: Path) -> Path:
    return env_path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def recorded_envs() -> dict[str, ModelEnv]:
    path = envs_dir() / REGISTRY_FILE
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {model: ModelEnv(**{**entry, "notes": tuple(entry.get("notes", ()))}) for model, entry in raw.items()}
    except (json.JSONDecodeError, TypeError) as exc:
        raise ModelEnvError(f"{path} is not a valid environment registry ({exc}); fix or delete it, "
                            "then record the environments again with `rvcbench env create MODEL`") from exc


def recorded_env(model: str) -> ModelEnv | None:
    return recorded_envs().get(model)


def record_env(model: str, env_path: Path, *, installer: str = "recorded", requirements: Path | None = None,
               checkout: Path | None = None, notes: tuple[str, ...] = ()) -> ModelEnv:
    """Record `env_path` (a virtual environment) as the environment of `model`."""
    python = env_python(Path(env_path))
    if not python.exists():
        raise ModelEnvError(f"{env_path} is not a virtual environment: {python} does not exist")
    version = subprocess.run([str(python), "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    env = ModelEnv(model=model, path=str(Path(env_path).absolute()), python=str(python.absolute()),
                   python_version=version, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   installer=installer, requirements=str(requirements) if requirements else None,
                   checkout=str(Path(checkout).absolute()) if checkout else None, notes=tuple(notes))
    envs = recorded_envs()
    envs[model] = env
    registry = envs_dir() / REGISTRY_FILE
    registry.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=registry.parent, suffix=".tmp", delete=False) as tmp:
        json.dump({k: asdict(v) for k, v in sorted(envs.items())}, tmp, indent=2)
    os.replace(tmp.name, registry)
    return env


def requirements_file(model: str, target: str, origin: str) -> Path:
    """`models/<key>/requirements.txt` of a folder adapter; a clear refusal for the others."""
    adapter_file = target.rpartition(":")[0]
    if not adapter_file.endswith(".py"):
        where = "ships with rvcbench and runs in the main environment" if origin == "built-in" else \
            f"is installed as a package ({origin}); install that package where you need it"
        raise ModelEnvError(f"model {model!r} has no requirements.txt: it {where}, so it needs no environment "
                            "of its own")
    path = Path(adapter_file).parent / REQUIREMENTS_FILE
    if not path.is_file():
        raise ModelEnvError(f"model {model!r}: {path} does not exist; list the model's pinned packages there "
                            "(one per line, as for pip) and run `rvcbench env create` again")
    return path


def checkout_root() -> Path | None:
    """The source checkout rvcbench runs from, if it does (then environments get an editable install)."""
    root = Path(rvcbench.__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "rvcbench").is_dir() else None


def worker_requirements() -> list[str]:
    """The worker's own packages, with the version ranges rvcbench declares."""
    declared = {}
    for spec in metadata.requires("rvcbench") or []:
        if ";" in spec:
            continue  # extras
        name = re.split(r"[<>=!~\[ ]", spec, maxsplit=1)[0].lower()
        declared[name] = spec
    return [declared.get(name, name) for name in WORKER_PACKAGES]


def _has_requirements(path: Path) -> bool:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return any(lines)


TORCH_DISTRIBUTIONS = ("torch", "torchaudio", "torchvision")
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def checkouts_dir() -> Path:
    return envs_dir() / "_checkouts"


def shared_torch_dir() -> Path:
    """One torch install (the main environment's versions) that every `--shared-torch` environment reads."""
    return envs_dir() / "_shared" / f"torch-{_version('torch')}"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution).split("+")[0]
    except metadata.PackageNotFoundError as exc:
        raise ModelEnvError(f"--shared-torch shares this environment's {distribution}, which is not installed "
                            f"here ({sys.prefix})") from exc


def split_torch_pins(requirements: Path) -> tuple[list[str], list[str]]:
    """The requirement lines without torch, torchaudio, torchvision; and those lines."""
    kept, torch_lines = [], []
    for line in requirements.read_text(encoding="utf-8").splitlines():
        match = REQUIREMENT_NAME.match(line.split("#", 1)[0])
        name = match.group(1).lower().replace("_", "-") if match else ""
        (torch_lines if name in TORCH_DISTRIBUTIONS else kept).append(line)
    return kept, [line.split("#", 1)[0].strip() for line in torch_lines]


BUILD_CONSTRAINTS = "build-constraints.txt"  # beside requirements.txt: pins for the isolated builds of sdists


def plan_create(model: str, requirements: Path, *, python: str | None = None, installer: str | None = None,
                env_path: Path | None = None, shared_torch: bool = False, checkout=None) -> CreatePlan:
    """The commands that build the environment of `model` (uv when on PATH, else venv + pip).

    `shared_torch`: instead of the pinned torch (often a CUDA build of several GB, downloaded), the environment
    reads the main environment's torch and torchaudio from one shared folder (installed there once, from this
    machine's disk where pip finds it); the pins it replaces, and a torchvision it cannot provide, are noted.
    `checkout` (an `UpstreamCheckout`): clone the upstream at its pinned commit, with submodules.
    A `build-constraints.txt` beside the requirements constrains the isolated build environments of packages
    built from source (e.g. `setuptools<81` for a setup.py that imports pkg_resources): uv's
    `--build-constraint`, pip's PIP_CONSTRAINT (which pip's build subprocesses read too).
    """
    env_path = env_path or envs_dir() / model
    installer = installer or ("uv" if shutil.which("uv") else "pip")
    target = str(env_python(env_path))
    root = checkout_root()
    rvcbench_spec = ["-e", str(root)] if root else [f"rvcbench=={rvcbench.__version__}"]
    if installer == "uv":
        uv = shutil.which("uv") or "uv"
        commands = [[uv, "venv", "--python", python or sys.executable, str(env_path)]]
        install = [uv, "pip", "install", "--python", target]
    elif installer == "pip":
        commands = [[python or sys.executable, "-m", "venv", str(env_path)]]
        install = [target, "-m", "pip", "install"]
    else:
        raise ModelEnvError(f"unknown installer {installer!r}; use uv or pip")
    files: dict[Path, str] = {}
    notes: list[str] = []
    requirement_args = ["-r", str(requirements)]
    if shared_torch:
        shared = shared_torch_dir()
        versions = {name: _version(name) for name in ("torch", "torchaudio")}
        if not (shared / "torch").is_dir():
            commands.insert(0, [sys.executable, "-m", "pip", "install", "--target", str(shared),
                                *(f"{name}=={v}" for name, v in versions.items())])
        link = ("import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], "
                f"'_rvcbench_shared_torch.pth').write_text({str(shared)!r} + '\\n')")
        commands.append([target, "-c", link])
        kept, replaced = split_torch_pins(requirements)
        derived = env_path.parent / f".{model}-requirements.txt"
        constraints = env_path.parent / f".{model}-constraints.txt"
        files[derived] = "\n".join(kept) + "\n"
        files[constraints] = "".join(f"{name}=={v}\n" for name, v in versions.items())
        requirement_args = ["-r", str(derived), "-c", str(constraints)]
        shared_versions = ", ".join(f"{name} {v}" for name, v in versions.items())
        for line in replaced:
            if line.lower().startswith("torchvision"):
                notes.append(f"{line} left out: the shared torch ({shared_versions}) has no torchvision")
            else:
                notes.append(f"{line} replaced by the shared {shared_versions} ({shared})")
        if not replaced:
            notes.append(f"torch from the shared {shared_versions} ({shared})")
    if _has_requirements(requirements):
        build = Path(requirements).parent / BUILD_CONSTRAINTS
        if build.is_file():  # packages built from source here need older build tools than pip would pick
            notes.append(f"source builds constrained by {build}")
            commands.append([*install, "--build-constraint", str(build), *requirement_args] if installer == "uv"
                            else ["env", f"PIP_CONSTRAINT={build}", *install, *requirement_args])
        else:
            commands.append([*install, *requirement_args])
    commands.append([*install, *worker_requirements()])
    commands.append([*install, "--no-deps", *rvcbench_spec])
    clone = None
    if checkout is not None:
        clone = checkouts_dir() / model
        commands += [["git", "clone", checkout.repo, str(clone)],
                     ["git", "-C", str(clone), "checkout", "--detach", checkout.commit],
                     ["git", "-C", str(clone), "submodule", "update", "--init", "--recursive"]]
    return CreatePlan(model, env_path, installer, requirements, commands, files, tuple(notes), clone)


def create_env(plan: CreatePlan, *, force: bool = False, echo: Callable[[str], None] = print,
               run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> ModelEnv:
    """Write the plan's files, run its commands (each echoed), then record the environment."""
    for path in (plan.env_path, plan.checkout):
        if path is None or not path.exists():
            continue
        if not force:
            raise ModelEnvError(f"{path} already exists; rebuild it with "
                                f"`rvcbench env create {plan.model} --force`")
        if path == plan.env_path and not (path / "pyvenv.cfg").is_file():
            raise ModelEnvError(f"{path} exists and is not a virtual environment; not removing it")
        if path == plan.checkout and not (path / ".git").exists():
            raise ModelEnvError(f"{path} exists and is not a git checkout; not removing it")
        shutil.rmtree(path)
    for path, text in plan.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for command in plan.commands:
        echo("$ " + shlex.join(command))
        result = run(command)
        if result.returncode != 0:
            raise ModelEnvError(f"creating the environment of {plan.model!r} failed (exit {result.returncode}) at: "
                                f"{shlex.join(command)}; fix {plan.requirements} or the message above and run "
                                f"`rvcbench env create {plan.model} --force`")
    for note in plan.notes:
        echo(f"note: {note}")
    return record_env(plan.model, plan.env_path, installer=plan.installer, requirements=plan.requirements,
                      checkout=plan.checkout, notes=plan.notes)


_CHECK_SCRIPT = r"""
import importlib, json, sys
from importlib import metadata

def dist_version(module):
    top = module.split(".")[0]
    names = metadata.packages_distributions().get(top, [])
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return ""

out = {}
for module in sys.argv[2:]:
    try:
        imported = importlib.import_module(module)
    except BaseException as exc:
        out[module] = {"ok": False, "version": dist_version(module), "error": type(exc).__name__ + ": " + str(exc)}
        continue
    version = getattr(imported, "__version__", None) or dist_version(module)
    out[module] = {"ok": True, "version": str(version), "error": ""}
with open(sys.argv[1], "w") as f:
    json.dump(out, f)
"""


def check_modules(python: str, modules: list[str]) -> list[ModuleCheck]:
    """Import each module with `python` (in its own process) and report what imports, with versions."""
    with tempfile.TemporaryDirectory(prefix="rvcbench-envcheck-") as tmp:
        report = Path(tmp) / "report.json"
        result = subprocess.run([python, "-c", _CHECK_SCRIPT, str(report), *modules], capture_output=True,
                                text=True, timeout=CHECK_SECONDS)
        if not report.is_file():
            raise ModelEnvError(f"{python} could not run the import check (exit {result.returncode}): "
                                f"{result.stderr.strip()[-500:]}")
        found = json.loads(report.read_text(encoding="utf-8"))
    return [ModuleCheck(m, bool(found[m]["ok"]), found[m]["version"], found[m]["error"]) for m in modules]


def checkout_state(model: str, checkout) -> tuple[str, bool, str]:
    """(part, ok, detail) for the upstream clone: where it is, whether it is a clone at the pinned commit."""
    part = f"checkout {checkout.repo.rstrip('/').rsplit('/', 1)[-1]}"
    root = os.environ.get(checkout.variable, "").strip()
    source = checkout.variable
    if not root:
        found = recorded_env(model)
        root, source = (found.checkout or "") if found else "", "recorded"
    if not root:
        return part, False, (f"none: `rvcbench env create {model} --with-upstream` (or set {checkout.variable}); "
                             f"pinned {checkout.commit[:12]}")
    path = Path(root).expanduser()
    if not (path / checkout.marker).exists():
        return part, False, f"{path} ({source}) has no {checkout.marker}"
    head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    commit = head.stdout.strip() if head.returncode == 0 else ""
    if commit and not commit.startswith(checkout.commit) and not checkout.commit.startswith(commit):
        return part, False, f"{path} ({source}) is at {commit[:12]}, pinned {checkout.commit[:12]}"
    at = f"at {commit[:12]}" if commit else "not a git clone: its commit cannot be verified"
    return part, True, f"{path} ({source}) {at}"


def weights_state(repo_id: str, model: str, rehash: bool = False) -> tuple[str, bool, str]:
    """(part, ok, detail) for one weights repository: in the store (with its hash), in the Hub cache, or missing."""
    from rvcbench import weights_store

    if not weights_store.is_hub_id(repo_id):  # a checkpoint that is not on the Hub (Google Drive, …)
        folder = Path(repo_id).expanduser()
        if folder.is_dir() and any(folder.iterdir()):
            return f"weights {repo_id}", True, f"{folder} (local folder; no hash recorded)"
        return f"weights {repo_id}", False, f"missing: not on the Hub; see models/{model}/README.md"
    kept = weights_store.stored(repo_id)
    if kept is not None:
        changed = weights_store.still_intact(kept, rehash=rehash)
        detail = (f"{kept.path}: {kept.files} files, {kept.bytes / 1e6:.1f} MB, sha256 {kept.sha256[:16]}"
                  + (" (re-hashed)" if rehash and not changed else "") + (f"; CHANGED: {changed}" if changed else ""))
        return f"weights {repo_id}", not changed, detail
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:
        return f"weights {repo_id}", False, "not in the weights store (and huggingface_hub is not installed here)"
    try:
        path = snapshot_download(repo_id, local_files_only=True)
    except (LocalEntryNotFoundError, OSError, ValueError):
        return f"weights {repo_id}", False, f"missing: `rvcbench env create {model} --with-weights`"
    return f"weights {repo_id}", True, f"{path} (Hugging Face cache; no hash recorded)"
