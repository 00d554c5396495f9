"""The detectability analysis: EER, speaker-disjoint cross-validation, detectors, bootstrap, task-spec validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt
from scipy.stats import norm

from rvcbench.analyses.crossval import cross_validated_scores, speaker_folds
from rvcbench.analyses.detectors import Detector, DetectorMeta, LfccGmm, LfccLogistic
from rvcbench.analyses.eer import SpeakerResamples, Trials, equal_error_rate, summarize_eer, summarize_eer_difference
from rvcbench.analyses.lfcc import lfcc
from rvcbench.audio import load_audio_at
from rvcbench.data import load_dataset
from rvcbench.tasks import TaskSpecError, load_task

DETECTABILITY_YAML = Path(__file__).resolve().parents[1] / "tasks" / "output" / "detectability.yaml"


@pytest.mark.parametrize(("bona", "spoof", "expected"), [
    ([3, 4], [1, 2], 0.0),  # separated
    ([1, 2], [3, 4], 1.0),  # inverted
    ([1, 1, 1], [1, 1], 0.5),  # every score tied: chance
    ([1, 2, 3, 4], [0, 2.5], 0.5),  # at t = 2.5: FRR = 2/4, FAR = 1/2
    ([2, 4, 5], [1, 3], 1 / 3),  # between t = 3 (FRR 1/3, FAR 1/2) and t = 4 (FRR 1/3, FAR 0): crossing at 1/3
])
def test_eer_of_hand_computable_cases(bona, spoof, expected):
    assert equal_error_rate(np.array(bona, float), np.array(spoof, float)) == pytest.approx(expected)


def test_eer_of_two_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(0)
    d = 2.0  # bona fide ~ N(d, 1), spoof ~ N(0, 1): EER = Φ(−d/2)
    eer = equal_error_rate(rng.normal(d, 1, 40000), rng.normal(0, 1, 40000))
    assert eer == pytest.approx(norm.cdf(-d / 2), abs=0.005)


def test_eer_is_chance_when_both_classes_get_the_same_scores_in_any_order():
    scores = np.random.default_rng(1).normal(size=30)
    assert equal_error_rate(scores, scores[::-1].copy()) == pytest.approx(0.5)


def test_weights_act_like_repeated_trials():
    bona, spoof = np.array([0.5, 2.0, 3.0]), np.array([1.0, 2.5])
    weighted = equal_error_rate(bona, spoof, np.array([2.0, 1.0, 0.0]), np.array([1.0, 3.0]))
    repeated = equal_error_rate(np.array([0.5, 0.5, 2.0]), np.array([1.0, 2.5, 2.5, 2.5]))
    assert weighted == pytest.approx(repeated)


def test_speaker_bootstrap_ci_brackets_the_eer_and_a_condition_minus_itself_is_zero():
    rng = np.random.default_rng(2)
    speakers = np.repeat([f"s{i}" for i in range(8)], 10)
    labels = np.tile([1, 0], 40)
    trials = Trials(rng.normal(size=80) + labels, labels, speakers)
    resamples = SpeakerResamples.draw(list(speakers), seed=0, n_resamples=300)
    summary = summarize_eer(trials, resamples)
    assert summary.ci_low <= summary.mean <= summary.ci_high and summary.ci_low < summary.ci_high
    assert (summary.n, summary.n_bona_fide, summary.n_spoof, summary.n_speakers) == (80, 40, 40, 8)
    same = summarize_eer_difference(trials, trials, resamples)
    assert same["mean"] == same["ci_low"] == same["ci_high"] == 0.0


def test_speaker_folds_are_deterministic_balanced_and_cover_every_speaker():
    speakers = [f"s{i}" for i in range(11)]
    folds = speaker_folds(speakers * 3, n_folds=5, seed=7)
    assert folds == speaker_folds(speakers, n_folds=5, seed=7)
    assert set(folds) == set(speakers)
    sizes = np.bincount(list(folds.values()))
    assert len(sizes) == 5 and sizes.max() - sizes.min() <= 1
    assert any(speaker_folds(speakers, 5, seed=s) != folds for s in range(8, 12))
    assert set(speaker_folds(speakers[:3], n_folds=5, seed=0).values()) == {0, 1, 2}  # k = min(folds, speakers)


class SpyDetector(Detector):
    """Records which trials each fold trained on; scores a trial by its representation's first value."""

    meta = DetectorMeta("spy", "1", 16000, True, "test detector")

    def __init__(self) -> None:
        self.trained_on: list[set[float]] = []

    def fit(self, representations, labels, seed):
        self.trained_on.append({float(r[1]) for r in representations})

    def score(self, representations):
        return np.array([float(r[0]) for r in representations])


def test_cross_validation_never_tests_a_speaker_it_trained_on():
    speakers = [f"s{i % 6}" for i in range(36)]
    labels = np.array([i % 2 for i in range(36)])
    reps = [np.array([float(i), float(i)]) for i in range(36)]  # second value: the trial's index
    spy = SpyDetector()
    scores, folds = cross_validated_scores(spy, reps, labels, speakers, n_folds=4, seed=3)
    assert len(spy.trained_on) == 4 and np.isfinite(scores).all()
    for fold, trained in enumerate(spy.trained_on):
        tested = {speakers[i] for i in np.flatnonzero(folds == fold)}
        assert tested and not tested & {speakers[int(i)] for i in trained}
    assert np.array_equal(scores, np.arange(36.0))  # every trial scored exactly once, out of fold


@pytest.fixture(scope="module")
def real_and_muffled():
    """Demo recordings (4 speakers) as bona fide, the same recordings low-passed at 4 kHz as 'clones'."""
    dataset = load_dataset("demo")
    rows = dataset.manifest.head(16)
    sos = butter(8, 4000, btype="lowpass", fs=16000, output="sos")
    real = [load_audio_at(dataset.audio_path(f), 16000) for f in rows.target_file_name]
    muffled = [sosfiltfilt(sos, w).astype(np.float32) for w in real]
    speakers = list(rows.speaker_id) * 2
    return real + muffled, np.array([1] * len(real) + [0] * len(muffled)), speakers


@pytest.mark.parametrize("detector", [LfccLogistic(), LfccGmm(components=8)], ids=["lfcc_lr", "lfcc_gmm"])
def test_an_easily_separable_spoof_is_detected(detector, real_and_muffled):
    wavs, labels, speakers = real_and_muffled
    reps = [detector.represent(w) for w in wavs]
    scores, _ = cross_validated_scores(detector, reps, labels, speakers, n_folds=4, seed=0)
    eer = Trials(scores, labels, np.array(speakers)).eer()
    assert eer < 0.1
    again, _ = cross_validated_scores(detector, reps, labels, speakers, n_folds=4, seed=0)
    assert np.array_equal(scores, again)  # same seed, same scores


def test_lfcc_shape_and_linear_band_sensitivity():
    t = np.arange(16000) / 16000
    low = (0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
    high = (0.3 * np.sin(2 * np.pi * 7000 * t)).astype(np.float32)
    features = lfcc(low)
    assert features.shape == (1 + (16000 - 320) // 160, 60) and np.isfinite(features).all()
    assert not np.allclose(lfcc(low)[:, :20].mean(0), lfcc(high)[:, :20].mean(0), atol=1.0)


def write_task(tmp_path: Path, analysis: str) -> Path:
    text = DETECTABILITY_YAML.read_text()
    start, end = text.index("analysis:"), text.index("conditions:")
    path = tmp_path / "output" / "detectability.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text[:start] + analysis + "\n" + text[end:])
    return path


@pytest.mark.parametrize(("analysis", "message"), [
    ("analysis: spoofiness", "unknown analysis 'spoofiness'; allowed: ['detectability']"),
    ("analysis: {name: detectability, detector: aasist9}", "unknown detector 'aasist9'; allowed: ['lfcc_gmm'"),
    ("analysis: {name: detectability, detector_settings: {mixtures: 8}}",
     "has no setting(s) ['mixtures']; allowed: ['components', 'max_frames', 'max_iter']"),
    ("analysis: {name: detectability, detector_settings: {components: 0}}", "components must be a positive"),
    ("analysis: {name: detectability, folds: 1}", "key 'folds': an integer of at least 2"),
    ("analysis: {name: detectability, bootstrap: 10}", "no parameter(s) ['bootstrap']; allowed: ['detector'"),
    ("analysis: [detectability]", "a name or a mapping"),
])
def test_a_bad_analysis_entry_is_an_error_naming_file_key_and_allowed_values(tmp_path, analysis, message):
    path = write_task(tmp_path, analysis)
    with pytest.raises(TaskSpecError) as error:
        load_task(path, {"sim", "dnsmos_ovrl"})
    assert str(path) in str(error.value) and "key 'analysis'" in str(error.value) and message in str(error.value)


def test_the_shipped_task_and_the_short_form_load(tmp_path):
    shipped = load_task(DETECTABILITY_YAML, {"sim", "dnsmos_ovrl"})
    assert shipped.analysis.name == "detectability" and shipped.analysis.get("detector") == "lfcc_gmm"
    assert shipped.conditions[0].name == "clean" and len(shipped.conditions) >= 3
    short = load_task(write_task(tmp_path, "analysis: detectability"), {"sim", "dnsmos_ovrl"})
    assert short.analysis.name == "detectability" and short.analysis.params == ()
