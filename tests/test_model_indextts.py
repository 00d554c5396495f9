"""indextts adapter: no stack needed to import, every missing checkpoint named with its download command, upstream's
auxiliary models handed over as local paths, and the exact IndexTTS2.infer call (with a stand-in for the model)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from rvcbench.adapters.contract import CloneFailure, CloneRequest
from rvcbench.audio import load_audio
from rvcbench.errors import MissingDependencyError

KEY = "indextts"
AUX_IDS = ("facebook/w2v-bert-2.0", "amphion/MaskGCT", "funasr/campplus", "nvidia/bigvgan_v2_22khz_80band_256x")


def cached(hub: Path, repo_id: str, files, fake_tree) -> Path:
    """`files` of `repo_id` as a snapshot in the Hugging Face cache `hub` (the layout snapshot_download reads)."""
    repo = hub / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text("0" * 40)
    return fake_tree(files, repo / "snapshots" / ("0" * 40))


def cache_aux(hub: Path, module, fake_tree, skip: str = "") -> dict[str, Path]:
    return {repo_id: cached(hub, repo_id, files, fake_tree)
            for repo_id, files, _ in module.AUX_WEIGHTS.values() if repo_id != skip}


def request(text="Hello there.", language="en", rate=16000, seconds=1.0, seed=3) -> CloneRequest:
    audio = np.full(int(rate * seconds), 0.25, dtype=np.float32)
    return CloneRequest("p", audio, rate, "", "en", text, language, seed)


def test_declares_what_upstream_documents(adapter, module):
    assert adapter.sample_rate == 22050 and adapter.batch_size == 1 and not adapter.needs_prompt_text
    assert adapter.weights_id == "IndexTeam/IndexTTS-2" and adapter.extra_weights == AUX_IDS
    assert adapter.languages == frozenset({"en", "zh"}) and not adapter.supports_language("ja")
    assert adapter.checkout.variable == "INDEXTTS_ROOT" and adapter.checkout.marker == "indextts/infer_v2.py"
    assert len(adapter.checkout.commit) == 40 and adapter.checkout.repo == "https://github.com/index-tts/index-tts.git"
    assert {"whisper", "tn", "modelscope", "librosa"} <= set(adapter.stack_modules)


def test_module_imports_only_numpy_stdlib_and_rvcbench(module):
    source = Path(module.__file__).read_text(encoding="utf-8")
    tops = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert tops <= {"__future__", "warnings", "pathlib", "typing", "numpy", "rvcbench"}


def test_missing_checkpoint_names_its_download_command(adapter, offline_hub):
    with pytest.raises(MissingDependencyError, match="huggingface-cli download IndexTeam/IndexTTS-2"):
        adapter.load("cpu")


def test_incomplete_weights_folder_names_the_missing_files(adapter, fake_tree):
    adapter.weights = str(fake_tree(("config.yaml", "gpt.pth", "bpe.model")))
    with pytest.raises(MissingDependencyError, match="lacks s2mel.pth, wav2vec2bert_stats.pt, feat1.pt, feat2.pt"):
        adapter.load("cpu")


@pytest.mark.parametrize("missing", AUX_IDS)
def test_each_missing_auxiliary_model_is_refused_before_upstream_downloads_it(adapter, module, offline_hub,
                                                                             full_weights, fake_tree, missing):
    cache_aux(offline_hub, module, fake_tree, skip=missing)
    adapter.weights = str(full_weights)
    with pytest.raises(MissingDependencyError, match=f"huggingface-cli download {missing}"):
        adapter.load("cpu")


def test_incomplete_auxiliary_snapshot_names_the_missing_file(adapter, module, offline_hub, full_weights, fake_tree):
    cache_aux(offline_hub, module, fake_tree, skip="amphion/MaskGCT")
    cached(offline_hub, "amphion/MaskGCT", ("acoustic_codec/model.safetensors",), fake_tree)
    adapter.weights = str(full_weights)
    with pytest.raises(MissingDependencyError, match="lacks semantic_codec/model.safetensors"):
        adapter.load("cpu")


def test_aux_paths_are_upstream_keys_with_folders_or_files(module):
    paths = module.aux_paths(lambda repo_id, files: Path("/hub") / repo_id)
    assert paths == {"w2v_bert": "/hub/facebook/w2v-bert-2.0",
                     "semantic_codec": "/hub/amphion/MaskGCT/semantic_codec/model.safetensors",
                     "campplus": "/hub/funasr/campplus/campplus_cn_common.bin",
                     "bigvgan": "/hub/nvidia/bigvgan_v2_22khz_80band_256x"}


def test_complete_weights_without_the_stack_point_to_env_create(adapter, module, offline_hub, full_weights,
                                                               fake_tree, stub_stack):
    cache_aux(offline_hub, module, fake_tree)
    adapter.weights = str(full_weights)
    stub_stack(adapter, importable=False)
    with pytest.raises(MissingDependencyError, match=f"rvcbench env create {KEY}"):
        adapter.load("cpu")


def test_missing_checkout_names_the_clone_and_commit(adapter, module, offline_hub, full_weights, fake_tree,
                                                     stub_stack, monkeypatch):
    cache_aux(offline_hub, module, fake_tree)
    adapter.weights = str(full_weights)
    stub_stack(adapter, importable=True)
    monkeypatch.delenv("INDEXTTS_ROOT", raising=False)
    monkeypatch.setattr("rvcbench.model_envs.recorded_env", lambda model: None)
    with pytest.raises(MissingDependencyError, match=f"git clone --recursive {module.UPSTREAM}.*{module.COMMIT}"):
        adapter.load("cpu")


def test_upstream_is_built_with_local_aux_paths_and_no_emotion_model(adapter, module, offline_hub, full_weights,
                                                                    fake_tree, stub_stack, monkeypatch):
    snapshots = cache_aux(offline_hub, module, fake_tree)
    checkout = fake_tree(("indextts/__init__.py", "indextts/infer_v2.py"), "checkout")
    (checkout / "indextts" / "infer_v2.py").write_text(
        "built = []\n"
        "class IndexTTS2:\n"
        "    def __init__(self, **kwargs):\n"
        "        built.append(kwargs)\n")
    (checkout / "indextts" / "__init__.py").write_text("")
    adapter.weights = str(full_weights)
    stub_stack(adapter, importable=True)
    monkeypatch.setenv("INDEXTTS_ROOT", str(checkout))
    monkeypatch.delitem(__import__("sys").modules, "indextts", raising=False)
    monkeypatch.delitem(__import__("sys").modules, "indextts.infer_v2", raising=False)
    monkeypatch.syspath_prepend(str(checkout))
    adapter.load("cuda:0")
    import indextts.infer_v2 as fake

    assert fake.built == [{
        "cfg_path": str(full_weights / "config.yaml"), "model_dir": str(full_weights), "use_fp16": False,
        "device": "cuda:0", "use_cuda_kernel": False, "use_deepspeed": False, "use_qwen_emo": False,
        "aux_paths": {"w2v_bert": str(snapshots["facebook/w2v-bert-2.0"]),
                      "semantic_codec": str(snapshots["amphion/MaskGCT"] / "semantic_codec/model.safetensors"),
                      "campplus": str(snapshots["funasr/campplus"] / "campplus_cn_common.bin"),
                      "bigvgan": str(snapshots["nvidia/bigvgan_v2_22khz_80band_256x"])}}]


class FakeIndexTTS2:
    """Records infer's arguments and the prompt file it was given; answers like infer(output_path=None)."""

    def __init__(self, samples=441, runaway=False, rate=22050):
        self.calls, self.samples, self.runaway, self.rate = [], samples, runaway, rate
        self.cache_spk_cond = self.cache_emo_cond = "stale"

    def infer(self, spk_audio_prompt, text, output_path, **kwargs):
        audio, rate = load_audio(spk_audio_prompt)
        self.calls.append((text, output_path, kwargs, rate, len(audio), self.cache_spk_cond, self.cache_emo_cond))
        if self.runaway:
            warnings.warn("WARN: generation stopped due to exceeding `max_mel_tokens` (1500).", RuntimeWarning,
                          stacklevel=2)
        if self.samples is None:
            return None
        return self.rate, np.full((self.samples, 1), 16383, dtype=np.int16)


def test_clone_calls_infer_with_a_prompt_file_and_upstream_defaults(adapter):
    adapter._model = fake = FakeIndexTTS2()
    out = adapter.clone([request("  Hello there.\n", rate=24000)])
    assert fake.calls == [("Hello there.", None, {"verbose": False}, 24000, 24000, None, None)]
    assert out[0].dtype == np.float32 and out[0].shape == (441,)
    assert out[0][0] == pytest.approx(16383 / 32767)


def test_per_item_failures_keep_the_rest(adapter):
    adapter._model = fake = FakeIndexTTS2()
    out = adapter.clone([request(language="ja"), request(text=" \n"), request()])
    assert out[0].reason.startswith("unsupported language: ja") and out[1] == CloneFailure("empty target text")
    assert isinstance(out[2], np.ndarray) and len(fake.calls) == 1


def test_runaway_segment_and_no_segments_are_failures(adapter):
    adapter._model = FakeIndexTTS2(runaway=True)
    assert "runaway" in adapter.clone([request()])[0].reason
    adapter._model = FakeIndexTTS2(samples=None)
    assert "no text segments" in adapter.clone([request()])[0].reason


def test_output_at_another_rate_is_an_error(adapter):
    adapter._model = FakeIndexTTS2(rate=24000)
    with pytest.raises(ValueError, match="24000 Hz"):
        adapter.clone([request()])


def test_seed_is_applied_before_each_item(adapter, monkeypatch, module):
    seeds = []
    monkeypatch.setattr(module.support, "seed_everything", seeds.append)
    adapter._model = FakeIndexTTS2()
    adapter.clone([request(seed=5), request(seed=9)])
    assert seeds == [5, 9]


def test_random_weight_check_imports_without_the_stack_and_keeps_the_real_clone(module):
    import importlib.util

    path = Path(module.__file__).with_name("random_weight_check.py")
    spec = importlib.util.spec_from_file_location("indextts_random_weight_check", path)
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    assert "clone" not in check.Adapter.__dict__ and "_clone_one" not in check.Adapter.__dict__
    assert check.SPEC.expected_samples(None) == 34 * 256 and check.SPEC.seeded
    assert [probe.reason for probe in check.SPEC.failure_probes] == ["runaway"]
