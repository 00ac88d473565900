"""Multi-Moments in Time (MMiT v1): Moments in Time's 3-second clips with *several* labels each, 313 classes
(http://moments.csail.mit.edu; MMAction2's `tools/data/mmit/README.md`).

Labels: ``trainingSet.txt`` / ``validationSet.txt`` are CSV rows ``<class>/<file>.mp4,<index>[,<index>...]`` - a
video's path and one or more 0-based indices into ``moments_categories.txt`` (313 ``name,index`` lines). The
folder is only where the file lives: the labels come from the row (a folder-derived label, MiT's rule, would keep
one of them). The lists hold every label (``dancing/yt-x_3.mp4 2 4 1``); MMAction2 reads them with
``multi_class=True, num_classes=313`` into a multi-hot vector, and the zoo row trains with BCE-with-logits scaled
by 160 (``loss_weight``) and reports ``mmit_mean_average_precision`` (AP per video, averaged over videos).

The layout this module reads and writes, MMAction2's (``tools/data/mmit/``)::

    ROOT/downloads/Multi_Moments_in_Time_Raw.zip                   (download: after registration, by hand)
    ROOT/annotations/moments_categories.txt, trainingSet.txt, validationSet.txt, README.txt, license.txt
    ROOT/videos/<class>/<file>.mp4                                 (extract: train and val in one tree)
    ROOT/rawframes/<class>/<file>/img_00001.jpg ...                (extract --frames rgb: optional)
    ROOT/mmit_{train,val}_list_{videos,rawframes}.txt              (lists; paths relative to videos/)

**.txt or .csv.** The official annotation files are ``trainingSet.txt`` / ``validationSet.txt``; MMAction2's
``parse_mmit_splits`` opens ``trainingSet.csv`` / ``validationSet.csv``, so its users rename them. Either name is
read here (the ``.txt`` first); both present with different contents is an error.

**MMAction2's script quirks**: ``preprocess_data.sh`` unzips ``Multi_Moments_in_Time_Raw.zip`` and then removes
``Multi_Moments_in_Time.zip`` (two names for one file: both are accepted here); its README's tree shows frame
folders at level 1 while its scripts extract them at level 2 (``rawframes/<class>/<file>``, what the list keys
need: used here); the zoo config's ``data_root_val`` is the absolute ``'/data/mmit/videos'`` (tsnbook's config
uses the relative folder). The archive's inner layout (``videos/<class>/`` next to the annotation files) is the
one MMAction2's scripts imply; it was not checked against a real copy.

Where tsnbook differs from MMAction2 0.24.1's ``build_file_list.py``: `listing`'s differences (among them, a
rawframes list names each video once; MMAction2's multi-label branch writes it twice), and a row with no label, a
label that is not a category index, a malformed or repeated row is a one-line error naming ``file:line``
(MMAction2: a ValueError without a line, or the bad index written as it is).
"""
import sys
from pathlib import Path

import cv2
import numpy as np

from .. import flow
from . import archives, listing, mit, replica as _replica
from .files import AnnotationError, DatasetError, read_lines
from .items import Item, ListedOnce, Subset, class_and_key, csv_row
from .steps import Dataset

NAME = "mmit"
HOME = mit.HOME
ARCHIVES = ("Multi_Moments_in_Time_Raw.zip", "Multi_Moments_in_Time.zip")  # MMAction2's script names both
REGISTRATION = (f"{HOME}: fill in the request form (the one for Moments in Time); the download link you are sent "
                f"gets {ARCHIVES[0]} (also called {ARCHIVES[1]})")
NUM_CLASSES = 313  # label map: annotations/moments_categories.txt, "name,index" with 0-based indices
CATEGORIES = mit.CATEGORIES
TITLE, CLASSES_FILE, CLASS_COUNT_NOTE = "MMiT", f"annotations/{CATEGORIES}", "a replica or another file"
SPLIT_FILES = {"train": ("trainingSet.txt", "trainingSet.csv"),  # (official, MMAction2's name)
               "val": ("validationSet.txt", "validationSet.csv")}
SUBSETS = ("train", "val")  # MMAction2's names: "val" is the official validation set
PUBLISHED = {"train": None, "val": None}  # about 1.02 M videos with 2 M labels in all (the paper); splits unknown
MMACTION2 = {}
CLIP_SECONDS = mit.CLIP_SECONDS
CONTAINER = mit.CONTAINER
LEVEL = 2  # ROOT/videos/<class>/<file>.mp4
VIDEO_EXT = ".mp4"
FRAME_TMPL, START_INDEX = flow.RGB_TEMPLATE, 1
MULTI_LABEL = True
DEFAULT_FRAMES = "none"  # the zoo's row reads the videos
ROOT_ENTRIES = ("annotations", "videos", "rawframes", "downloads")
VIDEO_FOLDERS = {"videos": "rawframes"}
#: class folders are not checked against the categories: MMiT's files may sit in folders of MiT's classes
STYLE, STRAYS, CLASS_FOLDERS = listing.SUBSETS, "in no line of the training or validation set", False


def list_name(subset, kind):
    """MMAction2's list name, e.g. ``mmit_train_list_videos.txt`` (subset "train" / "val")."""
    return f"{NAME}_{subset}_list_{kind}.txt"


def looks_inside(folder):
    """What a folder *inside* an MMiT root looks like, to refuse it as a root (`files.check_level`)."""
    if (folder / CATEGORIES).exists():
        return None if (folder / "videos").is_dir() else "the annotations folder (ROOT/annotations)"
    if any(folder.glob("*/*.mp4")):
        return "the videos folder (ROOT/videos)"
    if any(folder.glob("*/*/img_*")):
        return "the frames folder (ROOT/rawframes)"
    if folder.name == "downloads" and any((folder / a).exists() for a in ARCHIVES):
        return "the downloads folder (ROOT/downloads)"
    return None


# ----------------------------------------------------------------------------------------------- annotations
def split_file(root, subset):
    """The annotation file of ``subset``: the official ``.txt``, or MMAction2's ``.csv`` name when only that is
    there; both with different contents, or neither, is an `AnnotationError`."""
    folder = Path(root) / "annotations"
    official, renamed = (folder / name for name in SPLIT_FILES[subset])
    if official.is_file() and renamed.is_file() and official.read_bytes() != renamed.read_bytes():
        raise AnnotationError(f"{official}: differs from {renamed.name} next to it (MMAction2's name for it): "
                              f"two releases? keep one of them")
    if official.is_file() or not renamed.is_file():
        return official  # read_lines names a missing official file
    return renamed


def read_split(root, subset, num_classes):
    """The `items.Item`s of a split file; labels = the row's indices (a tuple, in the row's order)."""
    path = split_file(root, subset)
    expected = "'class/file.mp4,index[,index...]'"
    fix = mit.annotation_fix(NAME)
    items, once = [], ListedOnce()
    for number, text in read_lines(path, fix=fix):
        where = f"{path}:{number}"
        row = csv_row(text, where, fix)
        if len(row) < 2 or not all(field.strip().isdigit() for field in row[1:]):
            raise AnnotationError(f"{where}: expected {expected} (one or more 0-based labels), got {text!r:.100}"
                                  + ("; a header line? the official files have none: remove it" if number == 1 and
                                     not row[0].lower().endswith(VIDEO_EXT) else f"; {fix}"))
        _, key = class_and_key(row[0], where, fix, expected)
        labels = tuple(int(field) for field in row[1:])
        wrong = [label for label in labels if label >= num_classes]
        if wrong:
            raise AnnotationError(f"{where}: label {wrong[0]} is not an index of {CATEGORIES} (0..{num_classes - 1}); "
                                  f"the annotations and the categories come from different releases? {fix}")
        once.add(key, where, row[0], f"at line {number}")
        items.append(Item(key, labels, where))
    return items


def read_annotations(root):
    """(classes, {subset: [Item, ...]}); `AnnotationError` on any bad line."""
    classes = mit.read_classes(root, NAME)
    return classes, {subset: read_split(root, subset, len(classes)) for subset in SUBSETS}


def subsets(root, annotations):
    """train and val: one tree of videos (and frames) for both."""
    return [Subset(subset, items, split_file(root, subset), root / "videos", root / "rawframes", LEVEL,
                   {kind: root / list_name(subset, kind) for kind in ("videos", "rawframes")},
                   published=PUBLISHED[subset])
            for subset, items in annotations[1].items()]


# ----------------------------------------------------------------------------------------------------- steps
def extracted(root):
    """Whether the download step has nothing to do (the archive, behind a registration, is fetched by hand)."""
    annotations = Path(root) / "annotations"
    return (Path(root) / "videos").is_dir() and (annotations / CATEGORIES).is_file() and \
        all(any((annotations / name).is_file() for name in SPLIT_FILES[s]) for s in SUBSETS)


def extract_archives(root, report):
    """Unzip the archive (via a hidden staging folder): ``videos/`` into place, the annotation files into
    ``annotations/``; annotation files left directly in ROOT (unzipped by hand) are moved there. Each part is
    skipped when already done."""
    names = [CATEGORIES, "README.txt", "license.txt"] + [n for s in SUBSETS for n in SPLIT_FILES[s]]
    archives.adopt(root, report, {}, names)
    if extracted(root):
        report.did("videos and annotations skipped (present)")
        return
    archive = next((root / "downloads" / a for a in ARCHIVES if (root / "downloads" / a).is_file()),
                   root / "downloads" / ARCHIVES[0])
    archives.unpack_tree(root, report, archive, {"videos": "videos"}, [CATEGORIES])
    if not extracted(root):
        raise DatasetError(f"{archive}: lacks {' or '.join(SPLIT_FILES['train'])} / "
                           f"{' or '.join(SPLIT_FILES['val'])}; not the MMiT archive? download it again")


def check_videos(report, root, annotations, videos):
    mit.check_durations(report, videos)


download, extract, build_lists, verify, merge_shards = Dataset(sys.modules[__name__]).steps()


# --------------------------------------------------------------------------------------------------- replica
REPLICA_CLASSES = ("adult+female+singing", "clapping", "dancing", "juggling", "playing+music")
REPLICA_TRAIN, REPLICA_VAL = 28, 32  # 32 val clips, so that a twin's mAP is more than noise


def _replica_plan(seed=2019):
    """``((class folder, labels, subset), ...)``: folders take the classes in turn; each clip has its folder's class
    and 0-2 more; in every seventh clip with more than one, the folder's class is not the first label."""
    rng = np.random.default_rng(seed)
    plan = []
    for i in range(REPLICA_TRAIN + REPLICA_VAL):
        folder = i % len(REPLICA_CLASSES)
        others = [c for c in range(len(REPLICA_CLASSES)) if c != folder]
        extra = [int(c) for c in rng.choice(others, size=int(rng.integers(0, 3)), replace=False)]
        labels = (extra[0], folder, *extra[1:]) if extra and i % 7 == 3 else (folder, *extra)
        plan.append((REPLICA_CLASSES[folder], labels, "train" if i < REPLICA_TRAIN else "val"))
    return tuple(plan)


#: The replica's clips as (class folder, labels, subset): 1-3 labels each (a fixed plan, whatever the seed).
REPLICA_PLAN = _replica_plan()
REPLICA_MISSING, REPLICA_CORRUPT = 9, 2  # rows of REPLICA_PLAN: not in the zip; cut at 60 % of its bytes
REPLICA_SIZE, REPLICA_FPS = (256, 256), 30


def _render(rng, num_frames, height, width, labels):
    """A clip with one large moving disc per label, in the label's colour (`replica.PALETTE`), the picture washed
    with the mean of those colours: several actions visible at once."""
    frames = _replica.render_clip(rng, num_frames, height, width, (128, 128, 128), (0, 0))
    colours = [_replica.PALETTE[label] for label in labels]
    frames = _replica.washed(frames, np.mean(colours, axis=0).astype(np.uint8))
    for label in labels:
        x, y = rng.uniform(0.25, 0.75) * width, rng.uniform(0.25, 0.75) * height
        dx, dy = rng.uniform(-2, 2, size=2)
        for t in range(num_frames):
            cv2.circle(frames[t], (int(x + dx * t) % width, int(y + dy * t) % height), height // 5,
                       _replica.PALETTE[label], -1)
    return frames


def make_replica(root, seed=0):
    """The real download in miniature: ``ROOT/downloads/Multi_Moments_in_Time_Raw.zip`` holding
    ``videos/<class>/<file>.mp4`` (3-s H.264 MP4, 256x256, 30 fps; one disc per label), ``trainingSet.txt`` /
    ``validationSet.txt`` (the official names: rows with 1-3 labels), ``moments_categories.txt`` (five real
    class names, two with '+'), ``README.txt`` and ``license.txt``.

    `REPLICA_PLAN` lists the clips (`REPLICA_TRAIN` train, `REPLICA_VAL` val; rows `REPLICA_MISSING` and
    `REPLICA_CORRUPT`: `replica.Clips`). Returns dict(files=[path], videos=[keys], missing=, corrupt=).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    rows = {"train": [], "val": []}
    clips = _replica.Clips(root / "downloads" / ".replica.mp4", REPLICA_MISSING, REPLICA_CORRUPT)
    width, height = REPLICA_SIZE
    for position, (folder, labels, subset) in enumerate(REPLICA_PLAN):
        stem = mit.replica_stem(rng, int(rng.integers(0, 3)))
        key = f"{folder}/{stem}"
        frames = _render(rng, CLIP_SECONDS * REPLICA_FPS, height, width, labels)
        rows[subset].append(f"{key}.mp4," + ",".join(str(label) for label in labels))
        clips.add(key, f"videos/{key}.mp4", frames, REPLICA_FPS, position, preset=_replica.X264_PRESET)
    archive = mit.write_replica_zip(root / "downloads" / ARCHIVES[0], NAME, REPLICA_CLASSES,
                                    {SPLIT_FILES[s][0]: rows[s] for s in SUBSETS}, clips.members)
    return dict(files=[archive], videos=clips.keys, **clips.roles)
