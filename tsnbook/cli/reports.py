"""What ``test`` reports besides its metrics: per-class accuracy, the confusion matrix (a table, CSV and PNG
beside ``--out``) and the names of the videos in its score files."""
import csv
from pathlib import Path

import numpy as np

TABLE_CLASSES = 20  # up to this many classes a table is printed whole; more go to the CSV files beside --out
CORNER = "true \\ predicted"  # the confusion matrix's top-left cell


def video_names(cfg, split="test"):
    """The videos of a config's ``split`` list, each by its path as the list writes it (relative to the data
    prefix; a clip list's clips add ``@offset``), in the list's order: the names a score file stores."""
    from ..data import build_dataset
    folder = Path(cfg["data_root"]) / (cfg.get("data_prefix_val", cfg["data_prefix"]) if split != "train"
                                       else cfg["data_prefix"])
    names = []
    for record in build_dataset(cfg, split).records:
        path = Path(record.path)
        name = str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path)
        names.append(f"{name}@{record.offset}" if cfg.get("with_offset") else name)
    return names


def beside(out, what):
    """``result.pkl`` -> ``result_<what>``: the files written next to the score file."""
    out = Path(out)
    return out.with_name(f"{out.stem}_{what}")


def write_beside(out, what, write):
    """``write(path)`` for the file ``beside(out, what)``; True when written. A file that cannot be written (a
    folder in the way, a full disk) is named in one line and skipped: a side report must not end a test that took
    hours in a traceback (``test`` writes its score file first, and prints the rest of its reports)."""
    path = beside(out, what)
    try:
        write(path)
    except OSError as err:
        print(f"could not write {path} ({err.strerror or err}); the report above holds the same numbers")
        return False
    return True


def _label(index, classes):
    return f"{index} {classes[index]}" if classes else str(index)


def per_class_report(scores, labels, classes, out=None):
    """Print each class's accuracy (all of them up to `TABLE_CLASSES`, else the lowest ten) and, with ``out``,
    write them all to ``<out>_per_class.csv``. ``classes``: the class names, or None (indices)."""
    from ..metrics import per_class_accuracy
    accuracy, videos = per_class_accuracy(scores, labels)
    order = range(len(videos))
    if len(videos) > TABLE_CLASSES:
        order = [int(i) for i in np.argsort(np.nan_to_num(accuracy, nan=np.inf), kind="stable")[:10]]
        print(f"per-class accuracy, the 10 lowest of {len(videos)} classes" +
              (f" (all in {beside(out, 'per_class.csv')})" if out else " (--out writes all of them as CSV)") + ":")
    else:
        print("per-class accuracy:")
    width = max(len(_label(i, classes)) for i in order)
    print(f"  {'class':<{width}}  videos  accuracy")
    for i in order:
        shown = "-" if np.isnan(accuracy[i]) else f"{100 * accuracy[i]:.2f}"
        print(f"  {_label(i, classes):<{width}}  {videos[i]:>6}  {shown:>8}")
    def write(path):
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["class", "name", "videos", "correct", "accuracy"])
            for i, (acc, count) in enumerate(zip(accuracy, videos)):
                correct = 0 if np.isnan(acc) else int(round(acc * count))
                writer.writerow([i, classes[i] if classes else i, int(count), correct,
                                 "" if np.isnan(acc) else f"{100 * acc:.4f}"])
    if out and write_beside(out, "per_class.csv", write):
        print(f"per-class accuracy written to {beside(out, 'per_class.csv')}")


def confusion_report(scores, labels, classes, out=None, title="confusion matrix"):
    """The confusion matrix (rows: true class, columns: predicted): printed up to `TABLE_CLASSES` classes; with
    ``out`` written to ``<out>_confusion_matrix.csv`` and ``.png`` (the PNG needs matplotlib, the course extra)."""
    from ..metrics import confusion_matrix
    scores = np.asarray(scores)
    matrix = confusion_matrix(scores.argmax(1), labels, num_classes=scores.shape[1])
    if len(matrix) <= TABLE_CLASSES:
        rows = [_label(i, classes) for i in range(len(matrix))]
        width, cell = max(map(len, rows + [CORNER])), max(3, len(str(matrix.max())))
        print(f"confusion matrix (rows: true class, columns: predicted class):\n  {CORNER:<{width}}  " +
              " ".join(f"{j:>{cell}}" for j in range(len(matrix))))
        for row, counts in zip(rows, matrix):
            print(f"  {row:<{width}}  " + " ".join(f"{c:>{cell}}" for c in counts))
    elif not out:
        print(f"confusion matrix: {len(matrix)} classes are too many to print; --out writes it as CSV and PNG")
    if not out:
        return
    names = classes or [str(i) for i in range(len(matrix))]

    def write(path):
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([CORNER] + list(names))
            writer.writerows([name] + [int(c) for c in counts] for name, counts in zip(names, matrix))
    if write_beside(out, "confusion_matrix.csv", write):
        print(f"confusion matrix written to {beside(out, 'confusion_matrix.csv')}")
    try:
        from ..course.figures import confusion_figure
    except ImportError:  # the lean library install: no matplotlib
        print("(its PNG needs matplotlib: pip install 'tsnbook[course]')")
        return
    if write_beside(out, "confusion_matrix.png", lambda path: confusion_figure(scores, labels, names, title, path)):
        print(f"confusion matrix drawn in {beside(out, 'confusion_matrix.png')}")
