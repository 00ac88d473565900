"""Moments in Time (MiT v1): 3-second clips of 339 everyday actions, one label each (http://moments.csail.mit.edu;
MMAction2's `tools/data/mit/README.md`).

Labels: ``moments_categories.txt`` has a ``name,index`` line per class (0-based indices: MMAction2 uses them as
labels with 339 classes); a video's label is the index of its *class folder*. Ten class names hold ``+`` where
the words were (``adult+female+singing``): harmless in paths and list files, but text that goes through URL or
form decoding (``unquote_plus``) turns them into spaces, which a list file cannot hold, and ``+`` is a regular
expression operator.

The layout this module reads and writes, MMAction2's (``tools/data/mit/``)::

    ROOT/downloads/Moments_in_Time_Raw.zip                         (download: after registration, by hand)
    ROOT/annotations/moments_categories.txt, trainingSet.csv, validationSet.csv, README.txt, license.txt
    ROOT/videos/training/<class>/<file>.mp4                        (extract: from the zip's training/)
    ROOT/videos/validation/<class>/<file>.mp4                      (extract: from the zip's validation/)
    ROOT/rawframes/{training,validation}/<class>/<file>/img_00001.jpg ... (extract --frames rgb: optional)
    ROOT/mit_{train,val}_list_{videos,rawframes}.txt               (lists)

**Split-specific roots.** The train list's paths are relative to ``videos/training``, the val list's to
``videos/validation`` (``blocking/getty-karate-video-id635808620_4.mp4 1``), so a config needs two folders: the
zoo row's ``data_prefix`` and ``data_prefix_val`` (MMAction2's ``data_root`` / ``data_root_val``).

**The CSVs** have no header and four fields, ``filename,label,positive responses,negative responses``
(``blocking/getty-karate-video-id635808620_4.mp4,blocking,3,1``: the annotators' yes and no votes). A reader that
takes the first line for a header (``csv.DictReader``, ``pandas.read_csv`` by default) silently loses a video.

**MMAction2's script quirks**, handled here: ``preprocess_data.sh`` runs ``mv ./validation ./video`` (a typo), so
its users' validation videos sit in ``ROOT/video/``: `extract` moves them to ``videos/validation``;
``extract_frames.sh`` reads ``vides/validation`` (another typo: no validation frames or flow that way); the README
names the lists ``mit_train_video_anno.txt`` while ``build_file_list.py`` writes ``mit_train_list_videos.txt``
(what the configs read, and what `build_lists` writes); the zoo config's ``data_root_val`` is the absolute
``'/data/mit/videos/validation/'`` (tsnbook's config uses the relative folder).

Where tsnbook differs from MMAction2 0.24.1's ``build_file_list.py``: `listing`'s differences, and a CSV line
naming an unknown class, whose label column disagrees with its folder, or that is malformed or repeated, is a
one-line error naming ``file:line`` (MMAction2 takes the folder and ignores the label column; an unknown folder
is a KeyError).
"""
import sys
from pathlib import Path

import numpy as np

from .. import flow
from . import archives, download as _download, listing, replica as _replica
from .files import AnnotationError, read_lines
from .items import Item, ListedOnce, Subset, class_and_key, csv_row
from .steps import Dataset

NAME = "mit"
HOME = "http://moments.csail.mit.edu/"
ARCHIVE = "Moments_in_Time_Raw.zip"
REGISTRATION = (f"{HOME}: fill in the request form; the download link you are sent gets {ARCHIVE} (the raw "
                "videos, the one MMAction2 uses; not the Moments_in_Time_256x256_30fps variant)")
FILES = (_download.Remote(ARCHIVE, None, what="videos and annotations, after registration"),)
ARCHIVES = (ARCHIVE,)  # what the download step looks for in ROOT/downloads
NUM_CLASSES = 339  # label map: annotations/moments_categories.txt, "name,index" with 0-based indices
CATEGORIES = "moments_categories.txt"
TITLE, CLASSES_FILE, CLASS_COUNT_NOTE = "MiT", f"annotations/{CATEGORIES}", "a replica or another file"
SPLIT_FILES = {"train": "trainingSet.csv", "val": "validationSet.csv"}
SPLIT_FOLDERS = {"train": "training", "val": "validation"}  # in the zip, and under videos/ and rawframes/
SUBSETS = ("train", "val")  # MMAction2's names: "val" is the official validation set (there is no test set)
PUBLISHED = {"train": 802264, "val": 33900}  # the paper (val: 100 per class); not re-checked here
MMACTION2 = {}  # MMAction2 published no MiT lists
CLIP_SECONDS = 3
CONTAINER = "MP4 (H.264), 3-s clips; resolution and frame rate vary (not verified here)"
LEVEL = 2  # ROOT/videos/<split>/<class>/<file>.mp4
VIDEO_EXT = ".mp4"
FRAME_TMPL, START_INDEX = flow.RGB_TEMPLATE, 1
MULTI_LABEL = False
DEFAULT_FRAMES = "none"  # the zoo's row reads the videos
MMACTION2_TYPO_FOLDER = "video"  # where preprocess_data.sh's "mv ./validation ./video" leaves the validation set
ROOT_ENTRIES = ("annotations", "videos", "rawframes", "downloads", MMACTION2_TYPO_FOLDER)
VIDEO_FOLDERS = {f"videos/{folder}": f"rawframes/{folder}" for folder in SPLIT_FOLDERS.values()}
STYLE, STRAYS, CLASS_FOLDERS = listing.SUBSETS, "in no line of {annotation}", True


def list_name(subset, kind):
    """MMAction2's list name, e.g. ``mit_train_list_videos.txt`` (subset "train" / "val")."""
    return f"{NAME}_{subset}_list_{kind}.txt"


def annotation_files():
    return [CATEGORIES] + [SPLIT_FILES[s] for s in SUBSETS]


def looks_inside(folder):
    """What a folder *inside* a MiT root looks like, to refuse it as a root (`files.check_level`)."""
    if (folder / CATEGORIES).exists():
        # the zip unpacked by hand into ROOT holds training/ next to the annotation files: a root, then
        return None if (folder / SPLIT_FOLDERS["train"]).is_dir() else "the annotations folder (ROOT/annotations)"
    if any(folder.glob("training/*/*.mp4")) or any(folder.glob("validation/*/*.mp4")):
        return "the videos folder (ROOT/videos)"
    if any(folder.glob("training/*/*/img_*")) or any(folder.glob("validation/*/*/img_*")):
        return "the frames folder (ROOT/rawframes)"
    if any(folder.glob("*/*.mp4")):
        return "one split's videos folder (ROOT/videos/training or validation)"
    if folder.name == "downloads" and (folder / ARCHIVE).exists():
        return "the downloads folder (ROOT/downloads)"
    return None


# ----------------------------------------------------------------------------------------------- annotations
def annotation_fix(name):
    """What to do about a missing or bad annotation file of MiT or MMiT (dataset ``name``)."""
    return f"run prepare.py {name} extract (or unzip the annotations from the archive again)"


def read_classes(root, dataset=NAME):
    """Class names in label order from ``annotations/moments_categories.txt``, MiT's and MMiT's (``dataset``):
    ``name,index`` lines, indices running 0..N-1 in any line order."""
    path, fix = Path(root) / "annotations" / CATEGORIES, annotation_fix(dataset)
    index_of, line_of = {}, {}
    for number, text in read_lines(path, fix=fix):
        name, comma, digits = text.rpartition(",")
        if not comma or not name.strip() or not digits.strip().isdigit():
            raise AnnotationError(f"{path}:{number}: expected 'name,index', got {text!r:.80}; {fix}")
        name, index = name.strip(), int(digits)
        if name in index_of:
            raise AnnotationError(f"{path}:{number}: class {name!r} appears twice (first at line {line_of[name]}); "
                                  f"{fix}")
        if index in index_of.values():
            other = next(n for n, i in index_of.items() if i == index)
            raise AnnotationError(f"{path}:{number}: index {index} is also {other!r}'s (line {line_of[other]}); {fix}")
        index_of[name], line_of[name] = index, number
    if sorted(index_of.values()) != list(range(len(index_of))):
        raise AnnotationError(f"{path}: the indices run {min(index_of.values())}..{max(index_of.values())} with gaps "
                              f"or an offset; expected 0..{len(index_of) - 1} (0-based labels, as MMAction2 uses "
                              f"them); {fix}")
    return sorted(index_of, key=index_of.get)


def read_split(root, subset, classes):
    """The `items.Item`s of ``trainingSet.csv`` (subset "train") or ``validationSet.csv`` ("val"): label =
    the categories index of the line's class folder, which must also be its label column."""
    path = Path(root) / "annotations" / SPLIT_FILES[subset]
    index = {name: i for i, name in enumerate(classes)}
    expected = "'class/file.mp4,class,positive responses,negative responses' (4 fields, no header)"
    fix = annotation_fix(NAME)
    items, once = [], ListedOnce()
    for number, text in read_lines(path, fix=fix):
        where = f"{path}:{number}"
        row = csv_row(text, where, fix)
        if len(row) != 4 or not all(field.strip().isdigit() for field in row[2:]):
            header = number == 1 and not row[0].lower().endswith(VIDEO_EXT)
            raise AnnotationError(f"{where}: expected {expected}, got {text!r:.100}"
                                  + ("; a header line? the official files have none: remove it" if header else
                                     f"; {fix}"))
        folder, key = class_and_key(row[0], where, fix, expected)
        if folder not in index:
            raise AnnotationError(f"{where}: class folder {folder!r} is not in {CATEGORIES}; the CSV and the "
                                  f"categories come from different releases? {fix}")
        if row[1] != folder:
            raise AnnotationError(f"{where}: the label column says {row[1]!r}, the folder {folder!r}: a damaged or "
                                  f"edited file; {fix}")
        once.add(key, where, row[0], f"at line {number}")
        items.append(Item(key, index[folder], where))
    return items


def read_annotations(root):
    """(classes, {subset: [Item, ...]}); `AnnotationError` on any bad line."""
    classes = read_classes(root)
    return classes, {subset: read_split(root, subset, classes) for subset in SUBSETS}


def subsets(root, annotations):
    """train and val, each with its own videos and frames folder (``videos/training`` ...)."""
    return [Subset(subset, items, root / "annotations" / SPLIT_FILES[subset], root / "videos" / SPLIT_FOLDERS[subset],
                   root / "rawframes" / SPLIT_FOLDERS[subset], LEVEL,
                   {kind: root / list_name(subset, kind) for kind in ("videos", "rawframes")},
                   published=PUBLISHED[subset])
            for subset, items in annotations[1].items()]


# ----------------------------------------------------------------------------------------------------- steps
def extracted(root):
    """Whether the download step has nothing to do (MiT's archive, behind a registration, is fetched by hand)."""
    return all((root / "videos" / f).is_dir() for f in SPLIT_FOLDERS.values()) and \
        all((root / "annotations" / n).is_file() for n in annotation_files())


def extract_archives(root, report):
    """Unzip ``Moments_in_Time_Raw.zip`` (via a hidden staging folder): ``training/`` and ``validation/`` into
    ``videos/``, the CSVs and text files into ``annotations/``; a validation set that MMAction2's script left in
    ``ROOT/video`` (its typo) is moved to ``videos/validation``. Skipped when done."""
    folders = {MMACTION2_TYPO_FOLDER: "videos/validation", "training": "videos/training",
               "validation": "videos/validation"}
    archives.adopt(root, report, folders, annotation_files() + ["README.txt", "license.txt"])
    if extracted(root):
        report.did("videos and annotations skipped (present)")
    else:
        archives.unpack_tree(root, report, root / "downloads" / ARCHIVE,
                             {f: f"videos/{f}" for f in SPLIT_FOLDERS.values()}, annotation_files())


def check_annotations(report, root, annotations):
    if (root / MMACTION2_TYPO_FOLDER).is_dir():
        report.problem("stray", root / MMACTION2_TYPO_FOLDER, "MMAction2's preprocess_data.sh moved the validation "
                                                             f"set here (a typo): run prepare.py {NAME} extract")


def check_videos(report, root, annotations, videos):
    check_durations(report, videos)


download, extract, build_lists, verify, merge_shards = Dataset(sys.modules[__name__]).steps()


def check_durations(report, videos, seconds=CLIP_SECONDS, tolerance=0.5):
    """A warning per readable clip whose length is not ``seconds`` (within ``tolerance``)."""
    for verdict in videos.values():
        if verdict["frames"] and verdict["fps"] and verdict["kind"] is None:
            length = verdict["frames"] / verdict["fps"]
            if abs(length - seconds) > tolerance:
                report.problem("frame count", verdict["path"], f"{length:.2f} s where MiT's clips are {seconds} s: "
                                                               "another copy, or cut short", "warning")


# --------------------------------------------------------------------------------------------------- replica
REPLICA_CLASSES = ("adult+female+singing", "blocking", "juggling", "yawning")  # real names, one with '+'
REPLICA_TRAIN, REPLICA_VAL = 5, 10  # clips per class: 40 val clips, so that a twin's top-1 is more than noise
REPLICA_SIZE, REPLICA_FPS = (256, 256), 30  # and one clip at REPLICA_ODD
REPLICA_ODD = ("blocking", 1, (640, 360), 25)  # (class, train clip index, size, fps)
REPLICA_MISSING = ("juggling", 2)  # (class, train clip index): in the CSV, not in the zip
REPLICA_CORRUPT = ("yawning", 1)  # in the zip, cut at 60 % of its bytes
_ID = _replica.YOUTUBE_CHARS[:62]  # letters and digits


def replica_stem(rng, kind):
    """A file stem in one of MiT's styles: ``yt-<id>_<n>``, ``getty-<words>-video-id<digits>_<n>``, ``<id>_<n>``."""
    youtube = "".join(_ID[i] for i in rng.integers(0, len(_ID), size=11))
    youtube = youtube[:5] + "-_"[int(rng.integers(0, 2))] + youtube[6:]
    number = int(rng.integers(1, 300))
    if kind == 0:
        return f"yt-{youtube}_{number}"
    if kind == 1:
        words = ("karate", "street", "music", "studio", "beach")[int(rng.integers(0, 5))]
        return f"getty-{words}-video-id{int(rng.integers(10**8, 10**9))}_{number}"
    return f"{youtube}_{number}"


def make_replica(root, seed=0):
    """The real download in miniature: ``ROOT/downloads/Moments_in_Time_Raw.zip`` holding ``training/<class>/``
    and ``validation/<class>/`` (3-s H.264 MP4 at 256x256, 30 fps; one 640x360 25-fps clip), the headerless
    4-column CSVs, ``moments_categories.txt``, ``README.txt`` and ``license.txt``.

    Four real classes, one with ``+``; `REPLICA_TRAIN` train and `REPLICA_VAL` val clips per class with stems in
    MiT's styles (``yt-...``, ``getty-...``, YouTube ids that may begin with ``-`` or ``_``); each class has a
    colour (its disc, and the whole picture `replica.washed` with it), which a CPU-sized TSN learns in a minute.
    Returns dict(files=[path], videos=[keys], missing=key, corrupt=key (`replica.Clips`), odd=key).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    rows = {"train": [], "val": []}
    clips = _replica.Clips(root / "downloads" / ".replica.mp4", ("train",) + REPLICA_MISSING,
                           ("train",) + REPLICA_CORRUPT)
    for label, cls in enumerate(REPLICA_CLASSES):
        for subset, count in (("train", REPLICA_TRAIN), ("val", REPLICA_VAL)):
            for clip in range(count):
                stem = replica_stem(rng, int(rng.integers(0, 3)))
                key = f"{cls}/{stem}"
                (width, height), fps = REPLICA_SIZE, REPLICA_FPS
                if subset == "train" and (cls, clip) == REPLICA_ODD[:2]:
                    (width, height), fps = REPLICA_ODD[2:]
                    odd = key
                colour = _replica.PALETTE[label]
                frames = _replica.washed(_replica.render_clip(rng, CLIP_SECONDS * fps, height, width, colour,
                                                              rng.uniform(-3, 3, size=2)), colour)
                positive = int(rng.integers(1, 4))
                rows[subset].append(f"{cls}/{stem}.mp4,{cls},{positive},{int(rng.integers(0, 4 - positive))}")
                clips.add(key, f"{SPLIT_FOLDERS[subset]}/{key}.mp4", frames, fps, (subset, cls, clip),
                          preset=_replica.X264_PRESET)
    archive = write_replica_zip(root / "downloads" / ARCHIVE, NAME, REPLICA_CLASSES,
                                {SPLIT_FILES[s]: rows[s] for s in SUBSETS}, clips.members)
    return dict(files=[archive], videos=clips.keys, odd=odd, **clips.roles)


def write_replica_zip(path, name, classes, split_rows, members):
    """A replica zip of the MiT family (MiT's, Multi-MiT's): the categories file, the split files ({file name:
    rows}), a README and a licence file as the real archives have, then the video ``members``."""
    readme = (f"{name} replica written by tsnbook (tsnbook.datasets.{name}.make_replica): the layout of the real "
              "archive in miniature; the videos are generated, not the dataset's.\n")
    texts = [(CATEGORIES, _replica.text_file(f"{c},{i}" for i, c in enumerate(classes))),
             *((file, _replica.text_file(rows)) for file, rows in split_rows.items()),
             ("README.txt", readme.encode()),
             ("license.txt", b"Replica: no licence terms of the real dataset apply.\n")]
    return _replica.write_zip(path, texts + members)
