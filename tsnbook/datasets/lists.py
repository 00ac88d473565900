"""MMAction2's list files and label maps, written atomically.

Line formats, as MMAction2's VideoDataset / RawframeDataset read them (whitespace-separated, 0-based labels):

    videos               ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 0
    rawframes            ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01 164 0
    rawframes + offset   v_XXXXXXXXXXX 120 85 17            (frame_dir offset total_frames label)
    multi-label          path l1 l2 ...   /   frame_dir total_frames l1 l2 ...

0.x JSON lists (HVU) are ``[{"filename": ..., "label": ...}]`` or ``[{"frame_dir", "total_frames", "label"}]``.
Because MMAction2 splits lines on whitespace, a path with a space cannot be written: `check_path` refuses it
with the file it came from (Kinetics' class folders are renamed with ``_`` for this reason).
"""
import json

from .files import DatasetError, atomic_write


def check_path(path, where):
    """``path`` as a list-file token; a space, tab or newline in it is an error naming ``where``."""
    if not path or len(path.split()) != 1 or path.strip() != path:  # = any(c.isspace()), 20x faster
        raise DatasetError(f"{where}: {path!r} contains whitespace, which MMAction2's list files cannot hold "
                           "(they are split on whitespace); rename the file or folder (spaces -> '_')")
    return path


def _labels(labels):
    labels = [labels] if isinstance(labels, int) else list(labels)
    if not labels or any(not isinstance(v, int) or v < 0 for v in labels):
        raise ValueError(f"labels must be 0-based integers, got {labels!r}")
    return " ".join(str(v) for v in labels)


def video_line(path, labels):
    """``path l1 [l2 ...]``."""
    return f"{path} {_labels(labels)}"


def rawframes_line(frame_dir, total_frames, labels, offset=None):
    """``frame_dir total_frames l1 [l2 ...]``, or ``frame_dir offset total_frames l1 ...`` with an offset."""
    head = f"{frame_dir} {int(total_frames)}" if offset is None else f"{frame_dir} {int(offset)} {int(total_frames)}"
    return f"{head} {_labels(labels)}"


def write_list(path, lines):
    """Write list lines (one per item, newline-terminated, as MMAction2's tools do); returns the count."""
    lines = list(lines)
    atomic_write(path, "".join(line + "\n" for line in lines))
    return len(lines)


def write_json_list(path, items):
    """A 0.x JSON list (HVU); returns the count."""
    items = list(items)
    atomic_write(path, json.dumps(items))
    return len(items)


def write_label_map(path, names):
    """One class name per line, in label order (MMAction2's ``label_map_*.txt``)."""
    return write_list(path, names)


def read_label_map(path):
    """Class names in label order from a file written by `write_label_map`: `tsnbook.data.read_label_map`,
    the one reader of label maps (training, test and predict use it too)."""
    from ..data import read_label_map as read
    return read(path)
