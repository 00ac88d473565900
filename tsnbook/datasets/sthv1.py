"""Something-Something V1: 108,499 clips of 174 object-interaction templates, shipped as JPEG frames (spec
datasets.md §5; the family's shared facts: `tsnbook.datasets.something`).

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

Where tsnbook differs from MMAction2 0.24.1's ``build_file_list.py sthv1 --rgb-prefix '0'`` (the lines are
otherwise equal, tested against it on the replica):
- MMAction2 counts the files whose names start with ``0``. A folder whose last JPEG was cut by an interrupted
  extraction or copy is counted whole, and training then decodes a frame that is grey below the cut without
  an error. A folder with a gap (a frame missing) is counted too, and training later asks for the missing
  file. tsnbook counts ``{:05d}.jpg`` from 1, checks that the last frame is a whole JPEG, and reports and
  leaves out such folders;
- an id listed in a CSV without a folder is dropped, as there, but reported (MMAction2: silently);
- ``--subset test`` does not work in MMAction2 (its test items are bare strings, so ``item[0]`` is the id's
  first character); tsnbook writes no test list (a label is required by the list formats) but counts and
  checks the test folders;
- MMAction2's scripts pass ``--shuffle`` (unseeded); tsnbook keeps the CSVs' order.
"""
import os
import shutil
from pathlib import Path

import numpy as np

from . import archives, replica as _replica, something, splits as _splits
from .files import AnnotationError, DatasetError, atomic_write, check_level, read_lines
from .report import Report

NAME = "sthv1"
HOME = something.HOME
REGISTRATION = something.REGISTRATION
PARTS_PREFIX = "20bn-something-something-v1-"
NUM_PARTS = None  # not re-checked here: every part found from -00 on, with no gap, is used
ARCHIVE_FOLDER = "20bn-something-something-v1"  # the tarball's folder, renamed to rawframes/
ANNOTATIONS = {"labels": "something-something-v1-labels.csv", "train": "something-something-v1-train.csv",
               "val": "something-something-v1-validation.csv", "test": "something-something-v1-test.csv"}
NUM_CLASSES = 174  # label map: the labels CSV, one template per line, label = line index
SUBSETS = ("train", "val", "test")  # MMAction2's names; "val" is the official validation set
PUBLISHED = {"train": 86017, "val": 11522, "test": 10960}  # (◇, from the dataset's paper and pages)
MMACTION2 = {}  # MMAction2 published no V1 lists
NUM_VIDEOS = 108499
CONTAINER = "JPEG frames 00001.jpg ... (from 1), height 100 px, about 12 frames per second"
LEVEL = 1  # ROOT/rawframes/<id>/
VIDEO_EXT = ".mp4"  # MMAction2's encode_videos.sh (mpeg4, 12 fps)
FRAME_TMPL, START_INDEX = "{:05d}.jpg", 1  # what the zoo's V1 rows read
MULTI_LABEL = False
DEFAULT_FRAMES = "rgb"  # the frames ship with the dataset: nothing to compute


def list_name(subset, kind):
    """MMAction2's list name, e.g. ``sthv1_train_list_rawframes.txt`` (subset "train" / "val")."""
    return f"{NAME}_{subset}_list_{kind}.txt"


def _looks_inside(folder):
    if (folder / ANNOTATIONS["labels"]).exists() and folder.name == "annotations":
        return "the annotations folder (ROOT/annotations)"
    if any(folder.glob("*/00001.jpg")):
        return "the frames folder (ROOT/rawframes)"
    if folder.name == "downloads" and any(folder.glob(PARTS_PREFIX + "??")):
        return "the downloads folder (ROOT/downloads)"
    return None


def _root(root):
    return check_level(root, ("annotations", "rawframes", "downloads", ARCHIVE_FOLDER), _looks_inside)


# ----------------------------------------------------------------------------------------------- annotations
def _fix(what):
    return f"run prepare.py {NAME} extract (or copy {what} from the download into ROOT/annotations)"


def read_classes(root):
    """The 174 templates in label order: the lines of the labels CSV (a template listed twice is an error)."""
    path = Path(root) / "annotations" / ANNOTATIONS["labels"]
    classes, seen = [], {}
    for number, text in read_lines(path, fix=_fix(ANNOTATIONS["labels"])):
        if text in seen:
            raise AnnotationError(f"{path}:{number}: template {text!r} is listed twice (first at line {seen[text]}): "
                                  "duplicate class; copy the labels CSV again")
        seen[text] = number
        classes.append(text)
    return classes


def read_subset(root, subset, classes):
    """The `splits.Item`s of the train / val CSV (``id;template``) or of the test CSV (ids only, label None)."""
    path = Path(root) / "annotations" / ANNOTATIONS[subset]
    index = {name: label for label, name in enumerate(classes)}
    items, seen = [], {}
    for number, text in read_lines(path, fix=_fix(ANNOTATIONS[subset])):
        where = f"{path}:{number}"
        video, sep, template = text.partition(";")
        if not video.isdigit() or (subset == "test") == bool(sep):
            expected = "'id'" if subset == "test" else "'id;template'"
            raise AnnotationError(f"{where}: expected {expected}, got {text!r} (a line cut short, or another "
                                  "file?); copy the annotation files again")
        if subset != "test" and template not in index:
            raise AnnotationError(f"{where}: template {template!r} is not in {ANNOTATIONS['labels']} (unknown class: "
                                  "a line cut short, or files of different releases); copy the annotations again")
        if video in seen:
            raise AnnotationError(f"{where}: id {video} is listed twice (first at line {seen[video]}): duplicate id")
        seen[video] = number
        items.append(_splits.Item(video, None if subset == "test" else index[template], where))
    return items


def read_annotations(root):
    """(classes, {"train": [Item], "val": [Item], "test": [Item] (label None)}); no test CSV: an empty test set."""
    classes = read_classes(root)
    subsets = {s: read_subset(root, s, classes) for s in ("train", "val")}
    test = Path(root) / "annotations" / ANNOTATIONS["test"]
    subsets["test"] = read_subset(root, "test", classes) if test.is_file() else []
    return classes, subsets


def _lists(subsets):
    return {subset: dict(items=items, published=PUBLISHED[subset],
                         videos=list_name(subset, "videos") if subset != "test" else None,
                         rawframes=list_name(subset, "rawframes") if subset != "test" else None)
            for subset, items in subsets.items() if items or subset != "test"}


# ----------------------------------------------------------------------------------------------------- steps
def download(root, mirror=None, workers=None, progress=None):
    """Behind a registration: check that the parts and the four CSVs are in ``ROOT/downloads`` (the error lists
    what is missing and where to get it), or fetch them from ``--mirror``; skipped when already extracted."""
    root = _root(root)
    report = Report(NAME, "download", root)
    if (root / "rawframes").is_dir() and all((root / "annotations" / n).is_file() for n in ANNOTATIONS.values()):
        report.did("skipped (already extracted)")
        return report
    folder = root / "downloads"
    if mirror:
        something.fetch_from_mirror(mirror, folder, list(ANNOTATIONS.values()), PARTS_PREFIX, NUM_PARTS, report,
                                    progress)
    found = something.require_download(folder, ANNOTATIONS.values(), PARTS_PREFIX, NUM_PARTS,
                                       "Something-Something V1")
    report.did("found (downloaded by hand)", len(found) + len(ANNOTATIONS))
    return report


def extract(root, workers=None, frames=DEFAULT_FRAMES, resolution="original", **unused):
    """Copy the CSVs into ``annotations/`` and unpack the split tarball (``cat parts | tar zx``, streamed, no
    joined copy) into ``rawframes/`` through a hidden staging folder renamed when complete. The frames ship
    with the dataset, so ``frames`` may only be "rgb" or "none", at the original resolution; flow from frame
    folders is not part of tsnbook (the zoo has no V1 flow row; MMAction2's extract_flow.sh makes it)."""
    root = _root(root)
    if frames not in ("rgb", "none") or resolution != "original":
        raise DatasetError(f"{root}: Something-Something V1 ships its frames (100 px high): extract takes "
                           f"--frames rgb or none at the original resolution, not --frames {frames} --resolution "
                           f"{resolution}; for flow from frames use MMAction2's tools/data/sthv1/extract_flow.sh")
    report = Report(NAME, "extract", root)
    _copy_annotations(root, report)
    target = root / "rawframes"
    if target.is_dir():
        report.did("frames skipped (present)")
    elif (root / ARCHIVE_FOLDER).is_dir():  # unpacked by hand into ROOT
        os.replace(root / ARCHIVE_FOLDER, target)
        report.note(f"renamed {root / ARCHIVE_FOLDER} to {target}")
    else:
        found = something.parts(root / "downloads", PARTS_PREFIX, NUM_PARTS)
        if not found:
            something.require_download(root / "downloads", (), PARTS_PREFIX, NUM_PARTS, "Something-Something V1")
        stage = root / ".rawframes.partial"
        members = archives.extract(found, stage, report=report)
        if not (stage / ARCHIVE_FOLDER).is_dir():
            raise DatasetError(f"{found[0]}: no {ARCHIVE_FOLDER}/ folder inside; not the V1 tarball? download it "
                               "again")
        os.replace(stage / ARCHIVE_FOLDER, target)
        shutil.rmtree(stage)
        report.note(f"{len(members)} frames from {len(found)} parts -> {target}")
    return report


def _copy_annotations(root, report):
    copied = 0
    for name in ANNOTATIONS.values():
        target = root / "annotations" / name
        if target.is_file():
            continue
        source = root / "downloads" / name
        if not source.is_file():
            if name == ANNOTATIONS["test"]:
                continue  # optional: the test set is only counted
            raise AnnotationError(f"{target}: annotation file missing, and not in {root / 'downloads'} either; "
                                  f"{REGISTRATION}, download {name} into {root / 'downloads'}")
        atomic_write(target, source.read_bytes())
        copied += 1
    report.did("annotations copied" if copied else "annotations skipped (present)", max(copied, 1))


def _on_disk(root):
    return _splits.scan_videos(root / "videos", LEVEL) if (root / "videos").is_dir() else None


def build_lists(root, workers=None, frame_tmpl=FRAME_TMPL, start_index=START_INDEX):
    """Write ``sthv1_{train,val}_list_rawframes.txt`` from the CSVs and the frame folders (and the videos lists
    when ``ROOT/videos`` holds re-encoded videos). Missing or damaged folders are left out *and reported*."""
    root = _root(root)
    report = Report(NAME, "lists", root)
    classes, subsets = read_annotations(root)
    lists = _lists(subsets)
    _splits.write_lists(report, root, lists, None, frame_tmpl, start_index, workers, NAME, kinds=("rawframes",))
    videos = _on_disk(root)
    if videos is not None:
        _splits.write_lists(report, root, lists, videos, frame_tmpl, start_index, workers, NAME, VIDEO_EXT,
                            kinds=("videos",))
    _checks(report, root, classes, subsets)
    return report


def _checks(report, root, classes, subsets):
    if len(classes) != NUM_CLASSES:
        report.problem("count", root / "annotations" / ANNOTATIONS["labels"],
                       f"{len(classes)} classes where Something-Something has {NUM_CLASSES}: a replica, or a file "
                       "cut short", "warning")
    for subset, items in subsets.items():
        _splits.published_check(report, root / "annotations" / ANNOTATIONS[subset], subset, len(items),
                                PUBLISHED[subset], "the published set")
    if not (root / "annotations" / ANNOTATIONS["test"]).is_file():
        report.note(f"no {ANNOTATIONS['test']}: the test set is not counted")


def verify(root, workers=None, deep=False, frame_tmpl=FRAME_TMPL, start_index=START_INDEX):
    """Check the copy in ROOT: the CSVs, every listed frame folder (missing, frames named or numbered otherwise,
    a gap, a cut last JPEG), the test folders, and the list files against all of that (and the videos, when
    ``ROOT/videos`` exists). ``ok`` is False on any error."""
    root = _root(root)
    report = Report(NAME, "verify", root)
    try:
        classes, subsets = read_annotations(root)
    except AnnotationError as error:
        return report.unreadable_annotations(error)
    lists = _lists(subsets)
    _splits.verify_lists(report, root, lists, None, frame_tmpl, start_index, workers, deep, NAME,
                         kinds=("rawframes",))
    videos = _on_disk(root)
    if videos is not None:
        _splits.verify_lists(report, root, lists, videos, frame_tmpl, start_index, workers, deep, NAME, VIDEO_EXT,
                             kinds=("videos",))
    _checks(report, root, classes, subsets)
    return report


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
    `REPLICA_CORRUPT`'s last frame cut short, so that `verify` has something to find. Same bytes for the same
    seed on every machine. Returns dict(files=[paths], videos=[ids], missing=, corrupt=).
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
                data = data[:int(len(data) * 0.6)]
            members.append((f"{ARCHIVE_FOLDER}/{video}/{FRAME_TMPL.format(number)}", data))
    files = _replica.write_parts(root / "downloads", PARTS_PREFIX, _replica.tgz_bytes(members, folders), 2)
    texts = {"labels": list(REPLICA_CLASSES),
             "train": [f"{v};{REPLICA_CLASSES[c]}" for v, s, c in REPLICA_CLIPS if s == "train"],
             "val": [f"{v};{REPLICA_CLASSES[c]}" for v, s, c in REPLICA_CLIPS if s == "val"],
             "test": [v for v, s, _ in REPLICA_CLIPS if s == "test"]}
    for key, lines in texts.items():
        files.append(atomic_write(root / "downloads" / ANNOTATIONS[key], "".join(line + "\n" for line in lines)))
    return dict(files=files, videos=[v for v, _, _ in REPLICA_CLIPS], missing=REPLICA_MISSING,
                corrupt=REPLICA_CORRUPT)
