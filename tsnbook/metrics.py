"""Evaluation metrics and two-stream score fusion, in plain numpy.

Mirrors MMAction2's metric functions (0.24.1 `mmaction/core/evaluation/accuracy.py`, the same code as 1.2.0
`mmaction/evaluation/functional/accuracy.py`) and the "[1:1]" fusion of `tools/analysis/report_accuracy.py`.

Conventions: `scores` is an (N, C) array (N videos, C classes; a list of N length-C vectors works too) of raw
averaged logits or probabilities; `labels` holds N integer class ids. The metrics depend only on how scores rank,
but not all along the same axis: top-k, mean class accuracy and MMiT's mAP rank the classes of each video, which a
softmax keeps, so logits and 'prob' scores give the same numbers; HVU's `mean_average_precision` ranks the videos
of each class, and a softmax (one normalisation per video) reorders them, so there 'prob' scores give another mAP
than logits (a per-class sigmoid does not).

MMAction2 quirks reproduced on purpose, with the option that changes them:
- `mean_class_accuracy` averages over every class that is predicted *or* true, so a class that is predicted
  but never true counts as 0% and lowers the mean (`classes="true"` averages over true classes only).
- `mmit_mean_average_precision` does not drop NaN: one video without any positive label makes it NaN
  (`mean_average_precision`, the per-class HVU metric, does drop NaN classes).
- `top_k_accuracy` breaks score ties in whatever order numpy's default argsort leaves them.

A video that a test could not score (`tsnbook.engine` skips an undecodable one) is a row of NaN. numpy would
rank NaN above every score and take it for class 0 in an arg-max, so the metrics refuse such rows, naming them;
`scored_rows` gives the rows to keep, and `fuse_scores` keeps a video NaN when any stream lacks it.
"""
import numpy as np


# ----------------------------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------------------------

def _as_scores(scores, name="scores"):
    """An (N, C) real-valued array with N >= 1 and C >= 1, dtype kept (argsort's tie order depends on it)."""
    scores = np.asarray(scores)
    if not (np.issubdtype(scores.dtype, np.integer) or np.issubdtype(scores.dtype, np.floating)):
        raise ValueError(f"{name} must hold real numbers, got dtype {scores.dtype}")
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(f"{name} must have shape (num_videos, num_classes) with both >= 1, got shape {scores.shape}")
    return scores


def _as_labels(labels, name="labels"):
    """A 1-D int64 array of non-negative class ids (whole-number floats are accepted)."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of class ids, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.issubdtype(array.dtype, np.floating) or not np.all(array == np.round(array)):
            raise ValueError(f"{name} must hold integer class ids, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must be non-negative class ids, got minimum {array.min()}")
    return array


def _as_binary(values, name):
    """A 0/1 (or boolean) array turned into booleans."""
    array = np.asarray(values)
    if not np.all((array == 0) | (array == 1)):
        raise ValueError(f"{name} must contain only 0/1 (or booleans)")
    return array == 1


def scored_rows(*score_arrays):
    """Boolean mask of the videos (rows) that have scores in every array: no NaN, the mark of a skipped video."""
    return ~np.any([np.isnan(np.asarray(scores, dtype=np.float64)).any(axis=-1) for scores in score_arrays], axis=0)


def _refuse_unscored(scores, name="scores"):
    """``scores`` unchanged, or a ValueError naming its NaN rows: videos without scores have no rank."""
    missing = np.flatnonzero(~scored_rows(scores))
    if missing.size:
        shown = ", ".join(str(i) for i in missing[:10]) + (", ..." if missing.size > 10 else "")
        raise ValueError(f"{name} has NaN in {missing.size} row(s) ({shown}): videos without scores (skipped by the "
                         "test); leave them out first (tsnbook.metrics.scored_rows gives the rows to keep)")
    return scores


def _check_scores_and_labels(scores, labels):
    scores, labels = _refuse_unscored(_as_scores(scores)), _as_labels(labels)
    if labels.shape[0] != scores.shape[0]:
        raise ValueError(f"scores has shape {scores.shape} but labels has shape {labels.shape}: "
                         "one label per row of scores is needed")
    return scores, labels


# ----------------------------------------------------------------------------------------------------------------
# Single-label classification
# ----------------------------------------------------------------------------------------------------------------

def top_k_accuracy(scores, labels, topk=(1, 5)):
    """Fraction of videos whose label is among the k highest scores, one float per k in `topk`.

    As in MMAction2, the top k are the last k entries of an ascending `np.argsort` (default kind), so the
    order of tied scores is numpy's, not a documented rule. A k larger than the number of classes counts
    every class as predicted (accuracy 1.0), again as in MMAction2.
    """
    scores, labels = _check_scores_and_labels(scores, labels)
    if np.ndim(topk) == 0:
        topk = (topk,)
    ranking = np.argsort(scores, axis=1)  # ascending: the best classes are at the end
    accuracies = []
    for k in topk:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"every k in topk must be an integer >= 1, got {k!r}")
        best_k = ranking[:, -k:]
        hits = np.any(best_k == labels[:, None], axis=1)
        accuracies.append(float(hits.mean()))
    return accuracies


def confusion_matrix(y_pred, y_true, num_classes=None):
    """Counts of (true class, predicted class) pairs: rows are true classes, columns predicted classes.

    `num_classes=None` gives MMAction2's compact matrix: rows and columns are the sorted labels that occur in
    either `y_pred` or `y_true` (`np.unique(np.concatenate([y_pred, y_true]))`), not 0..C-1. With
    `num_classes=C` the matrix is C x C, indexed by class id.
    """
    y_pred, y_true = _as_labels(y_pred, "y_pred"), _as_labels(y_true, "y_true")
    if y_pred.shape != y_true.shape:
        raise ValueError(f"y_pred has shape {y_pred.shape} but y_true has shape {y_true.shape}; they must match")
    if num_classes is None:
        classes, ids = np.unique(np.concatenate([y_pred, y_true]), return_inverse=True)
        size = len(classes)
        pred_ids, true_ids = ids[:len(y_pred)], ids[len(y_pred):]
    else:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"num_classes must be an integer >= 1 or None, got {num_classes!r}")
        largest = max(y_pred.max(initial=-1), y_true.max(initial=-1))
        if largest >= num_classes:
            raise ValueError(f"num_classes={num_classes} but the labels go up to {largest}")
        size, pred_ids, true_ids = int(num_classes), y_pred, y_true
    counts = np.bincount(true_ids * size + pred_ids, minlength=size * size)
    return counts.reshape(size, size)


def mean_class_accuracy(scores, labels, classes="union"):
    """Mean over classes of the per-class accuracy (recall) of the arg-max prediction.

    `classes="union"` (default, MMAction2's rule): the classes are those that occur in the predictions *or*
    in the labels. A class that is predicted but never the true label has no videos, so MMAction2 gives it
    accuracy 0 and it still counts in the mean. Example: labels [0, 0, 1], predictions [0, 2, 1] give
    (1/2 + 1 + 0) / 3 = 0.5. `classes="true"` averages over the true classes only (here (1/2 + 1) / 2 = 0.75),
    the textbook definition. The arg-max takes the first class among tied scores.
    """
    if classes not in ("union", "true"):
        raise ValueError(f"classes must be 'union' or 'true', got {classes!r}")
    scores, labels = _check_scores_and_labels(scores, labels)
    matrix = confusion_matrix(np.argmax(scores, axis=1), labels).astype(np.float64)
    videos_per_class = matrix.sum(axis=1)
    hits_per_class = np.diag(matrix)
    is_true_class = videos_per_class > 0
    per_class = np.where(is_true_class, hits_per_class / np.maximum(videos_per_class, 1), 0.0)
    if classes == "true":
        per_class = per_class[is_true_class]
    return float(per_class.mean())


def per_class_accuracy(scores, labels):
    """``(accuracy, videos)``: for each class 0..C-1 of the (N, C) ``scores``, the fraction of its videos whose
    arg-max prediction is right (its recall) and how many videos it has; NaN accuracy for a class without any.

    The numbers ``mean_class_accuracy(classes="true")`` averages, one per class, so a test can say which fail.
    """
    scores, labels = _check_scores_and_labels(scores, labels)
    matrix = confusion_matrix(np.argmax(scores, axis=1), labels, num_classes=scores.shape[1])
    videos = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(matrix) / videos, videos


# ----------------------------------------------------------------------------------------------------------------
# Multi-label: average precision
# ----------------------------------------------------------------------------------------------------------------

def _average_precision(scores, positives):
    """AP of a 1-D score vector against a boolean vector (no checks). NaN when there is no positive."""
    total_positives = int(positives.sum())
    if total_positives == 0:
        return float("nan")  # MMAction2 computes 0/0 here; recall is undefined
    # Descending order: MMAction2 reverses a stable ascending sort (only distinct scores matter below).
    order = np.argsort(scores, kind="mergesort")[::-1]
    scores, positives = scores[order], positives[order]
    # One threshold per distinct score: the last position of each run of equal scores.
    thresholds = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    true_pos = np.cumsum(positives)[thresholds]
    precision = true_pos / (thresholds + 1.0)
    recall = true_pos / total_positives
    # Stop at the first threshold reaching full recall, then sum precision over each step up in recall.
    stop = np.searchsorted(true_pos, total_positives) + 1
    recall_steps = np.diff(np.r_[0.0, recall[:stop]])
    return float(np.sum(recall_steps * precision[:stop]))


def average_precision(scores, positives):
    """Non-interpolated average precision (scikit-learn's definition) of one ranking.

    AP = sum over distinct score thresholds of (recall gained there) x (precision there), stopping at full
    recall. Tied scores form one threshold. Example: scores [.9, .8, .8, .3], positives [1, 0, 1, 0]
    give 0.5 x 1 + 0.5 x 2/3 = 0.8333. Returns NaN when `positives` has no positive (AP is undefined).
    """
    scores = np.asarray(scores, dtype=np.float64)
    positives = _as_binary(positives, "positives")
    if scores.ndim != 1 or scores.shape != positives.shape or scores.size == 0:
        raise ValueError(f"scores and positives must be non-empty 1-D arrays of the same shape, got {scores.shape} "
                         f"and {positives.shape}")
    return _average_precision(_refuse_unscored(scores[:, None])[:, 0], positives)


def _check_multi_label(scores, multi_hot):
    scores = _refuse_unscored(_as_scores(scores))
    multi_hot = _as_binary(multi_hot, "multi_hot")
    if multi_hot.shape != scores.shape:
        raise ValueError(f"scores has shape {scores.shape} but multi_hot has shape {multi_hot.shape}; "
                         "they must match (num_videos, num_classes)")
    return scores, multi_hot


def mean_average_precision(scores, multi_hot):
    """HVU-style mAP: AP per *class* (a column over all videos), averaged over classes.

    Classes without a single positive video have no AP and are left out, as in MMAction2; NaN if no class
    is left.
    """
    scores, multi_hot = _check_multi_label(scores, multi_hot)
    per_class = [_average_precision(scores[:, c], multi_hot[:, c]) for c in range(scores.shape[1])]
    per_class = [ap for ap in per_class if not np.isnan(ap)]
    return float(np.mean(per_class)) if per_class else float("nan")


def mmit_mean_average_precision(scores, multi_hot):
    """Multi-Moments-in-Time mAP: AP per *video* (a row over classes), averaged over videos.

    MMAction2 does not filter NaN here, unlike `mean_average_precision`: a single video without any positive
    label makes the result NaN. Kept on purpose so numbers compare with MMAction2's; drop such videos first
    if you want a finite value.
    """
    scores, multi_hot = _check_multi_label(scores, multi_hot)
    return float(np.mean([_average_precision(row, hot) for row, hot in zip(scores, multi_hot)]))


# ----------------------------------------------------------------------------------------------------------------
# Two-stream fusion
# ----------------------------------------------------------------------------------------------------------------

def _softmax(scores):
    shifted = scores - scores.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def _fusion_weights(coefficients, num_streams):
    """The coefficients as float64, or a ValueError: one finite, non-negative number per stream, not all 0. A NaN
    weight would make every video look unscored, all zeros gives every video the same (zero) scores, and a
    negative weight turns a stream's votes into votes against - a typo, not a fusion. They need not sum to 1."""
    weights = np.asarray(coefficients, dtype=np.float64)
    if weights.ndim != 1 or len(weights) != num_streams:
        raise ValueError(f"coefficients must hold one number per stream ({num_streams}), got "
                         f"{weights.size if weights.ndim == 1 else f'shape {weights.shape}'}")
    if not np.isfinite(weights).all():
        raise ValueError(f"coefficients must be finite numbers, got {weights.tolist()}")
    if (weights < 0).any():
        raise ValueError(f"coefficients must not be negative (a stream's weight, 0 leaves it out), got "
                         f"{weights.tolist()}")
    if not (weights > 0).any():
        raise ValueError(f"coefficients need at least one weight above 0, got {weights.tolist()}")
    return weights


def fuse_scores(score_list, coefficients=None, apply_softmax=False):
    """Weighted sum of several models' scores for the same videos: sum_i coefficients[i] * score_list[i].

    This is the zoo's two-stream "[1:1]": RGB and flow scores (raw averaged logits, the `--out` pickles of the
    test runs), coefficients 1 and 1, no softmax (`coefficients=None` means all ones). Each stream is an
    (N, C) array or a list of N score vectors, and all streams must list the same videos in the same order;
    nothing here can check that (`tsnbook.scores.read_fusion_inputs` does, for score files). The coefficients are
    finite and non-negative, at least one above 0; they need not sum to 1. `apply_softmax=True` turns each
    video's scores into probabilities first (report_accuracy.py's `--apply-softmax`). Returns an (N, C) float
    array.

    A video that a stream could not score (a NaN row: its test skipped it) stays NaN in the result. Filling it
    from the other streams would pass a one-stream prediction for a two-stream one; `scored_rows` picks the
    videos every stream scored, the set a fair comparison of the streams and their fusion uses.
    """
    if len(score_list) == 0:
        raise ValueError("score_list must contain at least one array of scores")
    streams = [_as_scores(s, f"score_list[{i}]") for i, s in enumerate(score_list)]
    for i, stream in enumerate(streams[1:], start=1):
        if stream.shape != streams[0].shape:
            raise ValueError(f"score_list[{i}] has shape {stream.shape} but score_list[0] has shape "
                             f"{streams[0].shape}; every stream must score the same videos and classes")
    coefficients = _fusion_weights(np.ones(len(streams)) if coefficients is None else coefficients, len(streams))
    if apply_softmax:
        streams = [_softmax(s) for s in streams]
    return np.tensordot(coefficients, np.stack(streams), axes=1)


# ------------------------------------------------------------------------------------- reports of a test run
METRICS = ("top_k_accuracy", "mean_class_accuracy", "mean_average_precision", "mmit_mean_average_precision")


def accuracy_report(scores, labels):
    """top-1 / top-5 / mean class accuracy over the videos that have scores (in %)."""
    return evaluation_report(scores, labels, ["top_k_accuracy", "mean_class_accuracy"])


def evaluation_report(scores, labels, metrics=("top_k_accuracy", "mean_class_accuracy")):
    """The ``eval_metrics`` of a config (MMAction2's names), in %, over the videos that have scores.

    "top_k_accuracy" gives ``top1`` and ``top5``; "mean_class_accuracy", "mean_average_precision" (HVU: AP per
    class) and "mmit_mean_average_precision" (MMiT: AP per video) give a key of their own name. The last two
    need multi-label lists (``labels`` as lists of class indices).
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"unknown evaluation metric(s) {unknown or metrics}: choose from {', '.join(METRICS)}")
    keep = ~np.isnan(scores).any(axis=1)
    scores = scores[keep]
    labels = [label for label, k in zip(labels, keep) if k]
    report = {}
    for metric in metrics:
        multi_label = metric in ("mean_average_precision", "mmit_mean_average_precision")
        if multi_label != any(isinstance(label, (list, tuple)) for label in labels):
            kind, others = (("multi-label (multi_label=True)", METRICS[:2]) if multi_label else
                            ("single-label", METRICS[2:]))
            raise ValueError(f"eval metric {metric} needs a {kind} dataset; use {' / '.join(others)} for this one")
        if metric == "top_k_accuracy":
            top1, top5 = top_k_accuracy(scores, labels, (1, min(5, scores.shape[1])))
            report.update(top1=100 * top1, top5=100 * top5)
        elif metric == "mean_class_accuracy":
            report[metric] = 100 * mean_class_accuracy(scores, labels)
        else:
            multi_hot = np.zeros(scores.shape, dtype=np.int64)
            for row, label in zip(multi_hot, labels):
                row[list(label)] = 1
            measure = mean_average_precision if metric == "mean_average_precision" else mmit_mean_average_precision
            report[metric] = 100 * measure(scores, multi_hot)
    report["num_videos"] = int(keep.sum())
    return report


def main_metric(metrics):
    """The report key that chooses best.pth: the first metric (top_k_accuracy -> top1)."""
    return "top1" if metrics[0] == "top_k_accuracy" else metrics[0]
