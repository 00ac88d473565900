"""HMDB51: 6,766 clips of 51 human actions from films and web videos, three official 70/30 splits
(https://serre-lab.clps.brown.edu/resource/hmdb-a-large-human-motion-database/; MMAction2's
`tools/data/hmdb51/README.md`).

The layout this module reads and writes, MMAction2's (``tools/data/hmdb51/``)::

    ROOT/downloads/hmdb51_org.rar, test_train_splits.rar                    (download)
    ROOT/annotations/<class>_test_split{1,2,3}.txt   (153 files)            (extract: unrar, folder flattened)
    ROOT/videos/<class>/<video>.avi                                         (extract: 51 inner <class>.rar)
    ROOT/rawframes/<class>/<video>/img_00001.jpg ...                        (extract: frames)
    ROOT/hmdb51_{train,val}_split_{1,2,3}_{videos,rawframes}.txt            (lists)

There is no label map in the download: a class *is* a set of three split files, ``<class>_test_split<k>.txt``,
one line per video of the class, ``<video>.avi <flag>`` with flag 1 = train, 2 = test, 0 = in neither (about
1,666 clips are in no list of a split). Labels are the classes' indices in sorted order (``brush_hair`` 0 ...
``wave`` 50), read from the split files' *names*; a file name never gives a label (``sword`` is a prefix of
``sword_exercise``, and names such as ``(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi`` hold shell
characters).

Where tsnbook differs from MMAction2 0.24.1's ``build_file_list.py hmdb51`` (``parse_hmdb51_split``; the lines
are otherwise equal, tested against it on the replica):
- MMAction2 takes the class list from ``sorted(os.listdir('data/hmdb51/videos'))`` and first *writes*
  ``annotations/classInd.txt`` and ``trainlist0N.txt`` / ``testlist0N.txt`` from it: any stray entry of
  ``videos/`` (a ``.DS_Store``, a README, a folder of another dataset) stops it with a FileNotFoundError for
  ``<stray>_test_split1.txt``, and a ``classInd.txt`` left by an earlier run is reused as it is, so its ids win
  (open-mmlab/mmaction2#808, #386). tsnbook reads the classes from the split files, warns about strays, and
  writes nothing into ``annotations/``;
- MMAction2's rawframes lists need ``videos/`` (for that listing); tsnbook's need only ``rawframes/``;
- and `listing`'s differences.
"""
import os
import re
import sys
from pathlib import Path

import numpy as np

from .. import flow
from . import archives, download as _download, listing, replica as _replica
from .files import AnnotationError, DatasetError, read_lines
from .items import Item, ListedOnce, Subset
from .steps import Dataset

NAME = "hmdb51"
HOME = "https://serre-lab.clps.brown.edu/resource/hmdb-a-large-human-motion-database/"
FILES = (  # public, no registration; no checksums are published (URLs of MMAction2's download scripts)
    _download.Remote("hmdb51_org.rar", "http://serre-lab.clps.brown.edu/wp-content/uploads/2013/10/hmdb51_org.rar",
                     what="51 inner <class>.rar archives holding the 6,766 videos (about 2.1 GB)"),
    _download.Remote("test_train_splits.rar",
                     "http://serre-lab.clps.brown.edu/wp-content/uploads/2013/10/test_train_splits.rar",
                     what="the 153 split files testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt"),
)
UNREACHABLE = (f"If {HOME} is unreachable: get hmdb51_org.rar and test_train_splits.rar from another host (the "
               "data is CC BY 4.0), put them into ROOT/downloads/ (or pass --mirror URL of a host serving the same "
               "file names) and run again.")
REGISTRATION = None  # nothing to sign; licence CC BY 4.0 (project page)

#: The 51 classes, in label order (sorted; there is no official label file: ids are the sorted names' indices).
CLASSES = ("brush_hair", "cartwheel", "catch", "chew", "clap", "climb", "climb_stairs", "dive", "draw_sword",
           "dribble", "drink", "eat", "fall_floor", "fencing", "flic_flac", "golf", "handstand", "hit", "hug",
           "jump", "kick", "kick_ball", "kiss", "laugh", "pick", "pour", "pullup", "punch", "push", "pushup",
           "ride_bike", "ride_horse", "run", "shake_hands", "shoot_ball", "shoot_bow", "shoot_gun", "sit", "situp",
           "smile", "smoke", "somersault", "stand", "swing_baseball", "sword", "sword_exercise", "talk", "throw",
           "turn", "walk", "wave")
NUM_CLASSES = 51
TITLE, CLASSES_FILE, CLASS_COUNT_NOTE = "HMDB51", "annotations", "a replica, or split files missing"
SPLIT_FOLDER = "testTrainMulti_7030_splits"  # the splits rar's folder, flattened into annotations/
SPLITS = (1, 2, 3)
SUBSETS = ("train", "val")  # MMAction2's names: "val" lists are the official test videos (flag 2)
FLAGS = {"train": "1", "val": "2"}  # flag 0: in neither list of that split
PUBLISHED = {(k, s): n for k in SPLITS for s, n in (("train", 3570), ("val", 1530))}  # 70 + 30 per class (◇)
MMACTION2 = {}  # MMAction2 published no HMDB51 lists: its tools build them from the split files
NUM_VIDEOS = 6766  # as distributed (the paper says 6,849)
CONTAINER = "AVI, MPEG-4 Part 2 (DivX family; FourCC not re-checked), height 240, width varies, 30 fps"
LEVEL = 2  # ROOT/videos/<class>/<video>
VIDEO_EXT = ".avi"
ROOT_ENTRIES = ("annotations", "videos", "rawframes", "downloads")
#: what a folder inside ROOT holds, to refuse it as the root (`steps.Dataset.looks_inside`)
INSIDE = (("annotations", "*_test_split1.txt"), ("videos", "*/*.avi"), ("rawframes", "*/*/img_*"),
          ("downloads/", FILES[0].name))
VIDEO_FOLDERS = {"videos": "rawframes"}
FRAME_TMPL, START_INDEX = flow.RGB_TEMPLATE, 1  # what the three zoo rows read
MULTI_LABEL = False
DEFAULT_FRAMES = "rgb"  # the zoo's HMDB51 rows are RGB frames at the original size
STYLE, CLASS_FOLDERS = listing.SPLIT_FILES, True
_SPLIT_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<split>[0-9]+)\.txt$")


def list_name(subset, split, kind):
    """MMAction2's list name, e.g. ``hmdb51_train_split_1_rawframes.txt`` (subset "train" / "val")."""
    return f"{NAME}_{subset}_split_{split}_{kind}.txt"


def split_file(cls, split):
    return f"{cls}_test_split{split}.txt"


# ----------------------------------------------------------------------------------------------- annotations
def read_classes(root):
    """The classes in label order: the sorted names of the ``<class>_test_split<k>.txt`` files. Each class must
    have its three split files; anything else in ``annotations/`` is ignored."""
    folder = Path(root) / "annotations"
    fix = f"run prepare.py {NAME} extract (or unrar {FILES[1].name} and move its .txt files into {folder})"
    if not folder.is_dir():
        raise AnnotationError(f"{folder}: annotation folder missing; {fix}")
    found = {}
    for path in folder.iterdir():
        match = _SPLIT_FILE.match(path.name)
        if match and path.is_file():
            found.setdefault(match["cls"], set()).add(int(match["split"]))
    if not found:
        raise AnnotationError(f"{folder}: no <class>_test_split1.txt files; {fix}")
    for cls, numbers in sorted(found.items()):
        for split in SPLITS:
            if split not in numbers:
                raise AnnotationError(f"{folder / split_file(cls, split)}: annotation file missing (the class has "
                                      f"the other splits' files); {fix}")
        extra = sorted(numbers - set(SPLITS))
        if extra:
            raise AnnotationError(f"{folder / split_file(cls, extra[0])}: HMDB51 has splits 1-3 only; remove the "
                                  "file (not from the official archive)")
    return sorted(found)


def read_split_file(root, cls, split, label):
    """``{subset: [Item, ...]}`` (subsets "train", "val") of one ``<class>_test_split<k>.txt``; flag-0 videos in
    neither. A malformed line, a flag other than 0/1/2 or a video listed twice is an `AnnotationError`."""
    path = Path(root) / "annotations" / split_file(cls, split)
    out, once = {subset: [] for subset in SUBSETS}, ListedOnce()
    subset_of = {flag: subset for subset, flag in FLAGS.items()}
    for number, text in read_lines(path, fix=f"run prepare.py {NAME} extract"):
        where, parts = f"{path}:{number}", text.split()
        if len(parts) != 2 or not parts[0].lower().endswith(VIDEO_EXT) or "/" in parts[0]:
            raise AnnotationError(f"{where}: expected '<video>.avi <flag>', got {text!r} (a name with a space, or a "
                                  "line cut short?); extract the annotations again")
        if parts[1] not in ("0", "1", "2"):
            raise AnnotationError(f"{where}: flag {parts[1]!r} is not 0 (unused), 1 (train) or 2 (test); extract the "
                                  "annotations again")
        once.add(parts[0], where, parts[0], f"at line {number}")
        if parts[1] in subset_of:
            key = f"{cls}/{os.path.splitext(parts[0])[0]}"
            out[subset_of[parts[1]]].append(Item(key, label, where, f"{cls}/{parts[0]}"))
    return out


def read_annotations(root):
    """(classes, {(split, subset): [Item, ...]}) for the three splits, classes in label order."""
    classes = read_classes(root)
    splits = {(k, s): [] for k in SPLITS for s in SUBSETS}
    for label, cls in enumerate(classes):
        for split in SPLITS:
            for subset, items in read_split_file(root, cls, split, label).items():
                splits[split, subset] += items
    return classes, splits


def subsets(root, annotations):
    """The 6 subsets (3 splits x train/val), each with its videos and rawframes list."""
    return [Subset(f"split {k} {s}", items, root / "annotations", root / "videos", root / "rawframes", LEVEL,
                   {kind: root / list_name(s, k, kind) for kind in ("videos", "rawframes")},
                   published=PUBLISHED[k, s], ext=VIDEO_EXT, named=f"split {k} {s} (flag {FLAGS[s]})")
            for (k, s), items in annotations[1].items()]


# ----------------------------------------------------------------------------------------------------- steps
def downloaded(root, remote):
    return (root / "videos").is_dir() if remote is FILES[0] else _annotations_present(root)


def _annotations_present(root):
    try:
        read_classes(root)
        return True
    except AnnotationError:
        return False


def extract_archives(root, report):
    """Unrar the split files into ``annotations/`` (flat), the videos archive and its 51 inner archives into
    ``videos/<class>/`` (all through a hidden staging folder, renamed when every inner archive is complete).
    Each part is skipped when already done; an interrupted run resumes archive by archive."""
    _extract_annotations(root, report)
    _extract_videos(root, report)


def _extract_annotations(root, report):
    if _annotations_present(root):
        report.did("annotations skipped (present)")
        return
    archive = root / "downloads" / FILES[1].name
    found = archives.unpack_annotations(root, [archive], lambda members: [
        p.name for p in members if _SPLIT_FILE.match(p.name)], lambda absent: (
        f"{archive}: no <class>_test_split1.txt inside; not the HMDB51 splits archive? download it again"))
    archives.place_annotations(root, found)
    read_classes(root)  # every class has its three files
    report.did("annotations extracted", len(found))


def _extract_videos(root, report):
    archives.unpack_folder(root, report, "videos", "videos", root / "downloads" / FILES[0].name, FILES[0].name,
                           "class archives", unpack=_unpack_classes)


def _unpack_classes(archive, stage, report):
    """The videos archive into ``stage/archives``, then each of its 51 ``<class>.rar`` into ``stage/videos``."""
    inner = archives.extract(archive, stage / "archives", report=report)
    inner = sorted(p for p in inner if p.suffix.lower() == ".rar")
    if not inner:
        raise DatasetError(f"{archive}: no inner <class>.rar archives; not hmdb51_org.rar? download it again")
    for path in inner:  # each holds <class>/<video>.avi
        archives.extract(path, stage / "videos", report=report)
    return inner


def check_annotations(report, root, annotations):
    for cls in annotations[0]:
        if cls not in CLASSES:
            report.problem("unknown class", root / "annotations" / split_file(cls, 1),
                           f"{cls!r} is not one of HMDB51's 51 classes (a renamed or foreign file?); its index "
                           "shifts every later label", "warning")


download, extract, build_lists, verify, merge_shards = Dataset(sys.modules[__name__]).steps()


# --------------------------------------------------------------------------------------------------- replica
REPLICA_CLASSES = ("brush_hair", "cartwheel", "pour")
#: The first five clips of each class, in the real naming scheme
#: <source>_<action>_<body>_<camera>_<people>_<view>_<quality>_<n>, with the shell-hostile characters of real
#: names: ( ) ! # &. The other `REPLICA_CLIPS` - 5 clips of each class get names from `_more_names`.
REPLICA_NAMED = {
    "brush_hair": ("April_09_brush_hair_u_nm_np1_ba_goo_0", "April_09_brush_hair_u_nm_np1_ba_goo_1",
                   "Brushing_Hair_with_Beth_brush_hair_h_nm_np1_le_goo_0",
                   "Blonde_&_Brunette_brush_hair_u_cm_np2_fr_med_0", "Trim_brush_hair_f_nm_np1_ri_bad_2"),
    "cartwheel": ("(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0", "Acrobacias_cartwheel_f_cm_np1_ba_med_1",
                  "Bodenturnen_2004_cartwheel_f_cm_np1_le_med_0", "#122_Cartwheel_Lesson_cartwheel_f_nm_np1_fr_goo_0",
                  "park_gymnastics_cartwheel_f_cm_np1_ri_bad_3"),
    "pour": ("#20_Rhythm_Bar_pour_u_nm_np1_fr_goo_0", "Bartender_School_pour_u_cm_np1_le_med_1",
             "How_to_pour_beer_pour_u_nm_np1_fr_goo_0", "Tea_Time!_pour_u_cm_np1_ri_goo_2",
             "wine_pouring_pour_h_nm_np1_ba_med_0"),
}
REPLICA_CLIPS = 20  # per class: per split 12 train, 7 test, 1 unused (the real 70 / 30 / rest, in miniature)
_SOURCES = ("Amelie", "BigFish", "Fellowship_5", "Glorious_Basterds", "KUNG_FU_HUSTLE", "LongestYard",
            "Pirates_3", "prelinger_LetsPlay", "ROBIN_HOOD", "Shadow_Fighter", "THE_PROTECTOR", "TrumanShow",
            "Veoh_Alpha_Dog", "likebeckam", "YouTube_clip")
_ATTRIBUTES = (("f", "cm", "fr", "med"), ("u", "nm", "le", "goo"), ("h", "cm", "ri", "bad"), ("f", "nm", "ba", "goo"))


def _more_names(cls, count):
    """Further clip names of ``cls`` in the real scheme (film titles as sources, as most HMDB51 clips have)."""
    names = []
    for n in range(count):
        body, camera, view, quality = _ATTRIBUTES[n % len(_ATTRIBUTES)]
        names.append(f"{_SOURCES[n % len(_SOURCES)]}_{cls}_{body}_{camera}_np1_{view}_{quality}_{n // len(_SOURCES)}")
    return tuple(names)


REPLICA_VIDEOS = {cls: named + _more_names(cls, REPLICA_CLIPS - len(named)) for cls, named in REPLICA_NAMED.items()}
#: The flag of clip i of a class in split k is REPLICA_FLAGS[(i + 7 (k - 1)) % 20]: 12 train, 7 test, 1 unused,
#: split 1 testing clips 13-19, split 2 clips 6-12, split 3 clips 19 and 0-5 (the named ones).
REPLICA_FLAGS = ("1",) * 12 + ("0",) + ("2",) * 7
REPLICA_WIDTHS = (320, 426)  # height 240: the real widths vary
#: each class's scene tint and object colour: recognisable from a frame, learnable by a CPU-sized twin
REPLICA_COLOURS = {"brush_hair": (200, 70, 200), "cartwheel": (60, 200, 200), "pour": (240, 140, 40)}
REPLICA_MISSING = "pour/wine_pouring_pour_h_nm_np1_ba_med_0"  # in the split files, not in the archive
REPLICA_CORRUPT = "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_1"  # in the archive, cut at 60 % of its bytes


def replica_flag(cls, video, split):
    """The flag the replica's ``<cls>_test_split<split>.txt`` gives ``video``."""
    return REPLICA_FLAGS[(REPLICA_VIDEOS[cls].index(video) + 7 * (split - 1)) % len(REPLICA_FLAGS)]


def make_replica(root, seed=0):
    """The real download in miniature, into ``ROOT/downloads``: ``hmdb51_org.rar`` holding one inner
    ``<class>.rar`` per class (``<class>/<video>.avi``: AVI, MPEG-4 Part 2, height 240 with widths 320 and 426,
    30 fps, 1-2 s) and ``test_train_splits.rar`` (``testTrainMulti_7030_splits/``, 9 split files).

    Three classes of 20 clips, each class its own scene and object colour; every split flags 12 clips of a class
    1 (train), 7 flag 2 (test) and 1 flag 0 (unused), other clips in each split; names with ``( ) ! # &``; split
    lines end with a blank before the line end, as the real files are reported to (◇). Returns
    dict(files=[paths], videos=[keys], missing=, corrupt=) (`replica.Clips`).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    inner, keys = [], []
    for cls in REPLICA_CLASSES:
        clips = _replica.Clips(root / "downloads" / ".replica.avi", REPLICA_MISSING, REPLICA_CORRUPT)
        for number, video in enumerate(REPLICA_VIDEOS[cls]):
            num_frames = int(rng.integers(30, 61))  # 1-2 s at 30 fps
            speed = rng.uniform(-5, 5, size=2)
            colour = REPLICA_COLOURS[cls]
            frames = _replica.render_clip(rng, num_frames, 240, REPLICA_WIDTHS[number % 2], colour, speed, colour)
            clips.add(f"{cls}/{video}", f"{cls}/{video}.avi", frames, 30)
        keys += clips.keys
        inner.append((f"{cls}.rar", _replica.rar_bytes(clips.members, [cls])))
    videos = _replica.write_rar(root / "downloads" / FILES[0].name, inner)
    files = []
    for cls in REPLICA_CLASSES:
        for split in SPLITS:
            lines = [f"{video}.avi {replica_flag(cls, video, split)} " for video in REPLICA_VIDEOS[cls]]
            files.append((f"{SPLIT_FOLDER}/{split_file(cls, split)}", _replica.text_file(lines)))
    annotations = _replica.write_rar(root / "downloads" / FILES[1].name, files, [SPLIT_FOLDER])
    return dict(files=[videos, annotations], videos=keys, missing=REPLICA_MISSING, corrupt=REPLICA_CORRUPT)
