"""One command per model: `env create --shared-torch --with-upstream --with-weights` and the `env check` table.

A local git repository stands in for the upstream's GitHub clone and a local folder for the Hugging Face Hub.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from linked_venv import make_linked_venv

from rvcbench import weights_store
from rvcbench.adapters.registry import create_adapter
from rvcbench.cli import main
from rvcbench.model_envs import plan_create, record_env, recorded_env, shared_torch_dir

ADAPTER = '''
import os
from pathlib import Path
import numpy as np
from rvcbench.adapters import support
from rvcbench.adapters.contract import UpstreamCheckout, VoiceCloner

class Adapter(VoiceCloner):
    name = "tinyup"
    sample_rate = 16000
    weights_id = "example/tiny-tts"
    extra_weights = ("example/tiny-codec",)
    checkout = UpstreamCheckout("TINY_ROOT", os.environ["TINY_UPSTREAM"], os.environ["TINY_COMMIT"], "tiny/core.py")

    def load(self, device):
        self.model_dir = support.resolve_weights(self.weights_spec(), self.weights_id, self.name, ("model.bin",))
        self.codec_dir = support.resolve_weights(None, "example/tiny-codec", self.name, ("codec.bin",))
        self.root = support.upstream_checkout(self.checkout, self.name)

    def clone(self, requests):
        return [np.full(1600, 0.1, dtype=np.float32) for _ in requests]
'''


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def tiny(tmp_path, monkeypatch) -> dict:
    """Model `tiny`: a local upstream repository (pinned commit = its first; a later commit exists), a weights
    source folder, and its environment recorded (a linked venv, as if `env create` had run)."""
    upstream = tmp_path / "upstream"
    (upstream / "tiny").mkdir(parents=True)
    (upstream / "tiny" / "core.py").write_text("VERSION = 1\n")
    git("init", "-q", cwd=upstream)
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "one", "--allow-empty", cwd=upstream)
    git("add", ".", cwd=upstream)
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "first", cwd=upstream)
    pinned = git("rev-parse", "HEAD", cwd=upstream)
    (upstream / "tiny" / "core.py").write_text("VERSION = 2\n")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "later", cwd=upstream)
    source = tmp_path / "hub"
    for repo_id, name in (("example/tiny-tts", "model.bin"), ("example/tiny-codec", "codec.bin")):
        (source / repo_id).mkdir(parents=True)
        (source / repo_id / name).write_bytes(b"weights of " + repo_id.encode())
    models = tmp_path / "models"
    (models / "tinyup").mkdir(parents=True)
    (models / "tinyup" / "adapter.py").write_text(ADAPTER)
    (models / "tinyup" / "requirements.txt").write_text("torch==2.6.0\ntorchaudio==2.6.0  # audio\n"
                                                      "torchvision==0.21.0\nsoundfile==0.12.1\n")
    for name, value in (("RVCBENCH_MODELS_PATH", models), ("RVCBENCH_ENVS_DIR", tmp_path / "envs"),
                        ("RVCBENCH_WEIGHTS_DIR", tmp_path / "weights"), ("TINY_UPSTREAM", upstream),
                        ("TINY_COMMIT", pinned), ("HF_HUB_CACHE", tmp_path / "hf"), ("HF_HUB_OFFLINE", "1")):
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("TINY_ROOT", raising=False)
    env = tmp_path / "envs" / "tinyup"
    make_linked_venv(env)
    record_env("tinyup", env)
    return {"upstream": upstream, "pinned": pinned, "source": source,
            "requirements": models / "tinyup" / "requirements.txt"}


def test_shared_torch_replaces_the_torch_pins_and_says_so(tiny):
    plan = plan_create("tinyup", tiny["requirements"], installer="pip", shared_torch=True)
    derived = next(text for path, text in plan.files.items() if path.name == ".tinyup-requirements.txt")
    constraints = next(text for path, text in plan.files.items() if path.name == ".tinyup-constraints.txt")
    assert "torch" not in derived and "soundfile==0.12.1" in derived
    assert constraints.startswith("torch==") and "torchaudio==" in constraints
    assert any("torch==2.6.0 replaced by the shared torch" in note for note in plan.notes)
    assert any("torchvision==0.21.0 left out" in note for note in plan.notes)
    link = next(c for c in plan.commands if c[1] == "-c")
    assert str(shared_torch_dir()) in link[2] and "_rvcbench_shared_torch.pth" in link[2]
    assert plan.commands[0][:5][1:] == ["-m", "pip", "install", "--target"]  # the shared folder is made first
    assert any(c[-4:-2] == ["-r", str(next(iter(plan.files)))] for c in plan.commands)


def test_with_upstream_and_weights_then_load_needs_no_variable(tiny):
    runner = CliRunner()
    result = runner.invoke(main, ["env", "create", "tinyup", "--with-upstream", "--with-weights",
                                  "--weights-from", str(tiny["source"])])
    assert result.exit_code == 0, result.output
    checkout = Path(recorded_env("tinyup").checkout)
    assert git("rev-parse", "HEAD", cwd=checkout) == tiny["pinned"]
    assert (checkout / "tiny" / "core.py").read_text() == "VERSION = 1\n"  # the pinned commit, not the newest
    kept = weights_store.stored("example/tiny-tts")
    assert kept.files == 1 and len(kept.sha256) == 64 and kept.source.endswith("example/tiny-tts")

    adapter = create_adapter("tinyup")
    adapter.load("cpu")  # no TINY_ROOT, no --weights: the recorded checkout and the weights store
    assert adapter.root == checkout.resolve() and adapter.model_dir == kept.path
    assert adapter.codec_dir == weights_store.folder_of("example/tiny-codec")

    report = runner.invoke(main, ["env", "check", "tinyup", "--rehash"])
    assert report.exit_code == 0, report.output
    assert f"at {tiny['pinned'][:12]}" in report.output and f"sha256 {kept.sha256[:16]} (re-hashed)" in report.output


def test_env_check_reports_what_is_missing_or_changed(tiny):
    runner = CliRunner()
    missing = runner.invoke(main, ["env", "check", "tinyup"])
    assert missing.exit_code == 1
    assert "rvcbench env create tinyup --with-upstream" in missing.output
    assert "missing: `rvcbench env create tinyup --with-weights`" in missing.output
    runner.invoke(main, ["env", "create", "tinyup", "--with-upstream", "--with-weights", "--weights-from",
                         str(tiny["source"])])
    (weights_store.folder_of("example/tiny-codec") / "codec.bin").write_bytes(b"tampered, and longer")
    git("checkout", "-q", "--detach", "origin/HEAD", cwd=Path(recorded_env("tinyup").checkout))  # the later commit
    changed = runner.invoke(main, ["env", "check", "tinyup"])
    assert changed.exit_code == 1 and "CHANGED" in changed.output and "pinned" in changed.output


def test_a_weights_source_without_the_repository_is_one_clear_line(tiny, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["env", "create", "tinyup", "--with-weights", "--weights-from", str(empty)])
    assert result.exit_code != 0 and "has no folder example/tiny-tts" in result.output
    assert "Traceback" not in result.output and weights_store.stored("example/tiny-tts") is None


@pytest.mark.parametrize(("value", "hub"), [("org/name", True), ("Qwen/Qwen3-TTS-12Hz-1.7B-Base", True),
                                            ("~/.cache/rvcbench/ozspeech", False), ("/models/ckpt", False),
                                            ("./ckpt/x", False), ("just-a-name", False)])
def test_a_weights_id_is_a_hub_repository_only_in_org_name_form(value, hub):
    assert weights_store.is_hub_id(value) is hub


def test_weights_off_the_hub_are_checked_as_a_folder_and_never_downloaded(tmp_path):
    from rvcbench.model_envs import weights_state

    folder = tmp_path / "drive-checkpoint"
    part, ok, detail = weights_state(str(folder), "ozspeech")
    assert not ok and "not on the Hub; see models/ozspeech/README.md" in detail
    folder.mkdir()
    (folder / "model.ckpt").write_bytes(b"x")
    assert weights_state(str(folder), "ozspeech")[1] is True


def test_env_create_with_weights_names_weights_off_the_hub_instead_of_downloading_them(tmp_path, monkeypatch):
    monkeypatch.setenv("RVCBENCH_ENVS_DIR", str(tmp_path / "envs"))
    result = CliRunner().invoke(main, ["env", "create", "ozspeech", "--with-weights", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "are not on the Hugging Face Hub: fetch them as models/ozspeech/README.md says" in result.output
    downloads = [line for line in result.output.splitlines() if line.startswith("# download")]
    assert downloads == ["# download amphion/naturalspeech3_facodec from the Hub"]
