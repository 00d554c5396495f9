"""The speechbrain scorers of the rvcbench-paper profile (ECAPA SIM/SVA, emotion match) on random weights.

Each checkpoint folder is built in speechbrain's own format: a hyperparams.yaml shaped like the published one
but with a small model, and the files the yaml's Pretrainer loads, saved from the instantiated modules. The
scorers then go through their real path: `resolve_weights` (via `set_overrides`), `from_hparams` on the local
folder, scoring of demo clips.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("speechbrain")
torch = pytest.importorskip("torch")

from rvcbench.audio import load_audio_at  # noqa: E402
from rvcbench.data import load_dataset  # noqa: E402
from rvcbench.environment import torch_threads  # noqa: E402
from rvcbench.errors import MissingDependencyError, RvcbenchError  # noqa: E402
from rvcbench.scoring import weights  # noqa: E402
from rvcbench.scoring.contract import ScoreInput  # noqa: E402
from rvcbench.scoring.ecapa import (  # noqa: E402
    ECAPA_WEIGHTS,
    EcapaSimilarity,
    eer_threshold,
    equal_error_rate,
)
from rvcbench.scoring.embedding_cache import CACHE_ENV  # noqa: E402

SR = 16000
BATCH_TOLERANCE = 2e-3  # |SIM batched - SIM alone|; measured ≤ 4.4e-4 at 5x padding on these random weights

SMALL_ECAPA_YAML = """\
# Shaped like speechbrain/spkrec-ecapa-voxceleb's hyperparams.yaml, with a small ECAPA-TDNN.
n_mels: 80
pretrained_path: speechbrain/spkrec-ecapa-voxceleb
out_n_neurons: 5
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>
mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False
embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: [64, 64, 64, 64, 192]
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 16
    lin_neurons: 32
classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: 32
    out_neurons: !ref <out_n_neurons>
mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
    norm_type: global
    std_norm: False
modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    mean_var_norm_emb: !ref <mean_var_norm_emb>
    classifier: !ref <classifier>
label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        mean_var_norm_emb: !ref <mean_var_norm_emb>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
    paths:
        embedding_model: !ref <pretrained_path>/embedding_model.ckpt
        mean_var_norm_emb: !ref <pretrained_path>/mean_var_norm_emb.ckpt
        classifier: !ref <pretrained_path>/classifier.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
"""

SMALL_EMOTION_YAML = """\
# Shaped like speechbrain/emotion-recognition-wav2vec2-IEMOCAP's hyperparams.yaml, with a small wav2vec2.
wav2vec2_hub: facebook/wav2vec2-base
pretrained_path: speechbrain/emotion-recognition-wav2vec2-IEMOCAP
encoder_dim: 32
out_n_neurons: 4
wav2vec2: !new:speechbrain.lobes.models.huggingface_transformers.wav2vec2.Wav2Vec2
    source: !ref <wav2vec2_hub>
    output_norm: True
    freeze: True
    save_path: wav2vec2_checkpoints
avg_pool: !new:speechbrain.nnet.pooling.StatisticsPooling
    return_std: False
output_mlp: !new:speechbrain.nnet.linear.Linear
    input_size: !ref <encoder_dim>
    n_neurons: !ref <out_n_neurons>
    bias: False
model: !new:torch.nn.ModuleList
    - [!ref <output_mlp>]
modules:
    wav2vec2: !ref <wav2vec2>
    output_mlp: !ref <output_mlp>
    avg_pool: !ref <avg_pool>
softmax: !new:speechbrain.nnet.activations.Softmax
label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        wav2vec2: !ref <wav2vec2>
        model: !ref <model>
        label_encoder: !ref <label_encoder>
    paths:
        wav2vec2: !ref <pretrained_path>/wav2vec2.ckpt
        model: !ref <pretrained_path>/model.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
"""


@pytest.fixture(scope="module")
def ecapa_folder(tmp_path_factory) -> Path:
    from hyperpyyaml import load_hyperpyyaml

    folder = tmp_path_factory.mktemp("spkrec-ecapa-small")
    (folder / "hyperparams.yaml").write_text(SMALL_ECAPA_YAML)
    torch.manual_seed(0)
    hparams = load_hyperpyyaml(SMALL_ECAPA_YAML)
    torch.save(hparams["embedding_model"].state_dict(), folder / "embedding_model.ckpt")
    torch.save(hparams["classifier"].state_dict(), folder / "classifier.ckpt")
    hparams["mean_var_norm_emb"]._save(folder / "mean_var_norm_emb.ckpt")  # its Pretrainer load hook's format
    encoder = hparams["label_encoder"]
    encoder.update_from_iterable([f"id{i:05d}" for i in range(5)])
    encoder.save(folder / "label_encoder.txt")
    return folder


@pytest.fixture(scope="module")
def demo() -> dict:
    dataset = load_dataset("demo")
    manifest = dataset.manifest
    audio = {}
    for name in sorted(set(manifest.target_file_name) | set(manifest.prompt_file_name)):
        audio[name] = load_audio_at(dataset.audio_path(name), SR)
    speakers = {name: speaker for speaker, name in zip(manifest.speaker_id, manifest.target_file_name, strict=True)}
    pairs = list(zip(manifest.pair_id, manifest.target_file_name, manifest.prompt_file_name, strict=True))
    return {"audio": audio, "speakers": speakers, "pairs": pairs}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Embedding cache in the test's folder, no weights from the environment; overrides reset afterwards."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(weights.ENV, raising=False)
    yield
    weights.set_overrides({})


@pytest.fixture
def ecapa(ecapa_folder) -> EcapaSimilarity:
    weights.set_overrides({"ecapa": str(ecapa_folder)})
    scorer = EcapaSimilarity()
    scorer.load("cpu")
    return scorer


def demo_inputs(demo: dict, count: int = 6) -> list[ScoreInput]:
    """Demo pairs; the 'clone' is the next pair's target recording (another utterance, often another voice)."""
    audio, pairs = demo["audio"], demo["pairs"][:count]
    return [ScoreInput(pair_id=pid, audio=audio[pairs[(i + 1) % len(pairs)][1]], target_audio=audio[target],
                       prompt_audio=audio[prompt], input_prompt_audio=audio[prompt])
            for i, (pid, target, prompt) in enumerate(pairs)]


def count_forwards(scorer) -> list[int]:
    """Wrap the speechbrain model's encode_batch; returns the list of batch sizes it was called with."""
    calls: list[int] = []
    original = scorer._model.encode_batch

    def counting(wavs, *args, **kwargs):
        calls.append(int(wavs.shape[0]))
        return original(wavs, *args, **kwargs)

    scorer._model.encode_batch = counting
    return calls


# --- ECAPA scoring ---------------------------------------------------------------------------------------------


def test_ecapa_scores_demo_pairs_through_resolved_weights(ecapa, ecapa_folder, demo):
    batch = demo_inputs(demo)
    rows = ecapa.score(batch)
    assert len(rows) == len(batch)
    fingerprint = weights.weights_fingerprint(ecapa_folder, ECAPA_WEIGHTS.files)
    for row in rows:
        assert -1.0 - 1e-6 <= row["sim_ecapa"] <= 1.0 + 1e-6
        assert -1.0 - 1e-6 <= row["sim_ecapa_prompt"] <= 1.0 + 1e-6
        assert row["sva"] == (1.0 if row["sim_ecapa"] > 0.25 else 0.0)
        assert row["sim_ecapa_checkpoint"] == fingerprint
        assert "sim_ecapa_error" not in row
        assert "sva_eer" not in row  # no EER threshold known yet
    same = ecapa.score([ScoreInput(pair_id="x", audio=batch[0].target_audio, target_audio=batch[0].target_audio,
                                   prompt_audio=batch[0].prompt_audio)])[0]
    assert same["sim_ecapa"] == pytest.approx(1.0, abs=1e-6)


def test_ecapa_embedding_shape_matches_the_checkpoint(ecapa, demo):
    wav = demo["audio"][demo["pairs"][0][1]]
    embedded = ecapa._embed({"k": wav})["k"]
    assert embedded.vector.shape == (32,)  # lin_neurons of the small checkpoint


def test_ecapa_batched_equals_one_at_a_time_within_tolerance(ecapa_folder, demo):
    weights.set_overrides({"ecapa": str(ecapa_folder)})
    batched, alone = EcapaSimilarity(), EcapaSimilarity(batch_items=1)
    batch = demo_inputs(demo, count=8)
    rows_batched, rows_alone = batched.score(batch), alone.score(batch)
    diffs = [abs(b[m] - a[m]) for b, a in zip(rows_batched, rows_alone, strict=True)
             for m in ("sim_ecapa", "sim_ecapa_prompt")]
    assert max(diffs) <= BATCH_TOLERANCE


def test_ecapa_one_at_a_time_is_upstreams_verify_batch(ecapa, demo):
    """batch_items=1 is speechbrain's SpeakerRecognition.verify_batch on the two whole waveforms."""
    one = EcapaSimilarity(batch_items=1)
    one._model, one._checkpoint = ecapa._model, ecapa._checkpoint
    item = demo_inputs(demo, count=2)[0]
    row = one.score([item])[0]
    with torch.no_grad(), torch_threads(1):
        emb_target = ecapa._model.encode_batch(torch.from_numpy(item.target_audio)[None], normalize=False)
        emb_clone = ecapa._model.encode_batch(torch.from_numpy(item.audio)[None], normalize=False)
        expected = torch.nn.CosineSimilarity(dim=-1, eps=1e-6)(emb_target, emb_clone).item()
    assert row["sim_ecapa"] == pytest.approx(expected, abs=1e-6)


def test_ecapa_scores_are_deterministic(ecapa_folder, demo):
    weights.set_overrides({"ecapa": str(ecapa_folder)})
    batch = demo_inputs(demo, count=4)
    first = EcapaSimilarity().score(batch)
    second = EcapaSimilarity().score(batch)
    assert first == second


def test_ecapa_unusable_audio_gives_nan_and_reason(ecapa, demo):
    speech = demo["audio"][demo["pairs"][0][1]]
    silent = np.zeros(SR, dtype=np.float32)
    short = speech[:800]
    rows = ecapa.score([
        ScoreInput(pair_id="silent-clip", audio=silent, target_audio=speech, prompt_audio=speech),
        ScoreInput(pair_id="short-clip", audio=short, target_audio=speech, prompt_audio=speech),
        ScoreInput(pair_id="silent-target", audio=speech, target_audio=silent, prompt_audio=speech),
    ])
    assert math.isnan(rows[0]["sim_ecapa"]) and math.isnan(rows[0]["sva"])
    assert "clip: audio is silent" in rows[0]["sim_ecapa_error"]
    assert math.isnan(rows[1]["sim_ecapa"]) and "clip: audio too short" in rows[1]["sim_ecapa_error"]
    assert math.isnan(rows[2]["sim_ecapa"]) and math.isnan(rows[2]["sva"])
    assert "target: audio is silent" in rows[2]["sim_ecapa_error"]
    assert rows[2]["sim_ecapa_prompt"] == pytest.approx(1.0, abs=1e-6)  # the prompt is still scored


def test_ecapa_missing_weights_error_says_how_to_get_them(tmp_path, monkeypatch):
    weights.set_overrides({})
    monkeypatch.setattr(weights, "_hf_cached", lambda _weights: None)  # as on a machine without the cache
    with pytest.raises(MissingDependencyError) as missing:
        EcapaSimilarity().load("cpu")
    message = str(missing.value)
    assert "hf download speechbrain/spkrec-ecapa-voxceleb" in message
    assert "--scorer-weights ecapa=DIR" in message
    weights.set_overrides({"ecapa": str(tmp_path)})  # a folder without the files
    with pytest.raises(MissingDependencyError, match="lacks hyperparams.yaml, embedding_model.ckpt"):
        EcapaSimilarity().load("cpu")


def test_ecapa_reference_embeddings_come_from_the_cache_on_the_second_call(ecapa_folder, demo):
    weights.set_overrides({"ecapa": str(ecapa_folder)})
    batch = demo_inputs(demo, count=3)
    scorer = EcapaSimilarity()
    scorer.load("cpu")
    calls = count_forwards(scorer)
    first = scorer.score(batch)
    distinct = {id(w) for item in batch for w in (item.audio, item.target_audio, item.prompt_audio)}
    assert sum(calls) <= len(distinct)
    # Same references, new clips: only the clips go through the model.
    clips = [ScoreInput(pair_id=i.pair_id, audio=i.audio * 0.5, target_audio=i.target_audio,
                        prompt_audio=i.prompt_audio) for i in batch]
    calls.clear()
    scorer.score(clips)
    assert sum(calls) == len({i.audio.tobytes() for i in clips})
    # A new scorer (empty memory) reads the references from disk: again only the clips are embedded.
    fresh = EcapaSimilarity()
    fresh.load("cpu")
    fresh_calls = count_forwards(fresh)
    again = fresh.score(batch)
    assert sum(fresh_calls) == len({i.audio.tobytes() for i in batch})
    for a, b in zip(first, again, strict=True):
        assert a["sim_ecapa"] == pytest.approx(b["sim_ecapa"], abs=1e-6)


# --- EER threshold ---------------------------------------------------------------------------------------------


def brute_force_gaps(same, different, thresholds) -> np.ndarray:
    """|FRR - FAR| of the rule `accept when score > t`, for every t, counted directly."""
    t = np.asarray(thresholds, dtype=float)[:, None]
    frr = (np.asarray(same)[None, :] <= t).mean(axis=1)
    far = (np.asarray(different)[None, :] > t).mean(axis=1)
    return np.abs(frr - far)


def test_eer_threshold_separable_scores_fall_between_the_classes():
    assert eer_threshold([0.8, 0.9], [0.1, 0.2]) == pytest.approx(0.5)
    assert equal_error_rate([0.8, 0.9], [0.1, 0.2]) == 0.0
    assert eer_threshold([0.31, 0.7, 0.95], [-0.2, 0.05, 0.3]) == pytest.approx(0.305)


def test_eer_threshold_overlapping_hand_case():
    same, different = [0.3, 0.6, 0.7, 0.9], [0.1, 0.2, 0.4, 0.65]
    # between 0.4 and 0.6: one of four same-speaker trials rejected (0.3), one of four impostors accepted (0.65)
    assert eer_threshold(same, different) == pytest.approx(0.5)
    assert equal_error_rate(same, different) == pytest.approx(0.25)


def test_eer_threshold_matches_a_brute_force_search():
    rng = np.random.default_rng(7)
    for _ in range(20):
        same = np.round(rng.normal(0.6, 0.15, rng.integers(3, 40)), 2)
        different = np.round(rng.normal(0.3, 0.15, rng.integers(3, 40)), 2)
        threshold = eer_threshold(same, different)
        best = brute_force_gaps(same, different, np.arange(-1.0, 2.0, 0.0005)).min()
        assert brute_force_gaps(same, different, [threshold])[0] == pytest.approx(best, abs=1e-12)
        assert threshold not in set(same) | set(different)


def test_eer_threshold_rejects_empty_or_nonfinite_scores():
    with pytest.raises(ValueError, match="same-speaker"):
        eer_threshold([], [0.1])
    with pytest.raises(ValueError, match="different-speaker"):
        eer_threshold([0.5], [float("nan")])


def test_ecapa_real_vs_real_trials_and_eer_calibration(ecapa, demo):
    names = sorted(demo["speakers"])[:9]  # three speakers, three recordings each
    recordings = [(demo["speakers"][n], demo["audio"][n]) for n in names]
    recordings.append(("silent", np.zeros(SR, dtype=np.float32)))
    trials = ecapa.trial_scores(recordings)
    usable = recordings[:-1]
    expected_same = sum(1 for a, b in itertools.combinations(usable, 2) if a[0] == b[0])
    assert trials.same.size == expected_same > 0
    assert trials.same.size + trials.different.size == len(usable) * (len(usable) - 1) // 2
    assert trials.skipped == [f"{len(usable)} (silent): audio is silent"]
    threshold = ecapa.calibrate_eer(recordings)
    assert threshold == pytest.approx(eer_threshold(trials.same, trials.different))
    rows = ecapa.score(demo_inputs(demo, count=3))
    for row in rows:
        assert row["sva_eer"] == (1.0 if row["sim_ecapa"] > threshold else 0.0)
    with pytest.raises(RvcbenchError, match="same-speaker and different-speaker"):
        ecapa.calibrate_eer(recordings[:1])


# --- Emotion match ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emotion_folders(tmp_path_factory) -> tuple[Path, Path]:
    transformers = pytest.importorskip("transformers")
    from hyperpyyaml import load_hyperpyyaml

    wav2vec2 = tmp_path_factory.mktemp("wav2vec2-small")
    config = transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(32,) * 7, conv_stride=(5, 2, 2, 2, 2, 2, 2), conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, feat_extract_norm="group")
    torch.manual_seed(1)
    config.save_pretrained(wav2vec2)
    torch.save(transformers.Wav2Vec2Model(config).state_dict(), wav2vec2 / "pytorch_model.bin")
    transformers.Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(wav2vec2)
    folder = tmp_path_factory.mktemp("emotion-small")
    (folder / "hyperparams.yaml").write_text(SMALL_EMOTION_YAML)
    hparams = load_hyperpyyaml(SMALL_EMOTION_YAML, {"wav2vec2_hub": str(wav2vec2)})
    torch.manual_seed(2)
    for parameter in hparams["wav2vec2"].parameters():  # other random weights than the base model's
        parameter.data.normal_(0.0, 0.2)
    torch.save(hparams["wav2vec2"].state_dict(), folder / "wav2vec2.ckpt")
    torch.save(hparams["model"].state_dict(), folder / "model.ckpt")
    encoder = hparams["label_encoder"]
    encoder.update_from_iterable(["neu", "ang", "hap", "sad"])
    encoder.save(folder / "label_encoder.txt")
    return folder, wav2vec2


@pytest.fixture
def emotion(emotion_folders):
    from rvcbench.scoring.emotion import EmotionMatch

    folder, wav2vec2 = emotion_folders
    weights.set_overrides({"emotion": str(folder), "wav2vec2_base": str(wav2vec2)})
    scorer = EmotionMatch()
    scorer.load("cpu")
    return scorer


def test_emotion_match_compares_the_clone_label_with_the_target_label(emotion, emotion_folders, demo):
    from rvcbench.scoring.emotion import EMOTION_WEIGHTS, WAV2VEC2_BASE_WEIGHTS

    batch = demo_inputs(demo, count=3)
    rows = emotion.score(batch)
    folder, wav2vec2 = emotion_folders
    checkpoint = (f"{weights.weights_fingerprint(folder, EMOTION_WEIGHTS.files)}+"
                  f"{weights.weights_fingerprint(wav2vec2, WAV2VEC2_BASE_WEIGHTS.files)}")
    for item, row in zip(batch, rows, strict=True):
        assert row["emotion_label"] in {"neu", "ang", "hap", "sad"}
        assert row["emotion_target_label"] == emotion.predict(item.target_audio)
        assert row["emotion_label"] == emotion.predict(item.audio)
        assert row["emotion_match"] == (1.0 if row["emotion_label"] == row["emotion_target_label"] else 0.0)
        assert row["emotion_match_checkpoint"] == checkpoint
    same = emotion.score([ScoreInput(pair_id="x", audio=batch[0].target_audio, target_audio=batch[0].target_audio)])
    assert same[0]["emotion_match"] == 1.0
    assert emotion.score(batch) == rows  # deterministic, and the cached target labels agree


def test_emotion_unusable_audio_gives_nan_and_reason(emotion, demo):
    speech = demo["audio"][demo["pairs"][0][1]]
    row = emotion.score([ScoreInput(pair_id="s", audio=np.zeros(SR, dtype=np.float32), target_audio=speech)])[0]
    assert math.isnan(row["emotion_match"])
    assert "clip: audio is silent" in row["emotion_match_error"]
    assert "emotion_target_label" in row


def test_emotion_missing_weights_error_names_both_checkpoints(emotion_folders, monkeypatch):
    from rvcbench.scoring.emotion import EmotionMatch

    monkeypatch.setattr(weights, "_hf_cached", lambda _weights: None)
    weights.set_overrides({})
    with pytest.raises(MissingDependencyError) as missing:
        EmotionMatch().load("cpu")
    assert "hf download speechbrain/emotion-recognition-wav2vec2-IEMOCAP" in str(missing.value)
    assert "--scorer-weights emotion=DIR" in str(missing.value)
    weights.set_overrides({"emotion": str(emotion_folders[0])})
    with pytest.raises(MissingDependencyError) as missing:
        EmotionMatch().load("cpu")
    assert "hf download facebook/wav2vec2-base" in str(missing.value)
    assert "--scorer-weights wav2vec2_base=DIR" in str(missing.value)
