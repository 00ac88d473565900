"""tsnbook.metrics: worked examples of MMAction2's accuracy.py, hand-computed cases, and MMAction2 1.2.0 (oracle) on
random data."""
import math
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from oracle import mmaction_1x  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tsnbook.metrics import (  # noqa: E402
    average_precision, confusion_matrix, fuse_scores, mean_average_precision, mean_class_accuracy,
    mmit_mean_average_precision, per_class_accuracy, scored_rows, top_k_accuracy)


def one_hot_scores(predictions, num_classes):
    scores = np.zeros((len(predictions), num_classes))
    scores[np.arange(len(predictions)), predictions] = 1.0
    return scores


# ---------------------------------------------------------------- top-k accuracy

def test_top_k_accuracy_hand_computed():
    scores = np.array([
        [0.1, 0.5, 0.3, 0.05, 0.05],   # ranking 1, 2, 0, ...  label 1: top-1 hit
        [0.6, 0.1, 0.2, 0.05, 0.04],   # ranking 0, 2, 1       label 2: top-2 hit
        [0.2, 0.1, 0.3, 0.35, 0.05],   # ranking 3, 2, 0, 1, 4 label 4: only top-5
        [0.9, 0.01, 0.02, 0.03, 0.04],  # ranking 0, 4, 3, 2, 1 label 3: top-3 hit
    ])
    labels = [1, 2, 4, 3]
    assert top_k_accuracy(scores, labels, topk=(1, 2, 3, 5)) == [0.25, 0.5, 0.75, 1.0]
    assert top_k_accuracy(scores, labels) == [0.25, 1.0]  # default (1, 5)
    assert top_k_accuracy(scores, labels, topk=1) == [0.25]
    assert top_k_accuracy(scores.tolist(), np.array(labels), topk=(10,)) == [1.0]  # k > C: every class


def test_top_k_accuracy_bad_input():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(2,\)"):
        top_k_accuracy(np.zeros((3, 4)), [0, 1])
    with pytest.raises(ValueError, match="topk"):
        top_k_accuracy(np.zeros((2, 4)), [0, 1], topk=(0,))
    with pytest.raises(ValueError, match="num_videos, num_classes"):
        top_k_accuracy(np.zeros(4), [0])
    with pytest.raises(ValueError, match="non-negative"):
        top_k_accuracy(np.zeros((2, 4)), [0, -1])


# ---------------------------------------------------------------- confusion matrix and mean class accuracy

def test_confusion_matrix_compact_and_full():
    y_true, y_pred = [0, 0, 1, 5], [0, 5, 1, 5]
    # Compact (MMAction2): rows/columns are the sorted union {0, 1, 5}.
    assert confusion_matrix(y_pred, y_true).tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 1]]
    full = confusion_matrix(y_pred, y_true, num_classes=6)
    assert full.shape == (6, 6) and full[0, 0] == 1 and full[0, 5] == 1 and full[5, 5] == 1 and full.sum() == 4
    with pytest.raises(ValueError, match="num_classes=3"):
        confusion_matrix(y_pred, y_true, num_classes=3)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix([0, 1], [0])


def test_mean_class_accuracy_worked_example():
    labels = [0, 0, 1]
    scores = one_hot_scores([0, 2, 1], 3)
    assert mean_class_accuracy(scores, labels) == pytest.approx(0.5)  # (1/2 + 1 + 0) / 3: class 2 counts as 0
    assert mean_class_accuracy(scores, labels, classes="true") == pytest.approx(0.75)  # (1/2 + 1) / 2
    with pytest.raises(ValueError, match="classes"):
        mean_class_accuracy(scores, labels, classes="all")


def test_mean_class_accuracy_ignores_classes_never_seen():
    # Class 3 exists in the score columns but is neither predicted nor true: it does not count.
    scores = one_hot_scores([0, 1, 1, 2], 4)
    labels = [0, 1, 2, 2]
    assert mean_class_accuracy(scores, labels) == pytest.approx((1 + 1 + 0.5) / 3)


def test_per_class_accuracy_names_each_class_and_its_videos():
    labels = [0, 0, 1, 2, 2, 2]
    scores = one_hot_scores([0, 2, 1, 2, 2, 0], 4)
    accuracy, videos = per_class_accuracy(scores, labels)
    assert videos.tolist() == [2, 1, 3, 0]
    assert accuracy[:3].tolist() == pytest.approx([0.5, 1.0, 2 / 3]) and np.isnan(accuracy[3])  # class 3: no video
    assert np.nanmean(accuracy) == pytest.approx(mean_class_accuracy(scores, labels, classes="true"))
    with pytest.raises(ValueError, match="labels go up to 4"):
        per_class_accuracy(scores, [0, 0, 1, 2, 2, 4])


# ---------------------------------------------------------------- average precision

def test_average_precision_worked_example():
    assert average_precision([0.9, 0.8, 0.8, 0.3], [1, 0, 1, 0]) == pytest.approx(0.8333333333)


def test_average_precision_hand_computed_and_edge_cases():
    # Ranking: +, -, +, -, + with distinct scores: precisions at hits 1, 2/3, 3/5, recall steps 1/3 each.
    assert average_precision([5, 4, 3, 2, 1], [1, 0, 1, 0, 1]) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert average_precision([0.1, 0.2], [True, True]) == pytest.approx(1.0)
    assert math.isnan(average_precision([0.1, 0.2], [0, 0]))  # no positive: undefined
    with pytest.raises(ValueError, match="same shape"):
        average_precision([0.1, 0.2], [1])
    with pytest.raises(ValueError, match="0/1"):
        average_precision([0.1, 0.2], [1, 2])


def test_mean_average_precision_drops_nan_classes_mmit_does_not():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.4], [0.6, 0.3, 0.7]])
    multi_hot = np.array([[1, 0, 0], [0, 0, 1], [1, 0, 1]])  # class 1 has no positive; every video has one
    per_class = [average_precision(scores[:, c], multi_hot[:, c]) for c in (0, 2)]
    assert mean_average_precision(scores, multi_hot) == pytest.approx(np.mean(per_class))
    per_video = [average_precision(s, h) for s, h in zip(scores, multi_hot)]
    assert mmit_mean_average_precision(scores, multi_hot) == pytest.approx(np.mean(per_video))
    multi_hot[1] = 0  # a video without labels: mmit mAP becomes NaN, class mAP stays finite
    assert math.isnan(mmit_mean_average_precision(scores, multi_hot))
    assert not math.isnan(mean_average_precision(scores, multi_hot))
    assert math.isnan(mean_average_precision(scores, np.zeros_like(multi_hot)))
    with pytest.raises(ValueError, match=r"\(3, 3\).*\(3, 2\)"):
        mean_average_precision(scores, multi_hot[:, :2])


# ---------------------------------------------------------------- fusion

def test_fuse_scores_arithmetic():
    rgb = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]])
    flow = [np.array([3.0, 0.0, 1.0]), np.array([2.0, 2.0, 2.0])]  # a list of per-video vectors, like --out
    assert fuse_scores([rgb, flow]).tolist() == [[4.0, 2.0, 4.0], [2.0, 1.0, 6.0]]  # the zoo's [1:1]
    assert fuse_scores([rgb, flow], coefficients=[2, 0.5]).tolist() == [[3.5, 4.0, 6.5], [1.0, -1.0, 9.0]]
    softened = fuse_scores([rgb, flow], apply_softmax=True)
    assert np.allclose(softened.sum(axis=1), 2.0)
    expected = np.exp(rgb[0]) / np.exp(rgb[0]).sum() + np.exp(flow[0]) / np.exp(flow[0]).sum()
    assert np.allclose(softened[0], expected)
    with pytest.raises(ValueError, match=r"\(1, 3\).*\(2, 3\)"):
        fuse_scores([rgb, rgb[:1]])
    with pytest.raises(ValueError, match="coefficients"):
        fuse_scores([rgb, flow], coefficients=[1, 1, 1])
    with pytest.raises(ValueError, match="at least one"):
        fuse_scores([])



def test_a_video_without_scores_is_refused_not_read_as_class_0():
    # A video `test` could not decode is a NaN row; numpy's argsort ranks NaN highest and argmax returns 0, so it
    # used to count as a top-5 hit, a top-1 miss and a class-0 prediction. The metrics refuse it, naming the row.
    scores = one_hot_scores([0, 1, 2, 3, 4, 5], 8)
    scores[4] = np.nan
    labels = [0, 1, 2, 3, 7, 5]
    for measure in (lambda: top_k_accuracy(scores, labels, (1, 5)), lambda: mean_class_accuracy(scores, labels),
                    lambda: mean_average_precision(scores, np.eye(8)[labels]),
                    lambda: mmit_mean_average_precision(scores, np.eye(8)[labels]),
                    lambda: average_precision(scores[:, 0], np.eye(8)[labels][:, 0])):
        with pytest.raises(ValueError, match=r"NaN.*\b4\b.*leave"):
            measure()
    assert top_k_accuracy(scores[scored_rows(scores)], np.delete(labels, 4), (1,)) == [1.0]


def test_fusion_keeps_a_skipped_video_unscored():
    # Fusing the flow stream's scores alone into a "two-stream" row would mix one-stream predictions into the
    # two-stream number: the fused row stays NaN, and every stream's skipped rows are left out together.
    rgb, flow = one_hot_scores([0, 1, 2], 3), one_hot_scores([0, 1, 1], 3)
    rgb[1] = np.nan
    flow[2] = np.nan
    fused = fuse_scores([rgb, flow])
    assert np.isnan(fused[1]).all() and np.isnan(fused[2]).all() and fused[0].tolist() == [2.0, 0.0, 0.0]
    assert np.isnan(fuse_scores([rgb, flow], apply_softmax=True)[1]).all()
    assert scored_rows(rgb, flow).tolist() == [True, False, False]


# ---------------------------------------------------------------- MMAction2 1.2.0 oracle

def test_matches_mmaction2_functional_on_random_data():
    mmaction_1x()
    from mmaction.evaluation.functional import accuracy as mma

    rng = np.random.default_rng(0)
    for trial in range(20):
        num_videos, num_classes = int(rng.integers(1, 60)), int(rng.integers(2, 30))
        # Rounded scores create ties; labels over a few classes make the "union" quirk matter.
        scores = np.round(rng.normal(size=(num_videos, num_classes)), 1).astype(np.float32)
        labels = rng.integers(0, num_classes, size=num_videos)
        topk = (1, 3, 5)
        assert top_k_accuracy(scores, labels, topk) == pytest.approx(
            mma.top_k_accuracy(list(scores), labels.tolist(), topk), abs=0)
        assert mean_class_accuracy(scores, labels) == pytest.approx(
            mma.mean_class_accuracy(list(scores), labels.tolist()), abs=1e-12)
        cm = mma.confusion_matrix(np.argmax(scores, axis=1), labels)
        assert np.array_equal(confusion_matrix(np.argmax(scores, axis=1), labels), cm)

        multi_hot = (rng.random((num_videos, num_classes)) < 0.2).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):  # MMAction2 computes 0/0 for empty classes
            expected = mma.mean_average_precision(list(scores), list(multi_hot))
        ours = mean_average_precision(scores, multi_hot)
        assert (math.isnan(ours) and math.isnan(expected)) or ours == pytest.approx(expected, abs=1e-12)
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = mma.mmit_mean_average_precision(list(scores), list(multi_hot))
        ours = mmit_mean_average_precision(scores, multi_hot)
        assert (math.isnan(ours) and math.isnan(expected)) or ours == pytest.approx(expected, abs=1e-12)

        other = rng.normal(size=scores.shape)
        expected = np.stack(mma.get_weighted_score([list(scores), list(other)], [1.0, 0.5]))
        assert np.allclose(fuse_scores([scores, list(other)], [1.0, 0.5]), expected, rtol=0, atol=1e-12)

    # Every video labelled: mmit mAP is finite in both.
    multi_hot = np.eye(5, dtype=np.int64)[rng.integers(0, 5, size=12)]
    scores = rng.normal(size=(12, 5))
    assert mmit_mean_average_precision(scores, multi_hot) == pytest.approx(
        mma.mmit_mean_average_precision(list(scores), list(multi_hot)), abs=1e-12)


def test_a_softmax_keeps_the_per_video_metrics_and_changes_the_per_class_map():
    # The module docstring's promise: per-video rankings survive a softmax, HVU's per-class ranking does not.
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 20)) * 3
    multi_hot = (rng.random((200, 20)) < 0.15).astype(np.int64)
    multi_hot[np.arange(200), rng.integers(0, 20, size=200)] = 1  # every video has a label: mmit mAP is finite
    labels = rng.integers(0, 20, size=200)
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    sigmoid = 1 / (1 + np.exp(-logits))
    assert top_k_accuracy(prob, labels, (1, 5)) == top_k_accuracy(logits, labels, (1, 5))
    assert mean_class_accuracy(prob, labels) == mean_class_accuracy(logits, labels)
    assert mmit_mean_average_precision(prob, multi_hot) == pytest.approx(
        mmit_mean_average_precision(logits, multi_hot), abs=1e-12)
    assert mean_average_precision(sigmoid, multi_hot) == pytest.approx(mean_average_precision(logits, multi_hot),
                                                                       abs=1e-12)
    assert abs(mean_average_precision(prob, multi_hot) - mean_average_precision(logits, multi_hot)) > 1e-3


def test_fusion_weights_must_be_finite_non_negative_and_not_all_zero():
    # `fuse --coefficients nan 1` used to fail with "scores has NaN in 8 row(s) ...: videos without scores (skipped
    # by the test)"; `0 0` gave every video the all-zero score vector and a top-1 of whatever argsort's tie order
    # made of it; a negative weight (a typo for 1 1?) turned a stream's votes into votes against.
    rgb, flow = one_hot_scores([0, 1, 2], 3), one_hot_scores([0, 1, 1], 3)
    for weights, problem in (([float("nan"), 1], "finite"), ([1, float("inf")], "finite"),
                             ([0, 0], "at least one weight above 0"), ([1, -1], "negative")):
        with pytest.raises(ValueError, match=problem) as info:
            fuse_scores([rgb, flow], weights)
        assert "coefficients" in str(info.value) and "NaN in" not in str(info.value)
    with pytest.raises(ValueError, match=r"one number per stream \(2\), got 1"):
        fuse_scores([rgb, flow], [1])
    assert fuse_scores([rgb, flow], [0, 1]).tolist() == flow.tolist()  # one stream weighed out is fine
    assert fuse_scores([rgb, flow], [0.3, 2.5]).shape == (3, 3)  # weights need not sum to 1 (the zoo's 1:1)
