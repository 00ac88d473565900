"""Per-video score files: tsnbook's ``.npz`` (scores, labels, names) and MMAction2's ``--out`` formats.

Score files are what the zoo's two-stream rows fuse (``python -m tsnbook fuse``): raw averaged logits per test
video, in the test list's order. MMAction2 writes a pickled list of arrays; a pickle can name any function to call
on loading, so it is read with an unpickler that rebuilds numpy arrays and nothing else.

A test runs for hours on a real dataset, so `check_out_path` vets the file it will write (its format, a folder
to write it in) before the test starts, and every kind of label can be written: one class per video, or a list
of classes per video (MMiT, HVU), kept in ``.npz`` as rows padded with -1 (an ``.npz`` holds no Python lists).
"""
import io
import json
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np


FORMATS = (".pkl", ".json", ".npz")
NO_LABEL = -1  # pads the rows of multi-label videos in an .npz


def check_out_path(path):
    """Refuse, before a test runs, a score file it could not write: an unknown format, a folder, or a place where
    no file can be made (its missing folders are made, as MMAction2's tools/test.py does)."""
    path = Path(path)
    if path.suffix not in FORMATS:
        raise ValueError(f"--out {path}: the file name must end with {', '.join(FORMATS)}")
    if path.is_dir():
        raise ValueError(f"--out {path} is a folder: give a file name ending with {', '.join(FORMATS)}")
    existing = next(folder for folder in path.absolute().parents if folder.exists())
    if not existing.is_dir():
        raise ValueError(f"--out {path}: cannot write there, {existing} is a file; choose another place")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"):
            pass
    except OSError as err:
        raise ValueError(f"--out {path}: cannot write there ({err.strerror or err}); choose another place") from None


def _label_array(labels):
    """Class ids as an array: [N] for one label per video; [N, L] padded with `NO_LABEL` for lists of labels."""
    if not any(isinstance(label, (list, tuple, np.ndarray)) for label in labels):
        return np.asarray(labels)
    longest = max(len(label) for label in labels)
    rows = np.full((len(labels), longest), NO_LABEL, dtype=np.int64)
    for row, label in zip(rows, labels):
        row[:len(label)] = label
    return rows


def save_scores(path, scores, labels, names):
    """Per-video scores as ``.npz`` (``scores`` [N, C] float32, ``labels``, ``names``): no pickles needed."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, scores=scores, labels=_label_array(labels), names=np.asarray(names, dtype=str))
    os.replace(tmp, path)


def load_scores(path):
    """(scores, labels, names) from `save_scores`; multi-label videos' labels come back as lists."""
    with np.load(path, allow_pickle=False) as data:
        labels = data["labels"]
        if labels.ndim == 2:
            labels = [row[row != NO_LABEL].tolist() for row in labels]
        return data["scores"], labels, list(data["names"])


def write_scores(path, scores, labels, names=None):
    """Per-video scores in the format the suffix names: ``.pkl`` MMAction2's ``--out`` (a pickled list of
    per-video float32 arrays), ``.json`` a list of lists, ``.npz`` `save_scores` (with labels and ``names``, the
    videos' paths as the test list gives them; their positions "0", "1", ... when None). MMAction2's two formats
    hold scores alone, as its tools read them."""
    path, scores = Path(path), np.asarray(scores, dtype=np.float32)
    if path.suffix == ".npz":
        return save_scores(path, scores, labels, [str(i) for i in range(len(labels))] if names is None else names)
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".pkl":
        with open(tmp, "wb") as f:
            pickle.dump(list(scores), f)
    elif path.suffix == ".json":
        tmp.write_text(json.dumps(scores.tolist()))
    else:
        raise ValueError(f"{path}: score files end with {', '.join(FORMATS)}")
    os.replace(tmp, path)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles lists of numpy arrays and nothing else: a pickle may name any function to call on loading,
    so only numpy's array reconstructors are let through."""
    ALLOWED = {(module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
               for name in ("_reconstruct", "scalar")} | {
              (module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")} | {
              ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a score pickle holds numpy arrays only")


def read_scores(path):
    """``(scores [N, C], labels or None)`` from a ``.npz`` (`save_scores`), ``.json`` (a list of per-video score
    lists) or MMAction2 ``.pkl`` file (its ``tools/test.py --out``: a list of per-video arrays). Pickles are read
    with an unpickler that only rebuilds numpy arrays, never arbitrary objects."""
    path = Path(path)
    if path.suffix == ".npz":
        scores, labels, _ = load_scores(path)
        return scores, labels
    try:
        if path.suffix == ".json":
            rows = json.loads(path.read_text())
        elif path.suffix == ".pkl":
            rows = _ArrayUnpickler(io.BytesIO(path.read_bytes())).load()
        else:
            raise ValueError("unknown suffix")
        scores = np.asarray(rows, dtype=np.float32)
        if scores.ndim != 2:
            raise ValueError(f"expected one score vector per video, got an array of shape {scores.shape}")
    except FileNotFoundError:
        raise
    except Exception as err:
        raise ValueError(f"{path} is not a score file tsnbook can read ({type(err).__name__}: {err}); expected .npz "
                         f"(tsnbook test --out), .json (a list of per-video score lists) or .pkl (MMAction2's "
                         f"tools/test.py --out: a list of numpy arrays)") from None
    return scores, None
