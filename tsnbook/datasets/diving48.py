"""Diving48: 18,404 trimmed clips of competition dives in 48 fine-grained classes
(http://www.svcl.ucsd.edu/projects/resound/dataset.html; MMAction2's `tools/data/diving48/README.md`).

A class is a dive described by four attributes - take-off, somersaults, twists, flight position - and the 48
classes are the combinations that occur. ``Diving48_vocab.json`` lists them as 4-tuples (``["Back", "15som",
"05Twis", "FREE"]``, ...) and an annotation's ``label`` is the 0-based index into that list. Many classes differ in
one attribute only (05Twis vs 15Twis), so the scene and a frame or two hardly tell them apart: the dataset was
built to have no such shortcut (its paper's "representation bias").

The layout this module reads and writes, MMAction2's (``tools/data/diving48/``)::

    ROOT/downloads/Diving48_rgb.tar.gz, Diving48_vocab.json, Diving48_V2_{train,test}.json,
                   Diving48_{train,test}.json                         (download: public, no registration)
    ROOT/annotations/<those five JSON files>                          (extract: copied)
    ROOT/videos/<vid_name>.mp4                                        (extract: the tarball's rgb/, renamed)
    ROOT/rawframes/<vid_name>/img_00001.jpg ...                       (extract --frames rgb: optional)
    ROOT/diving48_{train,val}_list_{videos,rawframes}.txt             (lists: V2, what the zoo configs read)
    ROOT/diving48_v1_{train,val}_list_{videos,rawframes}.txt          (lists: V1, when its files are there)
    ROOT/label_map_diving48.txt                                       (lists: the vocab joined with '+')

**V1 or V2.** The site first published V1 (16,067 train / 2,337 test) and later a cleaned V2 (15,027 / 1,970);
MMAction2 downloads V2 only ("considering the correctness of annotation files") and the zoo's rows are V2. Here
the choice is explicit: the lists under MMAction2's names are V2; V1 gets the same lists with a ``diving48_v1_``
prefix, so a config trains on V1 with ``ann_file_train=diving48_v1_train_list_videos.txt`` (and ``_val``). In
MMAction2's names "val" is the official test set. A clip on disk that V1 lists and V2 does not is expected (V2
removed it), not a stray.

**Names.** ``vid_name`` is an 11-character YouTube id, ``_`` and a 5-digit clip number; YouTube ids may begin with
``-`` or ``_`` (``-mmq0PT-u8k_00155``), and a command-line tool reads ``-mmq0PT-u8k_00155.mp4`` as options: pass
such paths after ``--`` or as ``./-mmq0PT-u8k_00155.mp4``. tsnbook never hands a video name to a command line.

``start_frame`` / ``end_frame`` are read and checked (``verify`` warns about a video with fewer frames than its
``end_frame``), but the lists use the whole file, as MMAction2's do.

Where tsnbook differs from MMAction2 0.24.1's ``build_file_list.py``: `listing`'s differences, and a label outside
the vocab, a duplicate ``vid_name`` or a malformed entry is a one-line error naming the file and the entry
(MMAction2 writes whatever label the file holds).
"""
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import flow
from . import archives, diving48_replica as _dives, download as _download, listing, lists, replica as _replica
from .files import AnnotationError, DatasetError, atomic_write, copy_from_downloads
from .items import Item, ListedOnce, Subset, read_json
from .steps import Dataset

NAME = "diving48"
HOME = "http://www.svcl.ucsd.edu/projects/resound/dataset.html"
_BASE = "http://www.svcl.ucsd.edu/projects/resound/"
VOCAB = "Diving48_vocab.json"
ANNOTATIONS = {"V2": {"train": "Diving48_V2_train.json", "val": "Diving48_V2_test.json"},
               "V1": {"train": "Diving48_train.json", "val": "Diving48_test.json"}}
VERSIONS = ("V2", "V1")  # V2 is required and the default (MMAction2's, the zoo's); V1 is optional
FILES = (  # public, no registration; no checksums are published
    _download.Remote("Diving48_rgb.tar.gz", _BASE + "Diving48_rgb.tar.gz", what="the clips (folder rgb/)"),
    _download.Remote(VOCAB, _BASE + VOCAB, what="the 48 classes as [takeoff, somersault, twist, flight]"),
    *(_download.Remote(name, _BASE + name, what=f"the {version} {'test' if subset == 'val' else subset} set")
      for version in VERSIONS for subset, name in ANNOTATIONS[version].items()),
)
UNREACHABLE = (f"If {HOME} is unreachable there is no official mirror: get the files from a colleague or another "
               "host, put them into ROOT/downloads/ (or pass --mirror URL of a host serving the same names) and run "
               "again.")
REGISTRATION = None  # nothing to sign
OPTIONAL_FILES = {ANNOTATIONS["V1"][s]: "V1 is optional: the V2 lists do not need it" for s in ("train", "val")}

NUM_CLASSES = 48  # label map: annotations/Diving48_vocab.json, the label is the 0-based index into it
TITLE, CLASSES_FILE, CLASS_COUNT_NOTE = "Diving48", f"annotations/{VOCAB}", "a replica or another file"
SUBSETS = ("train", "val")  # MMAction2's names: "val" lists are the official test set
PUBLISHED = {("V2", "train"): 15027, ("V2", "val"): 1970,   # the site, not re-checked against the files here
             ("V1", "train"): 16067, ("V1", "val"): 2337}
MMACTION2 = {}  # MMAction2 published no Diving48 lists: its tools build them from the V2 files
NUM_VIDEOS = 18404  # in Diving48_rgb.tar.gz (the site; not re-checked)
CONTAINER = "MP4; codec, resolution and frame rate not verified here"
ARCHIVE_FOLDER = "rgb"  # the tarball's folder, renamed to videos/ as MMAction2's script does
LEVEL = 1  # ROOT/videos/<vid_name>.mp4
VIDEO_EXT = ".mp4"
ROOT_ENTRIES = ("annotations", "videos", "rawframes", "downloads", ARCHIVE_FOLDER)
#: what a folder inside ROOT holds, to refuse it as the root (`steps.Dataset.looks_inside`)
INSIDE = (("annotations/", VOCAB), ("videos", "*_[0-9][0-9][0-9][0-9][0-9].mp4"), ("rawframes", "*/img_*.jpg"),
          ("downloads/", FILES[0].name))
VIDEO_FOLDERS = {"videos": "rawframes"}
STYLE, STRAYS = listing.SUBSETS, "in no annotation file (V1 or V2)"
FRAME_TMPL, START_INDEX = flow.RGB_TEMPLATE, 1
MULTI_LABEL = False
DEFAULT_FRAMES = "none"  # both zoo rows read the videos
LABEL_MAP = "label_map_diving48.txt"
#: The published vocab, joined with '+' as MMAction2's tools/data/diving48/label_map.txt has it: `verify`
#: compares a copy's vocab with it, and the course shows the four attributes.
PUBLISHED_CLASSES = (
    "Back+15som+05Twis+FREE", "Back+15som+15Twis+FREE", "Back+15som+25Twis+FREE", "Back+15som+NoTwis+PIKE",
    "Back+15som+NoTwis+TUCK", "Back+25som+15Twis+PIKE", "Back+25som+25Twis+PIKE", "Back+25som+NoTwis+PIKE",
    "Back+25som+NoTwis+TUCK", "Back+2som+15Twis+FREE", "Back+2som+25Twis+FREE", "Back+35som+NoTwis+PIKE",
    "Back+35som+NoTwis+TUCK", "Back+3som+NoTwis+PIKE", "Back+3som+NoTwis+TUCK", "Back+Dive+NoTwis+PIKE",
    "Back+Dive+NoTwis+TUCK", "Forward+15som+1Twis+FREE", "Forward+15som+2Twis+FREE", "Forward+15som+NoTwis+PIKE",
    "Forward+1som+NoTwis+PIKE", "Forward+25som+1Twis+PIKE", "Forward+25som+2Twis+PIKE", "Forward+25som+3Twis+PIKE",
    "Forward+25som+NoTwis+PIKE", "Forward+25som+NoTwis+TUCK", "Forward+35som+NoTwis+PIKE",
    "Forward+35som+NoTwis+TUCK", "Forward+45som+NoTwis+TUCK", "Forward+Dive+NoTwis+PIKE", "Forward+Dive+NoTwis+STR",
    "Inward+15som+NoTwis+PIKE", "Inward+15som+NoTwis+TUCK", "Inward+25som+NoTwis+PIKE", "Inward+25som+NoTwis+TUCK",
    "Inward+35som+NoTwis+TUCK", "Inward+Dive+NoTwis+PIKE", "Reverse+15som+05Twis+FREE", "Reverse+15som+15Twis+FREE",
    "Reverse+15som+25Twis+FREE", "Reverse+15som+35Twis+FREE", "Reverse+15som+NoTwis+PIKE",
    "Reverse+25som+15Twis+PIKE", "Reverse+25som+NoTwis+PIKE", "Reverse+25som+NoTwis+TUCK",
    "Reverse+35som+NoTwis+TUCK", "Reverse+Dive+NoTwis+PIKE", "Reverse+Dive+NoTwis+TUCK",
)
ATTRIBUTES = ("takeoff", "somersault", "twist", "flight")


def list_name(subset, kind, version="V2"):
    """MMAction2's list name (V2), e.g. ``diving48_train_list_videos.txt``; V1's carries a ``v1_`` prefix."""
    return f"{NAME}_{'' if version == 'V2' else version.lower() + '_'}{subset}_list_{kind}.txt"


def annotation_files(version=None):
    versions = VERSIONS if version is None else (version,)
    return [VOCAB] + [ANNOTATIONS[v][s] for v in versions for s in SUBSETS]


# ----------------------------------------------------------------------------------------------- annotations
@dataclass(frozen=True)
class Clip(Item):
    """An annotated clip: ``key`` = ``vid_name``; the annotation's frame range (unused by the lists)."""
    start_frame: int = None
    end_frame: int = None


_FIX = f"download the annotations again (prepare.py {NAME} download, then extract)"


def _read_json(path):
    return read_json(path, f"run prepare.py {NAME} extract (or {_FIX})")


def read_vocab(root):
    """The classes as 4-tuples in label order, from ``annotations/Diving48_vocab.json``."""
    path = Path(root) / "annotations" / VOCAB
    data = _read_json(path)
    if not isinstance(data, list) or not data:
        raise AnnotationError(f"{path}: expected a list of [takeoff, somersault, twist, flight] entries; {_FIX}")
    vocab, seen = [], {}
    for index, entry in enumerate(data):
        if not (isinstance(entry, list) and len(entry) == 4 and
                all(isinstance(part, str) and part and not any(c.isspace() or c == "+" for c in part)
                    for part in entry)):
            raise AnnotationError(f"{path}[{index}]: expected [takeoff, somersault, twist, flight] (four words), "
                                  f"got {entry!r:.80}; {_FIX}")
        if tuple(entry) in seen:
            raise AnnotationError(f"{path}[{index}]: {entry} appears twice (first at [{seen[tuple(entry)]}]): "
                                  f"duplicate class; {_FIX}")
        seen[tuple(entry)] = index
        vocab.append(tuple(entry))
    return vocab


def class_names(vocab):
    """The vocab joined with '+', as MMAction2's label map writes it (``Back+15som+05Twis+FREE``)."""
    return ["+".join(entry) for entry in vocab]


def read_annotation_file(path, num_classes):
    """The `Clip`s of one train/test JSON: ``[{"vid_name", "label", "start_frame", "end_frame"}, ...]``."""
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, list):
        raise AnnotationError(f"{path}: expected a list of {{'vid_name', 'label', ...}} entries; {_FIX}")
    clips, once = [], ListedOnce()
    for index, entry in enumerate(data):
        where = f"{path}[{index}]"
        if not isinstance(entry, dict) or "vid_name" not in entry or "label" not in entry:
            raise AnnotationError(f"{where}: expected {{'vid_name': ..., 'label': ..., 'start_frame': ..., "
                                  f"'end_frame': ...}}, got {entry!r:.80}; {_FIX}")
        name, label = entry["vid_name"], entry["label"]
        if not isinstance(name, str) or not name or "/" in name or any(c.isspace() for c in name):
            raise AnnotationError(f"{where}: vid_name {name!r} is not a clip name (no spaces or '/'); {_FIX}")
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < num_classes:
            raise AnnotationError(f"{where}: label {label!r} of {name} is not an index of {VOCAB} "
                                  f"(0..{num_classes - 1}); the annotations and the vocab come from different "
                                  f"releases? {_FIX}")
        start, end = entry.get("start_frame"), entry.get("end_frame")
        if any(v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0) for v in (start, end)) \
                or (start is not None and end is not None and end < start):
            raise AnnotationError(f"{where}: start_frame {start!r} / end_frame {end!r} of {name} are not a frame "
                                  f"range; {_FIX}")
        once.add(name, where, name, f"at [{index}]", f"duplicate id; {_FIX}")
        clips.append(Clip(name, label, where, start_frame=start, end_frame=end))
    return clips


def available_versions(root):
    """The annotation versions whose two files are in ``annotations/`` (V2 first)."""
    folder = Path(root) / "annotations"
    return [v for v in VERSIONS if all((folder / ANNOTATIONS[v][s]).is_file() for s in SUBSETS)]


def read_annotations(root):
    """(vocab, {(version, subset): [Clip, ...]}): V2 always (its files must be there), V1 when present."""
    vocab = read_vocab(root)
    versions = available_versions(root)
    if "V2" not in versions:  # name the missing file
        versions = ["V2"] + versions
    return vocab, {(v, s): read_annotation_file(Path(root) / "annotations" / ANNOTATIONS[v][s], len(vocab))
                   for v in versions for s in SUBSETS}


def classes(annotations):
    return class_names(annotations[0])


def subsets(root, annotations):
    """V2's train and val (MMAction2's list names), and V1's when its files are there (``v1_`` names)."""
    return [Subset(f"{version} {subset}", clips, root / "annotations" / ANNOTATIONS[version][subset],
                   root / "videos", root / "rawframes", LEVEL,
                   {kind: root / list_name(subset, kind, version) for kind in ("videos", "rawframes")},
                   published=PUBLISHED[version, subset])
            for (version, subset), clips in annotations[1].items()]


def report_strays(report, root, annotations, subsets_):
    """Videos in no annotation file; and how many clips only V1 lists (V2 removed them: not strays)."""
    annotated = {clip.key for clips in annotations[1].values() for clip in clips}
    listing.strays(report, STYLE, root / "videos", LEVEL, annotated, explain=STRAYS)
    if ("V1", "train") in annotations[1]:
        v2 = {clip.key for (version, _), clips in annotations[1].items() if version == "V2" for clip in clips}
        report.note(f"{len(annotated - v2)} clip(s) listed in V1 but not in V2 (V2 removed them); V1 lists: "
                    f"{list_name('train', 'videos', 'V1')} and {list_name('val', 'videos', 'V1')}")
    else:
        report.note("V1 annotations not present: only the V2 lists (MMAction2's) are written")


# ----------------------------------------------------------------------------------------------------- steps
def downloaded(root, remote):
    return (root / "videos").is_dir() if remote is FILES[0] else (root / "annotations" / remote.name).is_file()


def extract_archives(root, report):
    """Copy the JSON files into ``annotations/``, unpack the tarball's ``rgb/`` into ``videos/`` (via a hidden
    staging folder renamed when complete). Each part is skipped when already done."""
    downloads = root / "downloads"

    def missing(name):
        if name in annotation_files("V2"):
            return DatasetError(f"{downloads / name}: not found; run prepare.py {NAME} download (or put the file "
                                f"from {HOME} there)")
    copy_from_downloads(root, report, annotation_files(), missing)
    if "V1" not in available_versions(root):
        report.note(f"V1 annotations ({', '.join(ANNOTATIONS['V1'].values())}) not in {downloads}: V2 only")
    archives.unpack_folder(root, report, ARCHIVE_FOLDER, "videos", downloads / FILES[0].name, FILES[0].name)


def write_label_map(root, annotations):
    lists.write_label_map(root / LABEL_MAP, class_names(annotations[0]))


def check_annotations(report, root, annotations):
    """The vocab against the published one: other names would mean other dives than the zoo's checkpoints."""
    names = class_names(annotations[0])
    if len(names) == NUM_CLASSES and tuple(names) != PUBLISHED_CLASSES:
        first = next(i for i, (a, b) in enumerate(zip(names, PUBLISHED_CLASSES)) if a != b)
        report.problem("label", f"{root / 'annotations' / VOCAB}[{first}]",
                       f"{names[first]} where the published vocab has {PUBLISHED_CLASSES[first]}: labels would "
                       "mean other dives than the zoo's checkpoints predict", "warning")


def check_videos(report, root, annotations, videos):
    """A clip with fewer frames than its annotation's ``end_frame``: another copy, or cut short."""
    seen = set()
    for clips in annotations[1].values():
        for clip in clips:
            verdict = videos.get((root / "videos", clip.key))
            if verdict and verdict["frames"] and clip.end_frame is not None and clip.key not in seen \
                    and verdict["frames"] < clip.end_frame:
                seen.add(clip.key)
                report.problem("frame count", verdict["path"], f"{verdict['frames']} frames, but {clip.where} says "
                                                               f"end_frame {clip.end_frame}: another copy, or cut "
                                                               "short", "warning")


download, extract, build_lists, verify, merge_shards = Dataset(sys.modules[__name__]).steps()


# --------------------------------------------------------------------------------------------------- replica
#: Four real classes, the 2 x 2 of somersaults (1.5, 2.5) and twists (none, one): details of the motion that the
#: replica's clips show and nothing else does (`tsnbook.datasets.diving48_replica`; its diver is a bar, so the
#: flight position, PIKE or FREE, is not drawn).
REPLICA_VOCAB = (("Forward", "15som", "NoTwis", "PIKE"), ("Forward", "15som", "1Twis", "FREE"),
                 ("Forward", "25som", "NoTwis", "PIKE"), ("Forward", "25som", "1Twis", "PIKE"))
REPLICA_SIZE, REPLICA_FPS = (128, 96), 30  # a choice, small for a CPU: the real size and rate are not verified
REPLICA_TRAIN, REPLICA_TEST = 16, 15  # V2 clips per class, from four broadcasts (venues) in turn
REPLICA_MISSING = (2, 1)  # (label, train clip): listed in V2 (and V1), not in the tarball
REPLICA_CORRUPT = (3, 2)  # in the tarball, cut at 60 % of its bytes


def _youtube_id(rng, first=None):
    chars = [_replica.YOUTUBE_CHARS[i] for i in rng.integers(0, 62, size=11)]  # letters and digits ...
    chars[5] = "-" if rng.random() < 0.5 else "_"  # ... and one of the two others inside, as real ids have
    if first:
        chars[0] = first
    return "".join(chars)


def make_replica(root, seed=0):
    """The real download in miniature, into ``ROOT/downloads``: ``Diving48_rgb.tar.gz`` (``rgb/<vid_name>.mp4``:
    H.264, 128x96, 30 fps, 2.5-3.5 s), the vocab (four real classes: 1.5 or 2.5 somersaults, no twist or one) and
    the V1 and V2 train/test JSONs (one line each, as ``json.dump`` writes them).

    Clip names follow the real pattern, from four "broadcasts" whose YouTube ids begin with ``-``, ``_`` and
    letters. V2 lists `REPLICA_TRAIN` train and `REPLICA_TEST` test clips per class; V1 lists the same plus one
    train clip that V2 dropped (it is in the tarball). The clips are dives that differ only in their motion
    (`tsnbook.datasets.diving48_replica`). Returns dict(files=[paths], videos=[vid_names of V2], missing=,
    corrupt= (`replica.Clips`), v1_only=, twists={vid_name: (first, last) frame of its twist, or None}).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    ids = [_youtube_id(rng, first) for first in ("-", "_", None, None)]
    numbers = [int(n) for n in rng.integers(0, 300, size=len(ids))]
    classes = range(len(REPLICA_VOCAB))
    plan = [(label, "train", clip, clip % 4) for clip in range(REPLICA_TRAIN) for label in classes]
    plan += [(label, "val", clip, (clip + 2) % 4) for clip in range(REPLICA_TEST) for label in classes]
    plan.append((0, "v1", 0, 0))  # V1 only: V2 removed it
    sets, twists = {"train": [], "val": []}, {}
    clips = _replica.Clips(root / "downloads" / ".replica.mp4", ("train",) + REPLICA_MISSING,
                           ("train",) + REPLICA_CORRUPT)
    width, height = REPLICA_SIZE
    venues = [_dives.venue(rng, height, width) for _ in ids]  # one pool and crowd per broadcast, for every class
    for label, subset, clip, broadcast in plan:
        name = f"{ids[broadcast]}_{numbers[broadcast]:05d}"
        numbers[broadcast] += 1
        num_frames = int(rng.integers(5 * REPLICA_FPS // 2, 7 * REPLICA_FPS // 2 + 1))
        _, somersaults, twist, _ = REPLICA_VOCAB[label]
        clip_frames, twists[name] = _dives.render_dive(rng, num_frames, venues[broadcast],
                                                       _dives.SOMERSAULTS[somersaults], _dives.TWISTS[twist])
        entry = dict(vid_name=name, label=label, start_frame=0, end_frame=num_frames - 1)
        if subset == "v1":
            v1_only = (name, entry)
        else:
            sets[subset].append(entry)
        clips.add(name, f"{ARCHIVE_FOLDER}/{name}.mp4", clip_frames, REPLICA_FPS, (subset, label, clip),
                  preset=_replica.X264_PRESET)
    downloads = root / "downloads"
    files = [_replica.write_tar_gz(downloads / FILES[0].name, clips.members)]
    files.append(atomic_write(downloads / VOCAB, json.dumps([list(entry) for entry in REPLICA_VOCAB])))
    for version in VERSIONS:
        for subset, name in ANNOTATIONS[version].items():
            entries = sets[subset] + ([v1_only[1]] if version == "V1" and subset == "train" else [])
            files.append(atomic_write(downloads / name, json.dumps(entries)))
    return dict(files=files, videos=[name for name in clips.keys if name != v1_only[0]], **clips.roles,
                v1_only=v1_only[0], twists=twists)
