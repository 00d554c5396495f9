"""The seed-tts profile's WavLM-ECAPA SIM and UTMOS22 strong scorers, with SMALL random-weight checkpoints written in
the upstream files' own formats (UniSpeech `{'model': state_dict}` with s3prl WavLM names; SpeechMOS's plain
state_dict), loaded through `--scorer-weights` overrides and scored on real demo clips (CPU, a few seconds)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rvcbench.audio import load_audio_at  # noqa: E402
from rvcbench.data import load_dataset  # noqa: E402
from rvcbench.errors import MissingDependencyError  # noqa: E402
from rvcbench.scoring import utmos, wavlm_sim, weights  # noqa: E402
from rvcbench.scoring.contract import ScoreInput  # noqa: E402

SR = 16000
BATCH_TOLERANCE = 1e-4  # max |batched − one at a time| per embedding value / MOS (measured ≈ 1e-6)

# transformers WavLMModel names → UniSpeech/s3prl WavLM names, written here from UniSpeech's WavLM.py/modules.py
# independently of the scorer's own (opposite) mapping
TO_UPSTREAM = [(re.compile(a), b) for a, b in (
    (r"^feature_extractor\.conv_layers\.(\d+)\.conv\.weight$", r"feature_extractor.conv_layers.\1.0.weight"),
    (r"^feature_extractor\.conv_layers\.(\d+)\.layer_norm\.(\w+)$", r"feature_extractor.conv_layers.\1.2.1.\2"),
    (r"^feature_projection\.layer_norm\.(\w+)$", r"layer_norm.\1"),
    (r"^feature_projection\.projection\.(\w+)$", r"post_extract_proj.\1"),
    (r"^masked_spec_embed$", "mask_emb"),
    (r"^encoder\.pos_conv_embed\.conv\.bias$", "encoder.pos_conv.0.bias"),
    (r"^encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original0$", "encoder.pos_conv.0.weight_g"),
    (r"^encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original1$", "encoder.pos_conv.0.weight_v"),
    (r"^encoder\.layer_norm\.(\w+)$", r"encoder.layer_norm.\1"),
    (r"^encoder\.layers\.(\d+)\.attention\.(q_proj|k_proj|v_proj|out_proj)\.(\w+)$",
     r"encoder.layers.\1.self_attn.\2.\3"),
    (r"^encoder\.layers\.(\d+)\.attention\.gru_rel_pos_linear\.(\w+)$", r"encoder.layers.\1.self_attn.grep_linear.\2"),
    (r"^encoder\.layers\.(\d+)\.attention\.gru_rel_pos_const$", r"encoder.layers.\1.self_attn.grep_a"),
    (r"^encoder\.layers\.(\d+)\.attention\.rel_attn_embed\.weight$",
     r"encoder.layers.\1.self_attn.relative_attention_bias.weight"),
    (r"^encoder\.layers\.(\d+)\.layer_norm\.(\w+)$", r"encoder.layers.\1.self_attn_layer_norm.\2"),
    (r"^encoder\.layers\.(\d+)\.feed_forward\.intermediate_dense\.(\w+)$", r"encoder.layers.\1.fc1.\2"),
    (r"^encoder\.layers\.(\d+)\.feed_forward\.output_dense\.(\w+)$", r"encoder.layers.\1.fc2.\2"),
    (r"^encoder\.layers\.(\d+)\.final_layer_norm\.(\w+)$", r"encoder.layers.\1.final_layer_norm.\2"),
)]
SMALL_WAVLM = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                   conv_dim=(16,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
                   conv_bias=False, feat_extract_norm="layer", do_stable_layer_norm=True, num_conv_pos_embeddings=128,
                   num_conv_pos_embedding_groups=16, num_buckets=320, max_bucket_distance=800)
SMALL_ECAPA = wavlm_sim.EcapaConfig(feat_dim=32, num_states=3, channels=32, pooled_channels=48, attention_channels=16,
                                    se_bottleneck=8, emb_dim=16)
SMALL_UTMOS = utmos.Utmos22Config(conv_channels=(16,) * 7, ssl_dim=64, ffn_dim=96, num_heads=1, num_layers=2,
                                  pos_conv_kernel=16, pos_conv_groups=4, domain_dim=8, judge_dim=8, rnn_hidden=16,
                                  proj_hidden=24)


def _upstream_name(key: str) -> str:
    for pattern, replacement in TO_UPSTREAM:
        if pattern.match(key):
            return pattern.sub(replacement, key)
    raise AssertionError(f"no upstream name for {key}")


def _jitter(module, generator: torch.Generator) -> None:
    """Random non-trivial values for every parameter and BatchNorm statistic (deterministic)."""
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if name.endswith("num_batches_tracked"):
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            if name.endswith("running_var"):
                tensor.copy_(0.5 + noise.abs())
            else:
                tensor.add_(0.05 * noise)


@pytest.fixture(scope="module")
def clips() -> list[np.ndarray]:
    """Three real 16 kHz demo recordings of three speakers, of different lengths."""
    dataset = load_dataset("demo")
    rows = dataset.manifest.drop_duplicates("speaker_id").head(3)
    out = [load_audio_at(dataset.audio_path(name), SR) for name in rows.target_file_name]
    assert len({w.size for w in out}) == 3
    return out


@pytest.fixture(scope="module")
def wavlm_reference(tmp_path_factory):
    """(small transformers WavLMModel, the saved upstream-format wavlm_large_finetune.pth)."""
    from transformers import WavLMConfig, WavLMModel

    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    encoder = WavLMModel(WavLMConfig(**SMALL_WAVLM)).eval()
    _jitter(encoder, generator)
    head = wavlm_sim._torch_modules()[0](SMALL_ECAPA)
    _jitter(head, generator)
    state = {"feature_extract.model." + _upstream_name(k): v.clone() for k, v in encoder.state_dict().items()}
    state.update({k: v.clone() for k, v in head.state_dict().items()})
    path = tmp_path_factory.mktemp("wavlm") / wavlm_sim.CHECKPOINT_FILE
    torch.save({"model": state}, path)
    return encoder, path


@pytest.fixture(scope="module")
def utmos_file(tmp_path_factory):
    model = utmos._torch_modules()(SMALL_UTMOS)
    _jitter(model, torch.Generator().manual_seed(1))
    path = tmp_path_factory.mktemp("utmos") / utmos.CHECKPOINT_FILE
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def given_weights(wavlm_reference, utmos_file, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RVCBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        weights.set_overrides({"wavlm_ecapa": str(wavlm_reference[1]), "utmos": str(utmos_file)})
        yield
        weights.set_overrides({})


@pytest.fixture(scope="module")
def sim(given_weights) -> wavlm_sim.WavlmSimilarity:
    scorer = wavlm_sim.WavlmSimilarity()
    scorer.load("cpu")
    return scorer


@pytest.fixture(scope="module")
def mos(given_weights) -> utmos.Utmos22Strong:
    scorer = utmos.Utmos22Strong()
    scorer.load("cpu")
    return scorer


# --- WavLM-ECAPA SIM ---


def test_wavlm_checkpoint_has_upstream_names_and_loads_strictly(wavlm_reference):
    encoder, path = wavlm_reference
    state = wavlm_sim.load_checkpoint(path)
    for key in ("feature_extract.model.feature_extractor.conv_layers.0.2.1.weight",
                "feature_extract.model.encoder.pos_conv.0.weight_g", "feature_extract.model.encoder.layers.0."
                "self_attn.relative_attention_bias.weight", "feature_extract.model.encoder.layers.1.self_attn.grep_a",
                "feature_weight", "layer2.Res2Conv1dReluBn.convs.6.weight", "layer4.SE_Connect.linear2.bias",
                "pooling.linear2.bias", "bn.running_var", "linear.weight"):
        assert key in state
    model = wavlm_sim.build_model(state)  # strict=True inside
    wavlm_part, head_part = wavlm_sim.split_checkpoint(state)
    assert model.head.load_state_dict(head_part, strict=True).missing_keys == []
    assert model.wavlm.load_state_dict(wavlm_sim.map_wavlm_keys(wavlm_part), strict=True).unexpected_keys == []
    for key, tensor in encoder.state_dict().items():  # the renaming is one-to-one and lossless
        assert torch.equal(model.wavlm.state_dict()[key], tensor), key


def test_wavlm_sizes_are_read_from_the_checkpoint(wavlm_reference):
    wavlm_part, head_part = wavlm_sim.split_checkpoint(wavlm_sim.load_checkpoint(wavlm_reference[1]))
    config = wavlm_sim.wavlm_config(wavlm_part)
    for name, value in SMALL_WAVLM.items():
        got = getattr(config, name)
        assert (tuple(got) if isinstance(value, tuple) else got) == value, name
    assert wavlm_sim.EcapaConfig.from_state_dict(head_part) == SMALL_ECAPA
    assert wavlm_sim.EcapaConfig() == wavlm_sim.EcapaConfig(1024, 25, 512, 1536, 128, 128, 256, 8)  # ECAPA_TDNN_SMALL


def test_unknown_wavlm_keys_are_refused():
    with pytest.raises(wavlm_sim.CheckpointError, match="no transformers counterpart"):
        wavlm_sim.map_wavlm_keys({"encoder.layers.0.self_attn.mystery": torch.zeros(1)})
    assert wavlm_sim.map_wavlm_keys({"final_proj.weight": torch.zeros(1)}) == {}  # training-only, ignored
    with pytest.raises(wavlm_sim.CheckpointError, match="no `feature_extract.model"):
        wavlm_sim.split_checkpoint({"layer1.conv.weight": torch.zeros(1)})


def test_sim_wavlm_scores_clone_against_prompt_and_target(sim, clips, wavlm_reference):
    batch = [ScoreInput(f"p{i}", clips[i], target_audio=clips[i], prompt_audio=clips[(i + 1) % 3]) for i in range(3)]
    rows = sim.score(batch)
    fingerprint = weights.weights_fingerprint(wavlm_reference[1])
    for row in rows:
        assert -1.0 <= row["sim_wavlm"] <= 1.0 and math.isfinite(row["sim_wavlm"])
        assert row["sim_wavlm_target"] == pytest.approx(1.0, abs=1e-5)  # the clip is its own target here
        assert row["sim_wavlm_checkpoint"] == fingerprint
        assert "sim_wavlm_error" not in row
    assert rows[0]["sim_wavlm"] == pytest.approx(wavlm_sim.cosine(*_single_embeddings(sim, clips[:2])), abs=1e-5)


def _single_embeddings(scorer, waves):
    with torch.inference_mode():
        return [scorer._model.embed([w], "cpu")[0] for w in waves]


def test_batched_embeddings_equal_one_at_a_time(sim, clips):
    with torch.inference_mode():
        batched = sim._model.embed(clips, "cpu")
    single = _single_embeddings(sim, clips)
    assert [b.shape for b in batched] == [(SMALL_ECAPA.emb_dim,)] * 3
    diffs = [float(np.abs(b - s).max() / np.abs(s).max()) for b, s in zip(batched, single, strict=True)]
    assert max(diffs) < BATCH_TOLERANCE, diffs


def test_padding_without_cutting_each_clips_frames_would_change_the_embedding(sim, clips):
    """Why the head runs per clip: on the padded length (mask inside WavLM only) the short clip's embedding moves."""
    model = sim._model
    short, long_ = sorted(clips, key=len)[:2]
    padded = torch.zeros(2, long_.size)
    for i, w in enumerate((short, long_)):
        t = torch.from_numpy(w)
        padded[i, :w.size] = torch.nn.functional.layer_norm(t, t.shape)
    with torch.inference_mode():
        states = model.hidden_states(padded, [model.frame_count(short.size), model.frame_count(long_.size)])
        uncut = model.head(states[:, :1]).numpy()[0]
    single = _single_embeddings(sim, [short])[0]
    assert np.abs(uncut - single).max() / np.abs(single).max() > 100 * BATCH_TOLERANCE


def test_sim_wavlm_is_deterministic_and_caches_references(sim, clips):
    batch = [ScoreInput("a", clips[0], target_audio=clips[1], prompt_audio=clips[2])]
    first, second = sim.score(batch), sim.score(batch)
    assert first == second
    cached = list(sim._references._disk.folder.glob("*.npy"))
    assert len(cached) >= 2  # the target and the prompt, never the clip alone
    fresh = wavlm_sim.WavlmSimilarity()
    fresh.load("cpu")
    assert fresh.score(batch) == first


def test_unusable_audio_gives_nan_and_the_reason(sim, clips):
    silent = np.zeros(SR, dtype=np.float32)
    rows = sim.score([ScoreInput("silent", silent, target_audio=clips[0], prompt_audio=clips[1]),
                      ScoreInput("bad-prompt", clips[0], target_audio=clips[0], prompt_audio=clips[0][:100])])
    assert math.isnan(rows[0]["sim_wavlm"]) and math.isnan(rows[0]["sim_wavlm_target"])
    assert "clip: audio is silent" in rows[0]["sim_wavlm_error"]
    assert math.isnan(rows[1]["sim_wavlm"]) and math.isfinite(rows[1]["sim_wavlm_target"])
    assert rows[1]["sim_wavlm_error"].startswith("prompt: audio too short")


@pytest.fixture
def no_weights(monkeypatch):
    """No --scorer-weights and no RVCBENCH_SCORER_WEIGHTS for one test; the module's overrides come back after."""
    previous = weights.overrides()
    monkeypatch.delenv(weights.ENV, raising=False)
    weights.set_overrides({})
    yield
    weights.set_overrides(previous)


def test_missing_wavlm_weights_say_where_upstream_documents_the_download(no_weights):
    with pytest.raises(MissingDependencyError) as error:
        wavlm_sim.WavlmSimilarity().load("cpu")
    text = str(error.value)
    assert "wavlm_large_finetune.pth" in text and wavlm_sim.DOWNLOAD_URL in text
    assert "microsoft/UniSpeech" in text and "--scorer-weights wavlm_ecapa=" in text


# --- UTMOS22 strong ---


def test_utmos_checkpoint_has_speechmos_names_and_loads_strictly(utmos_file):
    state = torch.load(utmos_file, weights_only=True)
    for key in ("wav2vec2.feature_extractor.conv_layers.0.2.weight",
                "wav2vec2.feature_extractor.conv_layers.6.0.weight",
                "wav2vec2.encoder.pos_conv.0.weight_g", "wav2vec2.encoder.pos_conv.0.weight_v",
                "wav2vec2.encoder.layers.1.self_attn.out_proj.bias",
                "wav2vec2.encoder.layers.0.final_layer_norm.weight",
                "wav2vec2.mask_emb", "domain_emb", "judge_emb", "blstm.weight_ih_l0_reverse", "projection.2.bias"):
        assert key in state
    assert utmos.Utmos22Config.from_state_dict(state) == SMALL_UTMOS
    fresh = utmos._torch_modules()(SMALL_UTMOS)
    result = fresh.load_state_dict(state, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []


def test_utmos_scores_demo_clips(mos, clips, utmos_file):
    rows = mos.score([ScoreInput(f"c{i}", w) for i, w in enumerate(clips)])
    for row in rows:
        assert math.isfinite(row["utmos"]) and "utmos_error" not in row
        assert row["utmos_checkpoint"] == weights.weights_fingerprint(utmos_file)
    assert mos.score([ScoreInput("c0", clips[0])])[0]["utmos"] == rows[0]["utmos"]  # different lengths run alone


def test_utmos_batches_only_equal_lengths_and_they_match_one_at_a_time(mos, clips):
    n = min(w.size for w in clips)
    equal = [w[:n] for w in clips]
    batched = mos.predict(equal)
    single = np.array([mos.predict([w])[0] for w in equal])
    assert np.abs(batched - single).max() < BATCH_TOLERANCE
    assert mos.predict(equal).tolist() == batched.tolist()  # deterministic
    with pytest.raises(ValueError, match="equal-length"):
        mos.predict(clips)


def test_utmos_unusable_audio_gives_nan_and_the_reason(mos, clips):
    rows = mos.score([ScoreInput("short", clips[0][:500]), ScoreInput("ok", clips[1]),
                      ScoreInput("nan", np.full(SR, np.nan, dtype=np.float32))])
    assert math.isnan(rows[0]["utmos"]) and rows[0]["utmos_error"].startswith("audio too short")
    assert math.isfinite(rows[1]["utmos"])
    assert math.isnan(rows[2]["utmos"]) and "NaN" in rows[2]["utmos_error"]


def test_missing_utmos_weights_give_the_release_url(no_weights, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # nothing in torch.hub's cache either
    with pytest.raises(MissingDependencyError) as error:
        utmos.Utmos22Strong().load("cpu")
    text = str(error.value)
    assert utmos.DOWNLOAD_URL in text and "--scorer-weights utmos=" in text
