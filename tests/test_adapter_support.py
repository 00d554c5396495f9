"""Shared adapter helpers: missing stacks and weights fail with the command that fixes them."""

import sys
from pathlib import Path

import numpy as np
import pytest

from rvcbench.adapters import support
from rvcbench.adapters.registry import create_adapter
from rvcbench.adapters.support import as_waveform, prompt_files, require, resolve_weights, seed_everything
from rvcbench.audio import load_audio
from rvcbench.errors import MissingDependencyError, RvcbenchError


def test_require_names_the_env_create_command():
    with pytest.raises(MissingDependencyError, match="rvcbench env create cosyvoice2"):
        require("surely_not_an_installed_module_xyz", "cosyvoice2")


def test_missing_hub_weights_name_the_download_command(offline_hub):
    with pytest.raises(MissingDependencyError, match="huggingface-cli download FunAudioLLM/CosyVoice2-0.5B"):
        resolve_weights(None, "FunAudioLLM/CosyVoice2-0.5B", "cosyvoice2")


def test_local_weights_folder_is_used_and_checked(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"x")
    assert resolve_weights(tmp_path, "org/repo", "m", required_files=("model.pt",)) == tmp_path
    with pytest.raises(MissingDependencyError, match="lacks config.yaml"):
        resolve_weights(tmp_path, "org/repo", "m", required_files=("config.yaml",))
    with pytest.raises(MissingDependencyError, match="does not exist"):
        resolve_weights(tmp_path / "nowhere", "org/repo", "m")


def test_prompt_files_hold_the_audio_and_vanish(tmp_path):
    audio = np.linspace(-0.5, 0.5, 1600, dtype=np.float32)
    with prompt_files([audio], 16000) as paths:
        back, sr = load_audio(paths[0])
        assert sr == 16000 and np.allclose(back, audio, atol=1e-4)
    assert not paths[0].exists()


def test_as_waveform_squeezes_and_rejects_stereo():
    import torch

    assert as_waveform(torch.zeros(1, 1, 80), "m").shape == (80,)
    with pytest.raises(ValueError, match="shape"):
        as_waveform(np.zeros((2, 80)), "m")


def test_seed_everything_makes_torch_repeat():
    import torch

    seed_everything(3)
    first = torch.randn(4)
    seed_everything(3)
    assert torch.equal(first, torch.randn(4))


def test_weights_option_only_for_adapters_that_load_weights():
    with pytest.raises(RvcbenchError, match="loads no weights"):
        create_adapter("oracle", weights=str(Path("/tmp")))


def test_upstream_checkout_names_the_clone_command_and_goes_on_sys_path(tmp_path, monkeypatch):
    import sys

    from rvcbench.adapters.contract import UpstreamCheckout
    from rvcbench.adapters.support import upstream_checkout

    monkeypatch.setenv("RVCBENCH_ENVS_DIR", str(tmp_path / "envs"))  # nothing recorded
    checkout = UpstreamCheckout("DEMO_ROOT", "https://github.com/org/demo.git", "abc123", "demo/__init__.py")
    monkeypatch.delenv("DEMO_ROOT", raising=False)
    with pytest.raises(MissingDependencyError, match=r"env create demo --with-upstream.*git clone --recursive "
                                                     r"https://github.com/org/demo.git"):
        upstream_checkout(checkout, "demo")
    monkeypatch.setenv("DEMO_ROOT", str(tmp_path))
    with pytest.raises(MissingDependencyError, match=r"no demo/__init__.py.*checkout abc123"):
        upstream_checkout(checkout, "demo")
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "__init__.py").write_text("")
    monkeypatch.setattr(sys, "path", list(sys.path))
    root = upstream_checkout(UpstreamCheckout("DEMO_ROOT", "https://github.com/org/demo.git", "abc123",
                                              "demo/__init__.py", ("", "third_party")), "demo")
    assert root == tmp_path.resolve()
    assert sys.path[:2] == [str(root), str(root / "third_party")]


def test_refused_requests_fail_in_place_and_the_rest_go_to_the_model_in_one_call():
    import numpy as np

    from rvcbench.adapters.contract import CloneFailure, CloneRequest, VoiceCloner
    from rvcbench.adapters.support import clone_valid

    class Needy(VoiceCloner):
        name = "needy"
        languages = frozenset({"en", "zh"})
        needs_prompt_text = True

    def request(pair, language="en", text="hello there", transcript="ref words"):
        return CloneRequest(pair, np.zeros(160, np.float32), 16000, transcript, "en", text, language, 1)

    calls = []

    def make(valid):
        calls.append([r.pair_id for r in valid])
        return [np.full(4, i, np.float32) for i, _ in enumerate(valid)]

    out = clone_valid(Needy(), [request("a"), request("b", language="fi"), request("c", text="  "),
                                request("d", transcript=""), request("e")], make)
    assert calls == [["a", "e"]]
    assert out[0][0] == 0 and out[4][0] == 1
    assert out[1] == CloneFailure("unsupported language: fi")
    assert out[2].reason == "empty target text" and "empty prompt transcript" in out[3].reason
    assert clone_valid(Needy(), [request("x", language="fi")], make)[0].reason.startswith("unsupported")
    assert len(calls) == 1  # nothing valid: the model is not called


def test_hard_coded_hub_ids_open_resolved_folders_only_while_inside(tmp_path):
    import types

    from rvcbench.adapters.support import hub_ids_as_folders

    calls = []

    class Auto:
        @classmethod
        def from_pretrained(cls, name, *args, **kwargs):
            calls.append((cls.__name__, name, kwargs))
            return name

    transformers = types.SimpleNamespace(AutoTokenizer=type("AutoTokenizer", (Auto,), {}),
                                         AutoModel=type("AutoModel", (Auto,), {}))
    folders = {"bosonai/hubert_base": tmp_path / "hubert"}
    with hub_ids_as_folders((transformers.AutoTokenizer, transformers.AutoModel), folders, "demo"):
        assert transformers.AutoModel.from_pretrained("bosonai/hubert_base", trust_remote_code=True) == \
            str(tmp_path / "hubert")
        transformers.AutoTokenizer.from_pretrained(str(tmp_path))  # an existing folder passes through
        with pytest.raises(MissingDependencyError, match="'microsoft/wavlm-base-plus', which load\\(\\) did not"):
            transformers.AutoModel.from_pretrained("microsoft/wavlm-base-plus")
    assert calls == [("AutoModel", str(tmp_path / "hubert"), {"trust_remote_code": True}),
                     ("AutoTokenizer", str(tmp_path), {})]
    assert transformers.AutoModel.from_pretrained("other/id") == "other/id"  # restored on the way out
    assert "from_pretrained" not in vars(transformers.AutoModel)


def test_require_nltk_data_names_only_the_missing_packages_and_the_command(monkeypatch):
    import types

    present = {"corpora/cmudict.zip"}

    def find(resource):
        if resource not in present:
            raise LookupError(resource)
        return resource

    monkeypatch.setitem(sys.modules, "nltk", types.SimpleNamespace(data=types.SimpleNamespace(find=find)))
    wanted = {"cmudict": "corpora/cmudict.zip", "averaged_perceptron_tagger": "taggers/averaged_perceptron_tagger.zip"}
    with pytest.raises(MissingDependencyError, match=r"model 'm': g2p_en needs the NLTK data "
                                                     r"averaged_perceptron_tagger \(.*`python -m nltk.downloader "
                                                     r"averaged_perceptron_tagger`.*rvcbench env create m"):
        support.require_nltk_data(wanted, "m", "g2p_en")
    present.add("taggers/averaged_perceptron_tagger.zip")
    support.require_nltk_data(wanted, "m", "g2p_en")  # everything there: no error
