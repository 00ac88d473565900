"""Something-Something V1: 108,499 clips of 174 object-interaction templates, shipped as JPEG frames
(https://developer.qualcomm.com/software/ai-datasets/something-something; MMAction2's `tools/data/sthv1/README.md`; the
family's shared facts: `tsnbook.datasets.something`).

The layout this module reads and writes, MMAction2's (``tools/data/sthv1/``)::

    ROOT/downloads/20bn-something-something-v1-00, -01, ...                 (registration: put there by hand)
    ROOT/downloads/something-something-v1-{labels,train,validation,test}.csv
    ROOT/annotations/something-something-v1-*.csv                          (extract: copied)
    ROOT/rawframes/<id>/00001.jpg ...   (extract: cat parts | tar zx; the tarball's folder becomes rawframes/)
    ROOT/videos/<id>.mp4                (optional: MMAction2's encode_videos.sh; listed when present)
    ROOT/sthv1_{train,val}_list_rawframes.txt   ("1 37 12": id, frames, label)   (lists)
    ROOT/sthv1_{train,val}_list_videos.txt      ("1.mp4 12", only when ROOT/videos exists)

The frames are the data: ``00001.jpg`` ... with no prefix, numbered from 1, 100 px high, about 12 per second, so
the zoo's configs read ``filename_tmpl='{:05}.jpg'``, ``start_index=1`` and enlarge the frames to a short side
of 256. The label of a template is its line number (from 0) in ``something-something-v1-labels.csv``, which is
not alphabetical. TSM-style scripts sort the templates instead, so their label ids (and checkpoints) differ from
MMAction2's. The train and validation CSVs are ``id;template``; the test CSV has ids only (labels withheld).

Where tsnbook differs from MMAction2 0.24.1's ``build_file_list.py sthv1 --rgb-prefix '0'``:
- `listing`'s differences: MMAction2 counts the files whose names start with ``0``, so a folder with a gap, or
  whose last JPEG an interrupted extraction or copy cut, is counted whole; tsnbook counts ``{:05d}.jpg`` from 1;
- ``--subset test`` does not work in MMAction2 (its test items are bare strings, so ``item[0]`` is the id's
  first character); tsnbook writes no test list (a label is required by the list formats) but counts and
  checks the test folders.
"""
import sys
from pathlib import Path

import numpy as np

from . import archives, listing, replica as _replica, something
from .files import AnnotationError, DatasetError, atomic_write, read_lines
from .items import Item, ListedOnce
from .steps import Dataset

NAME = "sthv1"
HOME = something.HOME
REGISTRATION = something.REGISTRATION
PARTS_PREFIX = "20bn-something-something-v1-"
NUM_PARTS = None  # not re-checked here: every part found from -00 on, with no gap, is used
ARCHIVE_FOLDER = "20bn-something-something-v1"  # the tarball's folder, renamed to rawframes/
ANNOTATIONS = {"labels": "something-something-v1-labels.csv", "train": "something-something-v1-train.csv",
               "val": "something-something-v1-validation.csv", "test": "something-something-v1-test.csv"}
NUM_CLASSES, SUBSETS, STYLE = something.NUM_CLASSES, something.SUBSETS, something.STYLE  # label: labels CSV line
PUBLISHED = {"train": 86017, "val": 11522, "test": 10960}  # (◇, from the dataset's paper and pages)
MMACTION2 = {}  # MMAction2 published no V1 lists
NUM_VIDEOS = 108499
CONTAINER = "JPEG frames 00001.jpg ... (from 1), height 100 px, about 12 frames per second"
LEVEL = 1  # ROOT/rawframes/<id>/
VIDEO_EXT = ".mp4"  # MMAction2's encode_videos.sh (mpeg4, 12 fps)
ROOT_ENTRIES = ("annotations", "rawframes", "downloads", ARCHIVE_FOLDER)
#: what a folder inside ROOT holds, to refuse it as the root (`steps.Dataset.looks_inside`)
INSIDE = (("annotations/", ANNOTATIONS["labels"]), ("rawframes", "*/00001.jpg"), ("downloads/", PARTS_PREFIX + "??"))
VIDEO_FOLDERS = {}  # the frames ship with the dataset: nothing to extract them from
FRAME_TMPL, START_INDEX = "{:05d}.jpg", 1  # what the zoo's V1 rows read
MULTI_LABEL = False
DEFAULT_FRAMES = "rgb"  # the frames ship with the dataset: nothing to compute


def list_name(subset, kind):
    """MMAction2's list name, e.g. ``sthv1_train_list_rawframes.txt`` (subset "train" / "val")."""
    return f"{NAME}_{subset}_list_{kind}.txt"


# ----------------------------------------------------------------------------------------------- annotations
def read_classes(root):
    """The 174 templates in label order: the lines of the labels CSV (a template listed twice is an error)."""
    path = Path(root) / "annotations" / ANNOTATIONS["labels"]
    classes, once = [], ListedOnce()
    for number, text in read_lines(path, fix=something.annotation_fix(NAME, ANNOTATIONS["labels"])):
        once.add(text, f"{path}:{number}", f"template {text!r}", f"at line {number}",
                 "duplicate class; copy the labels CSV again")
        classes.append(text)
    return classes


def read_subset(root, subset, classes):
    """The `items.Item`s of the train / val CSV (``id;template``) or of the test CSV (ids only, label None)."""
    path = Path(root) / "annotations" / ANNOTATIONS[subset]
    index = {name: label for label, name in enumerate(classes)}
    items, once = [], ListedOnce()
    for number, text in read_lines(path, fix=something.annotation_fix(NAME, ANNOTATIONS[subset])):
        where = f"{path}:{number}"
        video, sep, template = text.partition(";")
        if not video.isdigit() or (subset == "test") == bool(sep):
            expected = "'id'" if subset == "test" else "'id;template'"
            raise AnnotationError(f"{where}: expected {expected}, got {text!r} (a line cut short, or another "
                                  "file?); copy the annotation files again")
        if subset != "test" and template not in index:
            raise AnnotationError(f"{where}: template {template!r} is not in {ANNOTATIONS['labels']} (unknown class: "
                                  "a line cut short, or files of different releases); copy the annotations again")
        once.add(video, where, f"id {video}", f"at line {number}")
        items.append(Item(video, None if subset == "test" else index[template], where))
    return items


def read_annotations(root):
    """(classes, {"train": [Item], "val": [Item], "test": [Item] (label None)}); no test CSV: an empty test set."""
    return something.read_annotations(root, ANNOTATIONS, read_classes, read_subset)


def subsets(root, annotations, videos=None):
    """The train, val (and test) subsets; from the frames alone, or with ``videos`` (re-encoded ones)."""
    return something.subsets(root, annotations, ANNOTATIONS, PUBLISHED, list_name, videos, LEVEL, VIDEO_EXT)


# ----------------------------------------------------------------------------------------------------- steps
def fetch_downloads(root, report, mirror, progress):
    """Behind a registration: check that the parts and the four CSVs are in ``ROOT/downloads`` (the error lists
    what is missing and where to get it), or fetch them from ``--mirror``; skipped when already extracted."""
    something.fetch_downloads(root, report, mirror, progress, "rawframes", ANNOTATIONS, PARTS_PREFIX, NUM_PARTS,
                              "Something-Something V1")


def check_frame_options(root, frames, resolution):
    """The frames ship with the dataset (100 px high): extract takes ``--frames`` rgb or none at the original
    resolution; flow from frame folders is not part of tsnbook (the zoo has no V1 flow row; MMAction2's
    extract_flow.sh makes it)."""
    if frames not in ("rgb", "none") or resolution != "original":
        raise DatasetError(f"{root}: Something-Something V1 ships its frames (100 px high): extract takes "
                           f"--frames rgb or none at the original resolution, not --frames {frames} --resolution "
                           f"{resolution}; for flow from frames use MMAction2's tools/data/sthv1/extract_flow.sh")


def extract_archives(root, report):
    """Copy the CSVs into ``annotations/`` and unpack the split tarball (``cat parts | tar zx``, streamed, no
    joined copy) into ``rawframes/`` through a hidden staging folder renamed when complete."""
    something.copy_annotations(root, report, ANNOTATIONS)
    archives.unpack_folder(root, report, ARCHIVE_FOLDER, "rawframes", lambda: something.require_download(
        root / "downloads", (), PARTS_PREFIX, NUM_PARTS, "Something-Something V1"), "the V1 tarball", "frames",
        "frames")


def _videos(root):
    return root / "videos" if (root / "videos").is_dir() else None


def write_lists(report, root, annotations, frame_tmpl, start_index, work):
    """The rawframes lists from the frame folders alone, then videos lists when ``ROOT/videos`` holds re-encoded
    videos (MMAction2's encode_videos.sh)."""
    listing.write_lists(report, sys.modules[__name__], subsets(root, annotations), frame_tmpl, start_index, work,
                        ("rawframes",))
    if _videos(root):
        listing.write_lists(report, sys.modules[__name__], subsets(root, annotations, _videos(root)), frame_tmpl,
                            start_index, work, ("videos",))


def check_copy(report, root, annotations, frame_tmpl, start_index, work, deep):
    """The frame folders and rawframes lists, then the videos and their lists when ``ROOT/videos`` exists."""
    listing.check(report, sys.modules[__name__], subsets(root, annotations), frame_tmpl, start_index, work, deep,
                  ("rawframes",))
    if _videos(root):
        listing.check(report, sys.modules[__name__], subsets(root, annotations, _videos(root)), frame_tmpl,
                      start_index, work, deep, ("videos",))


def check_counts(report, root, annotations):
    something.check_counts(report, root, annotations, ANNOTATIONS, PUBLISHED, "a file cut short")


download, extract, build_lists, verify, merge_shards = Dataset(sys.modules[__name__]).steps()


# --------------------------------------------------------------------------------------------------- replica
REPLICA_CLASSES = ("Pushing something from right to left", "Holding something",
                   "Pushing something from left to right")  # labels CSV order: not alphabetical
#: (id, subset, class index): six folders on disk, and REPLICA_MISSING listed without one.
REPLICA_CLIPS = (("1", "train", 0), ("37", "train", 1), ("1024", "train", 2), ("5000", "train", 1),
                 ("20031", "val", 0), ("86017", "val", 2), ("100218", "test", 1))
REPLICA_MISSING = "5000"  # in the train CSV, no folder
REPLICA_CORRUPT = "86017"  # its last JPEG cut at 60 % of its bytes, as an interrupted extraction leaves it


def make_replica(root, seed=0):
    """The real download in miniature, into ``ROOT/downloads``: the tarball of
    ``20bn-something-something-v1/<id>/00001.jpg ...`` split into parts ``20bn-something-something-v1-00`` and
    ``-01``, and the four CSVs (``;``-separated train / validation, ids only in test).

    Three templates in a non-alphabetical order, including a left/right pair; six folders of 24-48 JPEGs,
    100 px high and 132-176 px wide, named by integer id; `REPLICA_MISSING` listed without a folder and
    `REPLICA_CORRUPT`'s last frame cut short, so that `verify` has something to find. Returns dict(files=[paths],
    videos=[ids], missing=, corrupt=).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    members, folders = [], [ARCHIVE_FOLDER]
    for video, subset, label in REPLICA_CLIPS:
        num_frames, width = int(rng.integers(24, 49)), int(rng.integers(132, 177))
        frames = something.render_motion(rng, REPLICA_CLASSES[label], num_frames, 100, width)
        if video == REPLICA_MISSING:
            continue
        folders.append(f"{ARCHIVE_FOLDER}/{video}")
        for number, frame in enumerate(frames, start=1):
            data = _replica.jpeg_bytes(frame)
            if video == REPLICA_CORRUPT and number == num_frames:
                data = _replica.cut_short(data)
            members.append((f"{ARCHIVE_FOLDER}/{video}/{FRAME_TMPL.format(number)}", data))
    files = _replica.write_parts(root / "downloads", PARTS_PREFIX, _replica.tgz_bytes(members, folders), 2)
    texts = {"labels": list(REPLICA_CLASSES),
             "train": [f"{v};{REPLICA_CLASSES[c]}" for v, s, c in REPLICA_CLIPS if s == "train"],
             "val": [f"{v};{REPLICA_CLASSES[c]}" for v, s, c in REPLICA_CLIPS if s == "val"],
             "test": [v for v, s, _ in REPLICA_CLIPS if s == "test"]}
    for key, lines in texts.items():
        files.append(atomic_write(root / "downloads" / ANNOTATIONS[key], _replica.text_file(lines)))
    return dict(files=files, videos=[v for v, _, _ in REPLICA_CLIPS], missing=REPLICA_MISSING,
                corrupt=REPLICA_CORRUPT)
