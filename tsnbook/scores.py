"""Per-video score files: tsnbook's ``.npz`` (scores, labels, names) and MMAction2's ``--out`` formats.

Score files are what the zoo's two-stream rows fuse (``python -m tsnbook fuse``): raw averaged logits per test
video, in the test list's order. MMAction2 0.x writes a pickled list of arrays (``tools/test.py --out``), 1.x a
pickled list of sample dicts holding torch tensors (``--dump``: ``pred_score``, ``gt_label``; 1.0 and 1.1 nest them
as ``item`` of ``pred_scores`` / ``gt_labels``); a pickle can name any function to call on loading, so it is read
with an unpickler that rebuilds arrays and tensors and nothing else.

A test runs for hours on a real dataset, so `check_out_path` vets the file it will write (its format, a folder
to write it in) before the test starts, and every kind of label can be written: one class per video, or a list
of classes per video (MMiT, HVU), kept in ``.npz`` as rows padded with -1 (an ``.npz`` holds no Python lists).
"""
import io
import json
import os
import pickle
import re
import tempfile
from pathlib import Path

import numpy as np

from .io import VIDEO_EXTENSIONS
from .texts import read_text, read_text_lines


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


def save_scores(path, scores, labels, names, average_clips="unknown"):
    """Per-video scores as ``.npz`` (``scores`` [N, C] float32, ``labels``, ``names``): no pickles needed.
    ``average_clips`` (the test's: "prob", "score" or None) is kept too, so that fusion can tell probabilities
    from logits (`score_scale`): softmax applied to probabilities again is MMAction2's fusion trap."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    scale = {} if average_clips == "unknown" else dict(average_clips=np.asarray(str(average_clips)))
    np.savez(tmp, scores=scores, labels=_label_array(labels), names=np.asarray(names, dtype=str), **scale)
    os.replace(tmp, path)


#: the arrays of a `save_scores` file: these three, and ``average_clips`` when the test's scale is known
SCORE_ARRAYS = ("scores", "labels", "names")


def is_score_file(path):
    """Whether ``path`` is a `save_scores` file (and so a test's output that ``train --force`` may remove): exactly
    `SCORE_ARRAYS`, with or without ``average_clips``. False for any other ``.npz`` or an unreadable file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return set(data.files) - {"average_clips"} == set(SCORE_ARRAYS)
    except (OSError, ValueError):
        return False


def score_scale(path):
    """"prob" when the file at ``path`` holds probabilities, "logits" when it holds scores before softmax, None
    when that is not known. A tsnbook ``.npz`` says which (the test's ``average_clips``). An older ``.npz``, a
    ``.pkl`` or a ``.json`` does not, though MMAction2 1.x's configs test with "prob" (0.x's with raw scores): one
    whose every row is a distribution (non-negative, summing to 1) is taken for "prob" - logits are never all
    that - and any other for None (`_check_scales` still keeps it apart from probabilities)."""
    return _scale(path)[0]


def _scale(path, scores=None):
    """``(scale, declared, rows)``: `score_scale`'s answer, what the file declares (None: nothing) and whether its
    rows are distributions (`_distributions`; None when the file declares its scale). ``scores``: the file's, when
    already read; else they are read only if the file does not declare its scale."""
    declared = _declared_scale(path)
    if declared:
        return declared, declared, None
    rows = _distributions(_read_named(path)[0] if scores is None else scores)
    return ("prob" if rows is True else None), None, rows


def _declared_scale(path):
    """What a tsnbook ``.npz`` records ("prob" or "logits"), None for any other file."""
    if Path(path).suffix != ".npz":
        return None
    with np.load(path, allow_pickle=False) as data:
        if "average_clips" in data:
            return "prob" if str(data["average_clips"]) == "prob" else "logits"
    return None


def _distributions(scores):
    """True when every scored row (rows of NaN: videos left out) is a distribution, False when one is not, None
    when no row is scored."""
    rows = scores[~np.isnan(scores).any(axis=1)]
    if not len(rows):
        return None
    return bool((rows >= 0).all() and np.allclose(rows.sum(axis=1), 1, atol=1e-3))


def load_scores(path):
    """(scores, labels, names) from `save_scores`; multi-label videos' labels come back as lists."""
    with np.load(path, allow_pickle=False) as data:
        labels = data["labels"]
        if labels.ndim == 2:
            labels = [row[row != NO_LABEL].tolist() for row in labels]
        return data["scores"], labels, list(data["names"])


def write_scores(path, scores, labels, names=None, average_clips="unknown"):
    """Per-video scores in the format the suffix names: ``.pkl`` MMAction2's ``--out`` (a pickled list of
    per-video float32 arrays), ``.json`` a list of lists, ``.npz`` `save_scores` (with labels and ``names``, the
    videos' paths as the test list gives them; their positions "0", "1", ... when None; and ``average_clips``).
    MMAction2's two formats hold scores alone, as its tools read them. A video the test skipped is a row of NaN
    (null in ``.json``)."""
    path, scores = Path(path), np.asarray(scores, dtype=np.float32)
    if path.suffix == ".npz":
        return save_scores(path, scores, labels, [str(i) for i in range(len(labels))] if names is None else names,
                           average_clips)
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".pkl":
        with open(tmp, "wb") as f:
            pickle.dump(list(scores), f)
    elif path.suffix == ".json":  # a skipped video's NaN row as null: NaN is no JSON word
        tmp.write_text(json.dumps(np.where(np.isnan(scores), None, scores).tolist(), allow_nan=False))
    else:
        raise ValueError(f"{path}: score files end with {', '.join(FORMATS)}")
    os.replace(tmp, path)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles lists of numpy arrays or of dicts of torch tensors, and nothing else: a pickle may name any function
    to call on loading, so only the reconstructors of arrays and tensors are let through (a tensor's storage is read
    by ``torch.load`` with ``weights_only``, not by pickle's own ``torch.storage._load_from_bytes``, which is not)."""
    ALLOWED = {(module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
               for name in ("_reconstruct", "scalar")} | {
              (module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")} | {
              ("numpy", "ndarray"), ("numpy", "dtype"), ("torch._utils", "_rebuild_tensor_v2"),
              ("collections", "OrderedDict"), ("_codecs", "encode")}  # encode: protocol 2 pickles bytes with it

    def find_class(self, module, name):
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _storage_weights_only
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a score pickle holds arrays and tensors "
                                     f"only")


def _storage_weights_only(data):
    import torch  # only for MMAction2 1.x dumps; the rest of this module needs no torch
    return torch.load(io.BytesIO(data), weights_only=True)


def _from_samples(loaded):
    """``(scores, labels or None)`` of MMAction2 1.x's ``--dump`` (sample dicts: ``pred_score``, ``gt_label``; 1.0
    and 1.1 held them in LabelData, dumped as ``pred_scores: {item: ...}``, ``gt_labels: {item: ...}``); anything
    else comes back as it is, with no labels."""
    if not (isinstance(loaded, list) and loaded and all(isinstance(s, dict) for s in loaded)):
        return loaded, None
    loaded = [_item_fields(_plain(s)) for s in loaded]
    if not all("pred_score" in s for s in loaded):
        raise ValueError("a list of dicts without 'pred_score' (MMAction2 1.x's --dump holds one per video; 1.0 "
                         "and 1.1 'pred_scores' with its 'item')")
    scores = [np.asarray(s["pred_score"], dtype=np.float32).reshape(-1) for s in loaded]
    labels = [np.asarray(s.get("gt_label", [])).reshape(-1) for s in loaded]
    single = all(len(label) == 1 for label in labels)
    return scores, [int(label[0]) for label in labels] if single else None


def _plain(mapping):
    """A pickled dict's items as a plain dict, read through the type's own method: a pickle can set instance
    attributes (``get``, ``keys``) that Python would call before the type's."""
    return {key: _plain(value) if isinstance(value, dict) else value for key, value in dict.items(mapping)}


def _item_fields(sample):
    """A 1.0 / 1.1 sample's LabelData fields (``pred_scores['item']``, ``gt_labels['item']``) under 1.2's names."""
    older = {new: sample[old]["item"] for old, new in (("pred_scores", "pred_score"), ("gt_labels", "gt_label"))
             if new not in sample and isinstance(sample.get(old), dict) and "item" in sample[old]}
    return dict(sample, **older)


def read_scores(path):
    """``(scores [N, C], labels or None)`` from a ``.npz`` (`save_scores`), ``.json`` (a list of per-video score
    lists) or MMAction2 ``.pkl`` file (0.x ``tools/test.py --out``: per-video arrays; 1.x ``--dump``: sample dicts,
    with their ``gt_label``). Pickles are read with an unpickler that only rebuilds arrays and tensors, never
    arbitrary objects. A file that is none of these (cut short, empty, another program's) is a ValueError naming it."""
    scores, labels, _ = _read_named(path)
    return scores, labels


def _read_named(path):
    """``(scores, labels or None, names or None)``: `read_scores` with the videos' names of an ``.npz``."""
    path = Path(path)
    try:
        if path.suffix == ".npz":
            scores, labels, names = load_scores(path)
        elif path.suffix == ".json":
            scores, labels, names = json.loads(read_text(path, "score file")), None, None
        elif path.suffix == ".pkl":
            (scores, labels), names = _from_samples(_ArrayUnpickler(io.BytesIO(path.read_bytes())).load()), None
        else:
            raise ValueError("unknown suffix")
        scores = np.asarray(scores, dtype=np.float32)
        if scores.ndim != 2:
            raise ValueError(f"expected one score vector per video, got an array of shape {scores.shape}")
    except FileNotFoundError:
        raise
    except Exception as err:
        raise ValueError(f"{path} is not a score file tsnbook can read ({type(err).__name__}: {err}); expected .npz "
                         f"(tsnbook test --out), .json (a list of per-video score lists) or .pkl (MMAction2's "
                         f"tools/test.py --out or --dump: a list of arrays or of sample dicts)") from None
    return scores, labels, names


# ----------------------------------------------------------------------------------------------- fusion inputs
_CONTAINER = re.compile(r"\.(" + "|".join(ext.lstrip(".") for ext in VIDEO_EXTENSIONS) + r")(?=(@\d+)?$)",
                        re.IGNORECASE)
_OFFSET = re.compile(r"^(.*)@(\d+)$")


def _video_key(name):
    """A video's name as every stream's list spells it: an RGB list names ``x.mp4``, a flow list the frame folder
    ``x`` (a clip's ``@offset`` stays: `_same_video` compares it)."""
    return _CONTAINER.sub("", name)


def _same_video(a, b):
    """Whether keys ``a`` and ``b`` name one video (or one clip of it): equal, or clips of one video whose offsets
    differ by a frame - a flow list of clips may start each clip a frame earlier than the RGB list, since a video
    has one flow frame less than frames."""
    if a == b:
        return True
    clip_a, clip_b = _OFFSET.match(a), _OFFSET.match(b)
    return bool(clip_a and clip_b and clip_a[1] == clip_b[1] and abs(int(clip_a[2]) - int(clip_b[2])) <= 1)


def _named(path, names):
    """``(path, names)`` of an .npz's videos, or None where they are only positions ("0", "1", ...:
    `write_scores` without names) or the file has none (.json, .pkl)."""
    if names is None or names == [str(i) for i in range(len(names))]:
        return None
    return path, names


def read_datalist_labels(path):
    """``(labels, line numbers)`` of a test list as MMAction2's ``report_accuracy.py --datalist`` reads it: the
    last whitespace-separated field of each non-empty line, a class id. A line without one names its line."""
    labels, numbers = [], []
    for number, line in enumerate(read_text_lines(path, "--datalist"), start=1):
        if not line.strip():
            continue
        last = line.split()[-1]
        if not last.isdigit():
            raise ValueError(f"{path}:{number}: {line.strip()!r} ends in no class id; --datalist takes the test "
                             f"list the scores were made from, its label last on every line")
        labels.append(int(last))
        numbers.append(number)
    return np.asarray(labels, dtype=np.int64), numbers


def _first_difference(a, b):
    return next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)


def _check_shapes(paths, loaded):
    """Every file scores as many videos and classes as the first, each with one label (if it has labels)."""
    first, scores0 = paths[0], loaded[0][0]
    for path, (scores, labels, _) in zip(paths, loaded):
        if len(scores) != len(scores0):
            raise ValueError(f"{first} has {len(scores0)} videos but {path} {len(scores)}: the score files must come "
                             "from the same test list, in the same order")
        if scores.shape[1] != scores0.shape[1]:
            raise ValueError(f"{path} scores {scores.shape[1]} classes but {first} {scores0.shape[1]}: models "
                             "trained on other class lists cannot be fused")
        if labels is not None and any(isinstance(label, list) for label in labels):
            raise ValueError(f"{path} holds several labels per video (a multi-label test): fuse reports "
                             "single-label accuracy (top-k, mean class)")


def _check_names(paths, loaded):
    """The named files name the same videos, in the same order (`_video_key`, `_same_video`)."""
    named = [found for found in (_named(path, names) for path, (_, _, names) in zip(paths, loaded)) if found]
    for path, names in named[1:]:
        first, first_names = named[0]
        parted = (i for i, (a, b) in enumerate(zip(first_names, names))
                  if not _same_video(_video_key(a), _video_key(b)))
        i = next(parted, None)
        if i is not None:
            raise ValueError(f"video {i + 1} of {first} is {first_names[i]} but {path} has {names[i]}: the score "
                             "files must come from the same test list, in the same order")


def _carried_labels(paths, loaded):
    """``(path, labels)`` of the first file that carries labels, once the others that do agree; None if none."""
    carried = [(path, np.asarray(labels)) for path, (_, labels, _) in zip(paths, loaded) if labels is not None]
    for path, labels in carried[1:]:
        if not np.array_equal(labels, carried[0][1]):
            i = _first_difference(carried[0][1], labels)
            raise ValueError(f"video {i + 1} has label {carried[0][1][i]} in {carried[0][0]} but {labels[i]} in "
                             f"{path}: the score files must come from the same test list, in the same order")
    return carried[0] if carried else None


def _check_datalist(datalist, labels, numbers, carried, scores0):
    """The datalist's labels (on lines ``numbers``) fit the scores (as many videos, known classes) and the labels
    the files carry."""
    if len(labels) != len(scores0):
        raise ValueError(f"{datalist} lists {len(labels)} videos but the score files {len(scores0)}: the score "
                         "files and the list must describe the same videos, in the same order")
    if carried is not None and not np.array_equal(labels, carried[1]):
        i = _first_difference(labels, carried[1])
        raise ValueError(f"{datalist}: video {i + 1} has label {labels[i]} there but {carried[1][i]} in "
                         f"{carried[0]}: another list than the one the scores were made from")
    beyond = np.flatnonzero(labels >= scores0.shape[1])
    if beyond.size:
        raise ValueError(f"{datalist}:{numbers[beyond[0]]}: label {labels[beyond[0]]} but the scores have "
                         f"{scores0.shape[1]} classes (0..{scores0.shape[1] - 1}): another dataset's list?")


def _check_scales(paths, loaded, apply_softmax):
    """Scores on one scale: probabilities are not turned into probabilities again, nor added to logits."""
    facts = [(path, *_scale(path, scores)) for path, (scores, _, _) in zip(paths, loaded)]
    probabilities = [(path, declared) for path, scale, declared, _ in facts if scale == "prob"]
    if probabilities and apply_softmax:
        path, declared = probabilities[0]
        why = "tested with --average-clips prob" if declared else "its rows sum to 1"
        raise ValueError(f"{path} holds probabilities ({why}): --apply-softmax would apply softmax to them twice; "
                         "fuse without it")
    logits = [path for path, scale, _, _ in facts if scale == "logits"]
    if probabilities and logits:
        raise ValueError(f"{probabilities[0][0]} holds probabilities but {logits[0]} scores before softmax: test "
                         "both with the same --average-clips")
    unknown = [path for path, scale, _, rows in facts if scale is None and rows is False]
    if probabilities and unknown:
        raise ValueError(f"{probabilities[0][0]} holds probabilities but the rows of {unknown[0]} are not "
                         "distributions (scores before softmax?): adding them mixes two scales; test both with the "
                         "same --average-clips")


def read_fusion_inputs(paths, datalist=None, apply_softmax=False):
    """``(streams, labels)``: the score arrays of ``paths`` (several models tested on one list) and the videos'
    class ids, once they are known to fit together; else a ValueError naming the files and the first video where
    they part.

    MMAction2's fusion trusts that its pickles list the same videos in the same order; they hold no names, so
    another list or order fuses silently. tsnbook's ``.npz`` files name their videos, so these are compared (an
    RGB list's ``x.mp4`` and a flow list's ``x`` are one video), and so are the class counts, the labels the
    files carry and those of ``datalist`` (`read_datalist_labels`, needed when no file carries labels, and
    checked to be classes the scores have). Fusion reports single-label accuracy: a multi-label file is refused.
    Files that say their scale (`score_scale`) must share it, and ``apply_softmax`` is refused for probabilities
    (MMAction2's report_accuracy.py applies softmax to whatever it is given).
    """
    paths = [Path(p) for p in paths]
    loaded = [_read_named(path) for path in paths]
    _check_shapes(paths, loaded)
    _check_scales(paths, loaded, apply_softmax)
    _check_names(paths, loaded)
    carried = _carried_labels(paths, loaded)
    streams = [scores for scores, _, _ in loaded]
    if datalist is None:
        if carried is None:
            raise ValueError("none of the score files carries labels (.json files and MMAction2 0.x's --out .pkl do "
                             "not; 1.x's --dump does): give the test list with --datalist LIST")
        return streams, carried[1]
    labels, numbers = read_datalist_labels(datalist)
    _check_datalist(datalist, labels, numbers, carried, streams[0])
    return streams, labels
