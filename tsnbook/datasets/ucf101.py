"""UCF101: 13,320 YouTube clips of 101 actions, three official train/test splits (spec datasets.md §2).

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

Where tsnbook differs from MMAction2 0.24.1's ``build_file_list.py`` (the lines are otherwise equal, tested
against it on the replica):
- a video listed in a split but absent on disk is dropped from the list, as there, but reported ("missing",
  an error: the copy is incomplete) - MMAction2 drops it silently;
- a frame folder without frames is dropped and reported - MMAction2 writes it as a videos-style line holding
  the folder's full path (``if rgb_cnt > 0 ... else`` falls through to its video branch), which its
  RawframeDataset then misreads;
- frames are counted by the template from the start index (``img_00001.jpg`` ...), not by the prefix
  ``img_*``: a folder numbered from 0, or holding a stray ``img_*`` file, is reported instead of being listed
  with a count that makes training read a file that does not exist;
- an unknown class or a malformed line is a one-line error naming ``file:line`` (MMAction2: a KeyError).
- MMAction2's scripts pass ``--shuffle`` (unseeded); tsnbook keeps the split files' order (training shuffles).
"""
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import flow, jobs
from . import archives, download as _download, frames as _frames, lists, replica as _replica, splits as _splits
from . import verify as _verify
from .files import AnnotationError, DatasetError, check_level, read_lines
from .report import Report

NAME = "ucf101"
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
FRAME_TMPL, START_INDEX = flow.RGB_TEMPLATE, 1  # what tsn_r50_1x1x3_75e_ucf101_rgb reads
FLOW_TMPL = flow.FLOW_TEMPLATES["flow"]
MULTI_LABEL = False
DEFAULT_FRAMES = "rgb"  # the zoo's UCF101 row is RGB frames at the original size


def list_name(subset, split, kind):
    """MMAction2's list name, e.g. ``ucf101_train_split_1_rawframes.txt`` (subset "train" / "val")."""
    return f"{NAME}_{subset}_split_{split}_{kind}.txt"


def annotation_files():
    return ["classInd.txt"] + [f"{kind}list0{k}.txt" for k in SPLITS for kind in ("train", "test")]


def _looks_inside(folder):
    """What a folder *inside* a UCF101 root looks like, to refuse it as a root (`files.check_level`)."""
    if (folder / "classInd.txt").exists():
        return "the annotations folder (ROOT/annotations)"
    if any(folder.glob("*/v_*.avi")):
        return "the videos folder (ROOT/videos)"
    if any(folder.glob("*/v_*/img_*")):
        return "the frames folder (ROOT/rawframes)"
    if (folder / FILES[0].name).exists() and folder.name == "downloads":
        return "the downloads folder (ROOT/downloads)"
    return None


def _root(root):
    return check_level(root, ("annotations", "videos", "rawframes", "downloads", ARCHIVE_FOLDER), _looks_inside)


# ----------------------------------------------------------------------------------------------- annotations
@dataclass(frozen=True)
class Item:
    """One video of a split file: ``key`` = ``Class/v_name`` (MMAction2's key), ``path`` as the line wrote it."""
    key: str
    path: str
    label: int  # 0-based
    where: str  # "file:line"


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
    """The `Item`s of ``trainlist0{split}.txt`` (subset "train") or ``testlist0{split}.txt`` ("val")."""
    path = Path(root) / "annotations" / f"{'train' if subset == 'train' else 'test'}list0{split}.txt"
    index = {name: i for i, name in enumerate(classes)}
    expected = "'Class/v_Class_gXX_cXX.avi id'" if subset == "train" else "'Class/v_Class_gXX_cXX.avi'"
    items, seen = [], {}
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
        if key in seen:
            raise AnnotationError(f"{where}: {parts[0]} is listed twice (first at line {seen[key]}): duplicate id")
        seen[key] = number
        items.append(Item(key, f"{folder}/{name}", index[folder], where))
    return items


def read_annotations(root):
    """(classes, {(split, subset): [Item, ...]}) for all three splits; `AnnotationError` on any bad line."""
    classes = read_classes(root)
    return classes, {(k, s): read_split(root, k, s, classes) for k in SPLITS for s in SUBSETS}


# ------------------------------------------------------------------------------------------------------ disk
def scan_videos(root):
    """``{key: relative path}`` of the files under ``videos/<Class>/`` (any extension, hidden names ignored)."""
    found = {}
    videos = Path(root) / "videos"
    for folder in sorted(p for p in videos.glob("*") if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                found[f"{folder.name}/{path.stem}"] = f"{folder.name}/{path.name}"
    return found


def _strays(root, classes, annotated, report):
    """Entries of ``videos/`` that no split file explains: warnings (they do not change tsnbook's labels)."""
    videos = Path(root) / "videos"
    if not videos.is_dir():
        return
    for entry in sorted(videos.iterdir()):
        if entry.name not in classes:
            report.problem("stray", entry, "not a class of classInd.txt: ignored here, but it would shift a label "
                                           "map built from a directory listing (sorted(os.listdir), as MMAction2's "
                                           "HMDB51 and Kinetics tools do); remove it", "warning")
    for key, relative in scan_videos(root).items():
        if key not in annotated and key.split("/")[0] in classes:
            report.problem("stray", videos / relative, "in no split file: not listed", "warning")


def _frame_verdicts(root, keys, frame_tmpl, start_index, workers, videos=None):
    """check_frames verdicts for ``rawframes/<key>`` folders (with the video's frame count when known)."""
    rawframes = Path(root) / "rawframes"
    work = []
    for key in keys:
        job = (str(rawframes / key), None, frame_tmpl, start_index)
        if videos and key in videos and videos[key]["frames"]:
            job += (videos[key]["frames"],)
        work.append(job)
    verdicts = jobs.run(_verify.check_frames, work, workers, desc="frame folders")
    return dict(zip(keys, verdicts))


# ----------------------------------------------------------------------------------------------------- steps
def download(root, mirror=None, workers=None, progress=None):
    """Fetch the two archives into ``ROOT/downloads`` (resumable); skipped when already extracted."""
    root = _root(root)
    report = Report(NAME, "download", root)
    extracted = {FILES[0].name: (root / "videos").is_dir(),
                 FILES[1].name: all((root / "annotations" / n).is_file() for n in annotation_files())}
    for remote in FILES:
        if extracted[remote.name]:
            report.did("skipped (already extracted)")
            continue
        try:
            _download.fetch(remote, root / "downloads", mirror=mirror, report=report, progress=progress)
        except DatasetError as error:
            if "server" not in str(error):  # interrupted or failed its check: running again is the advice
                raise
            raise DatasetError(f"{error}. {UNREACHABLE}") from None
    return report


def extract(root, workers=None, frames=DEFAULT_FRAMES, resolution="original", flow_algorithm=flow.FAST_ALGORITHM,
            flow_tmpl=FLOW_TMPL, frame_tmpl=FRAME_TMPL, start_index=START_INDEX):
    """Unzip the splits into ``annotations/`` (flat), unrar the videos into ``videos/`` (via a hidden staging
    folder renamed when complete), then extract ``frames`` ("rgb", "flow", "both", "none") into ``rawframes/``
    at ``resolution`` (`tsnbook.flow.RESOLUTIONS`). Each part is skipped when already done."""
    root = _root(root)
    report = Report(NAME, "extract", root)
    settings = _frames.frame_settings(frames, frame_tmpl, flow_tmpl, start_index, resolution, flow_algorithm)
    _extract_annotations(root, report)
    _extract_videos(root, report)
    if settings is not None:
        pairs = [(root / "videos" / rel, root / "rawframes" / key) for key, rel in scan_videos(root).items()]
        _frames.extract_frames(report, pairs, settings, workers)
    return report


def _extract_annotations(root, report):
    target, wanted = root / "annotations", annotation_files()
    if all((target / name).is_file() for name in wanted):
        report.did("annotations skipped (present)")
        return
    stage = root / ".annotations.partial"
    archives.extract(root / "downloads" / FILES[1].name, stage, flatten=True)
    absent = [name for name in wanted if not (stage / name).is_file()]
    if absent:
        raise DatasetError(f"{root / 'downloads' / FILES[1].name}: lacks {', '.join(absent)}; not the UCF101 "
                           "splits archive? download it again")
    target.mkdir(exist_ok=True)
    for name in wanted:
        os.replace(stage / name, target / name)
    shutil.rmtree(stage)
    report.did("annotations extracted", len(wanted))


def _extract_videos(root, report):
    target = root / "videos"
    if target.is_dir():
        report.did("videos skipped (present)")
        return
    if (root / ARCHIVE_FOLDER).is_dir():  # unrar'ed by hand into ROOT: rename as MMAction2's script does
        os.replace(root / ARCHIVE_FOLDER, target)
        report.note(f"renamed {root / ARCHIVE_FOLDER} to {target}")
        return
    stage = root / ".videos.partial"
    members = archives.extract(root / "downloads" / FILES[0].name, stage, report=report)
    if not (stage / ARCHIVE_FOLDER).is_dir():
        raise DatasetError(f"{root / 'downloads' / FILES[0].name}: no {ARCHIVE_FOLDER}/ folder inside; not "
                           "UCF101.rar? download it again")
    os.replace(stage / ARCHIVE_FOLDER, target)
    shutil.rmtree(stage)
    report.note(f"{len(members)} files from {FILES[0].name} -> {target}")


def build_lists(root, workers=None, frame_tmpl=FRAME_TMPL, start_index=START_INDEX):
    """Write the 12 lists (3 splits x train/val x videos/rawframes) into ROOT from the split files and what is on
    disk (videos by existence, frame folders by their frames). Rawframes lists are written only when
    ``rawframes/`` exists. Missing items are dropped *and reported* (see the module docstring)."""
    root = _root(root)
    report = Report(NAME, "lists", root)
    classes, splits = read_annotations(root)
    annotated = sorted({item.key for items in splits.values() for item in items})
    _strays(root, classes, set(annotated), report)
    on_disk = scan_videos(root)
    first_seen = {}
    for items in splits.values():
        for item in items:
            first_seen.setdefault(item.key, item)
    for key in annotated:
        if key not in on_disk:
            report.problem("missing", root / "videos" / first_seen[key].path,
                           f"listed at {first_seen[key].where}, not on disk: left out of every list (MMAction2 "
                           "leaves it out silently); extract the videos again")
    frame_counts = None
    if (root / "rawframes").is_dir():
        verdicts = _frame_verdicts(root, annotated, frame_tmpl, start_index, workers)
        frame_counts = {key: v["frames"] for key, v in verdicts.items() if v["kind"] is None}
        for key, verdict in verdicts.items():
            if verdict["kind"] is not None and key in on_disk:
                report.problem(verdict["kind"], verdict["path"], verdict["reason"] + "; left out of the rawframes "
                               "lists", verdict["severity"])
    else:
        report.problem("missing", root / "rawframes", "no frame folders: rawframes lists not written (run "
                       f"prepare.py {NAME} extract --frames rgb)")
    for (split, subset), items in splits.items():
        present = [item for item in items if item.key in on_disk]
        written = lists.write_list(root / list_name(subset, split, "videos"),
                                   (lists.video_line(lists.check_path(on_disk[i.key], i.where), i.label)
                                    for i in present))
        report.count(f"split {split} {subset} videos", published=PUBLISHED[split, subset], annotated=len(items),
                     on_disk=len(present), written=written)
        if frame_counts is not None:
            framed = [item for item in items if item.key in frame_counts]
            written = lists.write_list(root / list_name(subset, split, "rawframes"),
                                       (lists.rawframes_line(i.key, frame_counts[i.key], i.label) for i in framed))
            report.count(f"split {split} {subset} rawframes", published=PUBLISHED[split, subset],
                         annotated=len(items), on_disk=len(framed), written=written)
        _published_check(report, root, split, subset, len(items))
    report.did("lists written", sum(1 for _ in root.glob(f"{NAME}_*_split_*_*.txt")))
    return report


def _published_check(report, root, split, subset, annotated):
    if annotated != PUBLISHED[split, subset]:
        name = f"{'train' if subset == 'train' else 'test'}list0{split}.txt"
        report.problem("count", root / "annotations" / name,
                       f"{annotated} videos where the published split has {PUBLISHED[split, subset]}: another "
                       "release, a replica, or a damaged file", "warning")


def verify(root, workers=None, deep=False, frame_tmpl=FRAME_TMPL, start_index=START_INDEX):
    """Check the copy in ROOT: the annotations, every annotated video (missing, unreadable, truncated, zero
    frames; ``deep`` decodes every frame), every frame folder (count, template, index base, against the video),
    stray entries, and the 12 list files against all of that. ``ok`` is False on any error."""
    root = _root(root)
    report = Report(NAME, "verify", root)
    try:
        classes, splits = read_annotations(root)
    except AnnotationError as error:
        return report.unreadable_annotations(error)
    if len(classes) != NUM_CLASSES:
        report.problem("count", root / "annotations" / "classInd.txt",
                       f"{len(classes)} classes where UCF101 has {NUM_CLASSES}: a replica or another file", "warning")
    annotated = sorted({item.key for items in splits.values() for item in items})
    _strays(root, classes, set(annotated), report)
    on_disk = scan_videos(root)
    checked = _verify.verify_videos(report, [root / "videos" / on_disk[k] for k in annotated if k in on_disk],
                                    workers, deep)
    videos = {k: checked[str(root / "videos" / on_disk[k])] for k in annotated if k in on_disk}
    for key in annotated:
        if key not in on_disk:
            item = next(i for items in splits.values() for i in items if i.key == key)
            report.problem("missing", root / "videos" / item.path, f"listed at {item.where}, not on disk")
    good_videos = {k for k, v in videos.items() if v["kind"] is None or v["severity"] == "warning"}
    folders = {}
    if (root / "rawframes").is_dir():
        folders = _frame_verdicts(root, [k for k in annotated if k in on_disk], frame_tmpl, start_index, workers,
                                  videos)
        for key, verdict in folders.items():
            if verdict["kind"] is not None and (Path(verdict["path"]).exists() or key in good_videos):
                report.problem(verdict["kind"], verdict["path"], verdict["reason"], verdict["severity"])
    good_frames = {k: v["frames"] for k, v in folders.items() if v["kind"] is None or v["severity"] == "warning"}
    for (split, subset), items in splits.items():
        for kind in ("videos", "rawframes"):
            entries = _splits.read_list(report, root / list_name(subset, split, kind), kind, NAME)
            if entries is None:
                continue
            expected = {i.key for i in items}
            for key, _, count, where in entries:
                if key not in expected:
                    report.problem("stray", where, f"{key} is in no {subset} split {split} file: a stale list; run "
                                                   f"prepare.py {NAME} lists again")
                elif kind == "rawframes" and key in good_frames and count != good_frames[key]:
                    report.problem("frame count", where, f"the list says {count} frames, rawframes/{key} has "
                                                         f"{good_frames[key]}: run prepare.py {NAME} lists again")
            usable = good_videos if kind == "videos" else set(good_frames)
            report.count(f"split {split} {subset} {kind}", published=PUBLISHED[split, subset], annotated=len(items),
                         on_disk=len(expected & usable), written=len(entries))
        _published_check(report, root, split, subset, len(items))
    return report


# --------------------------------------------------------------------------------------------------- replica
REPLICA_CLASSES = ("ApplyEyeMakeup", "Hammering", "HammerThrow", "HandstandPushups")  # real relative order
REPLICA_FILE_CLASS = {"HandstandPushups": "HandStandPushups"}  # the real file names' spelling
REPLICA_GROUPS, REPLICA_CLIPS = 3, 2  # split k tests group k
REPLICA_MISSING = "HammerThrow/v_HammerThrow_g02_c02"  # in the split files, not in the archive
REPLICA_CORRUPT = "Hammering/v_Hammering_g03_c01"  # in the archive, cut at 60 % of its bytes


def make_replica(root, seed=0):
    """The real download in miniature, into ``ROOT/downloads``: ``UCF101.rar`` (``UCF-101/<Class>/*.avi``: AVI,
    MPEG-4 Part 2 tagged XVID, 320x240, 25 fps, 1-3 s) and the splits zip (``ucfTrainTestlist/``, CRLF lines).

    Four classes with the real relative order (ids 1-4; ``sorted()`` would swap Hammering and HammerThrow), the
    ``v_HandStandPushups_*`` spelling, 3 groups x 2 clips, split k testing group k; `REPLICA_MISSING` is listed
    but not in the archive and `REPLICA_CORRUPT` is cut short, so that `verify` has something to find. Same
    bytes for the same seed on every machine. Returns dict(files=[paths], videos=[keys], missing=, corrupt=).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    members, keys = [], []
    colours = [(230, 60, 60), (60, 200, 60), (60, 90, 230), (230, 200, 40)]
    for label, cls in enumerate(REPLICA_CLASSES):
        for group in range(1, REPLICA_GROUPS + 1):
            for clip in range(1, REPLICA_CLIPS + 1):
                key = f"{cls}/v_{REPLICA_FILE_CLASS.get(cls, cls)}_g{group:02d}_c{clip:02d}"
                num_frames = int(rng.integers(25, 76))  # 1-3 s at 25 fps
                speed = rng.uniform(-4, 4, size=2)
                frames = _replica.render_clip(rng, num_frames, 240, 320, colours[label], speed)
                keys.append(key)
                if key == REPLICA_MISSING:
                    continue
                data = _replica.encode_clip(root / "downloads" / ".replica.avi", frames, fps=25)
                if key == REPLICA_CORRUPT:
                    data = data[:int(len(data) * 0.6)]
                members.append((f"{ARCHIVE_FOLDER}/{key}.avi", data))
    folders = [ARCHIVE_FOLDER] + [f"{ARCHIVE_FOLDER}/{cls}" for cls in REPLICA_CLASSES]
    rar = _replica.write_rar(root / "downloads" / FILES[0].name, members, folders)
    files = {"ucfTrainTestlist/classInd.txt": [f"{i + 1} {c}" for i, c in enumerate(REPLICA_CLASSES)]}
    for split in SPLITS:
        train = [f"{k}.avi {REPLICA_CLASSES.index(k.split('/')[0]) + 1}" for k in keys if f"_g{split:02d}_" not in k]
        files[f"ucfTrainTestlist/trainlist0{split}.txt"] = train
        files[f"ucfTrainTestlist/testlist0{split}.txt"] = [f"{k}.avi" for k in keys if f"_g{split:02d}_" in k]
    splits = _replica.write_zip(root / "downloads" / FILES[1].name,
                                [(name, _replica.crlf(lines)) for name, lines in files.items()])
    return dict(files=[rar, splits], videos=keys, missing=REPLICA_MISSING, corrupt=REPLICA_CORRUPT)
