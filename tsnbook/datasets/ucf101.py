"""UCF101: 13,320 YouTube clips of 101 actions, three official train/test splits
(https://www.crcv.ucf.edu/data/UCF101.php; MMAction2's `tools/data/ucf101/README.md`).

The layout this module reads and writes, MMAction2's (``tools/data/ucf101/``)::

    ROOT/downloads/UCF101.rar, UCF101TrainTestSplits-RecognitionTask.zip     (download)
    ROOT/annotations/classInd.txt, trainlist0{1,2,3}.txt, testlist0{1,2,3}.txt (extract: unzip -j)
    ROOT/videos/<Class>/v_<Class>_g<GG>_c<CC>.avi                            (extract: unrar, UCF-101 -> videos)
    ROOT/rawframes/<Class>/<video>/img_00001.jpg ...                          (extract: frames)
    ROOT/ucf101_{train,val}_split_{1,2,3}_{videos,rawframes}.txt              (lists)

Labels come from ``classInd.txt`` (1-based ids, label = id - 1) through each line's *class folder*, never from a
directory listing or the file name: ``sorted()`` swaps Hammering/HammerThrow and JumpingJack/JumpRope, and the
folder ``HandstandPushups`` holds files named ``v_HandStandPushups_*``. Test lists have no label; the folder
gives it, as in MMAction2. A train line whose label disagrees with its folder is an error.

Where tsnbook differs from MMAction2 0.24.1's ``build_file_list.py``: `listing`'s differences (a missing video
is an error here: the copy is incomplete), and an unknown class or a malformed line is a one-line error naming
``file:line`` (MMAction2: a KeyError).
"""
import os
import sys
from pathlib import Path

import numpy as np

from .. import flow
from . import archives, download as _download, listing, replica as _replica
from .files import AnnotationError, read_lines
from .items import Item, ListedOnce, Subset
from .steps import Dataset

NAME = "ucf101"
TITLE = "UCF101"
HOME = "https://www.crcv.ucf.edu/research/data-sets/ucf101/"
FILES = (  # public, no registration; no checksums are published
    _download.Remote("UCF101.rar", "https://www.crcv.ucf.edu/datasets/human-actions/ucf101/UCF101.rar",
                     what="the 13,320 videos (about 6.5 GB)"),
    _download.Remote("UCF101TrainTestSplits-RecognitionTask.zip",
                     "https://www.crcv.ucf.edu/wp-content/uploads/2019/03/UCF101TrainTestSplits-RecognitionTask.zip",
                     what="classInd.txt and the three train/test splits"),
)
UNREACHABLE = (f"If {HOME} is unreachable there is no official mirror: get UCF101.rar and "
               "UCF101TrainTestSplits-RecognitionTask.zip from a colleague or another host, put them into "
               "ROOT/downloads/ (or pass --mirror URL of a host serving the same file names) and run again.")
REGISTRATION = None  # nothing to sign

NUM_CLASSES = 101  # label map: annotations/classInd.txt, "id name" with 1-based ids
CLASSES_FILE, CLASS_COUNT_NOTE = "annotations/classInd.txt", "a replica or another file"
ARCHIVE_FOLDER = "UCF-101"  # the rar's top folder, renamed to videos/ as MMAction2 does
SPLITS = (1, 2, 3)
SUBSETS = ("train", "val")  # MMAction2's names: "val" lists are the official test lists
PUBLISHED = {(1, "train"): 9537, (1, "val"): 3783, (2, "train"): 9586, (2, "val"): 3734,
             (3, "train"): 9624, (3, "val"): 3696}  # split 1 from the paper; splits 2 and 3 not re-checked here
MMACTION2 = {}  # MMAction2 published no UCF101 lists: its tools build them from the official splits
NUM_VIDEOS = 13320
CONTAINER = "AVI, MPEG-4 Part 2 (FourCC XVID), 320x240, 25 fps, 1-71 s (mean 7.2 s); audio in 51 classes"
LEVEL = 2  # ROOT/videos/<Class>/<video>
VIDEO_EXT = ".avi"
ROOT_ENTRIES = ("annotations", "videos", "rawframes", "downloads", ARCHIVE_FOLDER)
#: what a folder inside ROOT holds, to refuse it as the root (`steps.Dataset.looks_inside`)
INSIDE = (("annotations", "classInd.txt"), ("videos", "*/v_*.avi"), ("rawframes", "*/v_*/img_*"),
          ("downloads/", FILES[0].name))
VIDEO_FOLDERS = {"videos": "rawframes"}
FRAME_TMPL, START_INDEX = flow.RGB_TEMPLATE, 1  # what tsn_r50_1x1x3_75e_ucf101_rgb reads
MULTI_LABEL = False
DEFAULT_FRAMES = "rgb"  # the zoo's UCF101 row is RGB frames at the original size
STYLE, STRAYS, CLASS_FOLDERS = listing.UCF101, "in no split file", True


def list_name(subset, split, kind):
    """MMAction2's list name, e.g. ``ucf101_train_split_1_rawframes.txt`` (subset "train" / "val")."""
    return f"{NAME}_{subset}_split_{split}_{kind}.txt"


def split_file(split, subset):
    return f"{'train' if subset == 'train' else 'test'}list0{split}.txt"


def annotation_files():
    return ["classInd.txt"] + [f"{kind}list0{k}.txt" for k in SPLITS for kind in ("train", "test")]


# ----------------------------------------------------------------------------------------------- annotations
def read_classes(root):
    """Class names in label order from ``annotations/classInd.txt`` (``id name``, ids 1..N in order)."""
    path = Path(root) / "annotations" / "classInd.txt"
    classes = []
    for number, text in read_lines(path, fix=f"run prepare.py {NAME} extract (or unzip {FILES[1].name} -j)"):
        parts = text.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise AnnotationError(f"{path}:{number}: expected 'id ClassName', got {text!r}; the file is damaged: "
                                  "extract the annotations again")
        if int(parts[0]) != len(classes) + 1:
            raise AnnotationError(f"{path}:{number}: id {parts[0]} where {len(classes) + 1} was expected (ids must "
                                  "run 1, 2, ... in order); extract the annotations again")
        if parts[1] in classes:
            raise AnnotationError(f"{path}:{number}: class {parts[1]!r} appears twice (duplicate id)")
        classes.append(parts[1])
    return classes


def read_split(root, split, subset, classes):
    """The `items.Item`s of ``trainlist0{split}.txt`` (subset "train") or ``testlist0{split}.txt`` ("val"):
    ``key`` = ``Class/v_name`` (MMAction2's key), ``path`` as the line wrote it."""
    path = Path(root) / "annotations" / split_file(split, subset)
    index = {name: i for i, name in enumerate(classes)}
    expected = "'Class/v_Class_gXX_cXX.avi id'" if subset == "train" else "'Class/v_Class_gXX_cXX.avi'"
    items, once = [], ListedOnce()
    for number, text in read_lines(path, fix=f"run prepare.py {NAME} extract (or unzip {FILES[1].name} -j)"):
        where, parts = f"{path}:{number}", text.split()
        folder, _, name = parts[0].replace("\\", "/").rpartition("/")
        if len(parts) != (2 if subset == "train" else 1) or not folder or "/" in folder or not name:
            raise AnnotationError(f"{where}: expected {expected}, got {text!r} (a name with a space, or a line "
                                  "cut short?); extract the annotations again")
        if folder not in index:
            raise AnnotationError(f"{where}: class folder {folder!r} is not in classInd.txt; the split files and "
                                  "classInd.txt come from different releases: extract both from one zip")
        if subset == "train" and parts[1] != str(index[folder] + 1):
            raise AnnotationError(f"{where}: label {parts[1]} but classInd.txt gives {folder} the id "
                                  f"{index[folder] + 1}; extract the annotations again")
        key = f"{folder}/{os.path.splitext(name)[0]}"
        once.add(key, where, parts[0], f"at line {number}")
        items.append(Item(key, index[folder], where, f"{folder}/{name}"))
    return items


def read_annotations(root):
    """(classes, {(split, subset): [Item, ...]}) for all three splits; `AnnotationError` on any bad line."""
    classes = read_classes(root)
    return classes, {(k, s): read_split(root, k, s, classes) for k in SPLITS for s in SUBSETS}


def subsets(root, annotations):
    """The 6 subsets (3 splits x train/val), each with its videos and rawframes list."""
    return [Subset(f"split {k} {s}", items, root / "annotations" / split_file(k, s), root / "videos",
                   root / "rawframes", LEVEL, {kind: root / list_name(s, k, kind) for kind in ("videos", "rawframes")},
                   published=PUBLISHED[k, s], ext=VIDEO_EXT, named=f"{s} split {k}")
            for (k, s), items in annotations[1].items()]


# ----------------------------------------------------------------------------------------------------- steps
def downloaded(root, remote):
    if remote is FILES[0]:
        return (root / "videos").is_dir()
    return all((root / "annotations" / n).is_file() for n in annotation_files())


def extract_archives(root, report):
    """Unzip the splits into ``annotations/`` (flat), unrar the videos into ``videos/`` (via a hidden staging
    folder renamed when complete); each part is skipped when already done."""
    if downloaded(root, FILES[1]):
        report.did("annotations skipped (present)")
    else:
        archive = root / "downloads" / FILES[1].name
        found = archives.unpack_annotations(root, [archive], annotation_files(), lambda absent: (
            f"{archive}: lacks {', '.join(absent)}; not the UCF101 splits archive? download it again"))
        report.did("annotations extracted", archives.place_annotations(root, found))
    archives.unpack_folder(root, report, ARCHIVE_FOLDER, "videos", root / "downloads" / FILES[0].name,
                           FILES[0].name)


download, extract, build_lists, verify, merge_shards = Dataset(sys.modules[__name__]).steps()


# --------------------------------------------------------------------------------------------------- replica
REPLICA_CLASSES = ("ApplyEyeMakeup", "Hammering", "HammerThrow", "HandstandPushups")  # real relative order
REPLICA_FILE_CLASS = {"HandstandPushups": "HandStandPushups"}  # the real file names' spelling
REPLICA_GROUPS, REPLICA_CLIPS = 3, 6  # split k tests group k: 24 test videos (23 with the missing or cut one)
REPLICA_MISSING = "HammerThrow/v_HammerThrow_g02_c02"  # in the split files, not in the archive
REPLICA_CORRUPT = "Hammering/v_Hammering_g03_c01"  # in the archive, cut at 60 % of its bytes


def make_replica(root, seed=0):
    """The real download in miniature, into ``ROOT/downloads``: ``UCF101.rar`` (``UCF-101/<Class>/*.avi``: AVI,
    MPEG-4 Part 2 tagged XVID, 320x240, 25 fps, 1-3 s) and the splits zip (``ucfTrainTestlist/``, CRLF lines).

    Four classes with the real relative order (ids 1-4; ``sorted()`` would swap Hammering and HammerThrow), the
    ``v_HandStandPushups_*`` spelling, 3 groups x 6 clips, split k testing group k; each class its own scene and
    object colour (`replica.background`), so that a CPU-sized twin learns them and its accuracy on 23-24 test
    videos per split means something. Returns dict(files=[paths], videos=[keys], missing=, corrupt=)
    (`replica.Clips`).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    clips = _replica.Clips(root / "downloads" / ".replica.avi", REPLICA_MISSING, REPLICA_CORRUPT)
    for label, cls in enumerate(REPLICA_CLASSES):
        for group in range(1, REPLICA_GROUPS + 1):
            for clip in range(1, REPLICA_CLIPS + 1):
                key = f"{cls}/v_{REPLICA_FILE_CLASS.get(cls, cls)}_g{group:02d}_c{clip:02d}"
                num_frames = int(rng.integers(25, 76))  # 1-3 s at 25 fps
                speed = rng.uniform(-4, 4, size=2)
                colour = _replica.PALETTE[label]
                frames = _replica.render_clip(rng, num_frames, 240, 320, colour, speed, tint=colour)
                clips.add(key, f"{ARCHIVE_FOLDER}/{key}.avi", frames, 25)
    folders = [ARCHIVE_FOLDER] + [f"{ARCHIVE_FOLDER}/{cls}" for cls in REPLICA_CLASSES]
    rar = _replica.write_rar(root / "downloads" / FILES[0].name, clips.members, folders)
    keys = clips.keys
    files = {"ucfTrainTestlist/classInd.txt": [f"{i + 1} {c}" for i, c in enumerate(REPLICA_CLASSES)]}
    for split in SPLITS:
        train = [f"{k}.avi {REPLICA_CLASSES.index(k.split('/')[0]) + 1}" for k in keys if f"_g{split:02d}_" not in k]
        files[f"ucfTrainTestlist/trainlist0{split}.txt"] = train
        files[f"ucfTrainTestlist/testlist0{split}.txt"] = [f"{k}.avi" for k in keys if f"_g{split:02d}_" in k]
    splits = _replica.write_zip(root / "downloads" / FILES[1].name,
                                [(name, _replica.text_file(lines, "\r\n")) for name, lines in files.items()])
    return dict(files=[rar, splits], videos=keys, **clips.roles)
