"""Something-Something V2: 220,847 clips of the 174 templates as VP9 WebM videos
(https://developer.qualcomm.com/software/ai-datasets/something-something; MMAction2's `tools/data/sthv2/README.md`; the
family's shared facts: `tsnbook.datasets.something`).

The layout this module reads and writes, MMAction2's (``tools/data/sthv2/``)::

    ROOT/downloads/20bn-something-something-v2-00 ... -19                   (registration: put there by hand)
    ROOT/downloads/something-something-v2-{labels,train,validation,test}.json
    ROOT/annotations/something-something-v2-*.json                         (extract: copied)
    ROOT/videos/<id>.webm          (extract: cat parts | tar zx; the tarball's folder becomes videos/)
    ROOT/rawframes/<id>/img_00001.jpg ...                                   (extract: frames, what the 0.x rows read)
    ROOT/sthv2_{train,val}_list_{videos,rawframes}.txt  ("78687.webm 75" / "78687 45 75")   (lists)

``something-something-v2-labels.json`` maps each template to its label as a *string*
(``{"Approaching something with your camera": "0", ...}``, alphabetical). The train and validation JSONs are lists
of ``{"id": "78687", "label": "holding potato next to vicks vaporub bottle", "template": "Holding [something]
next to [something]", "placeholders": [...]}``: ``label`` is the caption with the objects filled in, and the
class is the *template* with its brackets removed (MMAction2 does the same). Ids are strings. The test JSON holds
ids only. MMAction2's README trees show ``1.mp4``, but the files are ``.webm``.

Where tsnbook differs from MMAction2 0.24.1's ``build_file_list.py sthv2``:
- `listing`'s differences, and a WebM cut short is reported too: Matroska headers carry no frame count, so it is
  found by comparing the frames there with the header's duration (`tsnbook.datasets.verify`);
- a template that is not in the labels file is an error naming the file and item (MMAction2: a KeyError);
- ``--subset test`` does not work in MMAction2 (test items are bare strings); tsnbook writes no test list and
  counts and checks the test videos.
"""
import json
import sys
from pathlib import Path

import numpy as np

from .. import flow
from . import archives, replica as _replica, something
from .files import AnnotationError, atomic_write
from .items import Item, ListedOnce, read_json
from .steps import Dataset

NAME = "sthv2"
HOME = something.HOME
REGISTRATION = something.REGISTRATION
PARTS_PREFIX = "20bn-something-something-v2-"
NUM_PARTS = 20  # -00 ... -19
ARCHIVE_FOLDER = "20bn-something-something-v2"  # the tarball's folder, renamed to videos/
ANNOTATIONS = {"labels": "something-something-v2-labels.json", "train": "something-something-v2-train.json",
               "val": "something-something-v2-validation.json", "test": "something-something-v2-test.json"}
NUM_CLASSES, SUBSETS, STYLE = something.NUM_CLASSES, something.SUBSETS, something.STYLE
PUBLISHED = {"train": 168913, "val": 24777, "test": 27157}  # train/val ✔ (VideoMAEv2 lists), test ◇
MMACTION2 = {}  # MMAction2 published no V2 lists
NUM_VIDEOS = 220847
CONTAINER = "WebM, VP9, height 240 px, width varies, 12 fps, mostly 2-6 s"
LEVEL = 1  # ROOT/videos/<id>.webm
VIDEO_EXT = ".webm"
ROOT_ENTRIES = ("annotations", "videos", "rawframes", "downloads", ARCHIVE_FOLDER)
#: what a folder inside ROOT holds, to refuse it as the root (`steps.Dataset.looks_inside`)
INSIDE = (("annotations/", ANNOTATIONS["labels"]), ("videos", "*.webm"), ("rawframes", "*/img_00001.jpg"),
          ("downloads/", PARTS_PREFIX + "??"))
VIDEO_FOLDERS = {"videos": "rawframes"}
FRAME_TMPL, START_INDEX = flow.RGB_TEMPLATE, 1  # what the zoo's 0.x V2 rows read
MULTI_LABEL = False
DEFAULT_FRAMES = "rgb"  # the 0.x rows read RGB frames at the original size (240 px high)


def list_name(subset, kind):
    """MMAction2's list name, e.g. ``sthv2_train_list_rawframes.txt`` (subset "train" / "val")."""
    return f"{NAME}_{subset}_list_{kind}.txt"


def template_class(template):
    """The class of a template: its brackets removed ("Holding [something]" -> "Holding something")."""
    return template.replace("[", "").replace("]", "")


# ----------------------------------------------------------------------------------------------- annotations
def _read_json(path):
    return read_json(path, something.annotation_fix(NAME, path.name))


def read_classes(root):
    """The templates in label order, from the labels JSON (``{template: "id"}``, ids 0..N-1 each once)."""
    path = Path(root) / "annotations" / ANNOTATIONS["labels"]
    labels = _read_json(path)
    if not isinstance(labels, dict) or not labels:
        raise AnnotationError(f"{path}: expected an object {{template: \"id\"}}, got {type(labels).__name__}; copy "
                              "the labels file again")
    by_id = {}
    for name, value in labels.items():
        if not str(value).isdigit():
            raise AnnotationError(f"{path}: key {name!r}: id {value!r} is not a number; copy the labels file again")
        if int(value) in by_id:
            raise AnnotationError(f"{path}: key {name!r}: id {value} is also {by_id[int(value)]!r} (duplicate id)")
        by_id[int(value)] = name
    if sorted(by_id) != list(range(len(by_id))):
        gap = next(i for i in range(len(by_id)) if i not in by_id)
        raise AnnotationError(f"{path}: ids must run 0..{len(by_id) - 1}, {gap} is missing; copy the labels file again")
    return [by_id[i] for i in range(len(by_id))]


def read_subset(root, subset, classes):
    """The `items.Item`s of the train / val JSON (class = bracket-free template) or the test JSON (label None)."""
    path = Path(root) / "annotations" / ANNOTATIONS[subset]
    entries = _read_json(path)
    if not isinstance(entries, list):
        raise AnnotationError(f"{path}: expected a list of {{\"id\": ...}} objects; copy the file again")
    index = {name: label for label, name in enumerate(classes)}
    items, once = [], ListedOnce()
    for number, entry in enumerate(entries):
        where = f"{path}[{number}]"
        video = str(entry.get("id", "")) if isinstance(entry, dict) else ""
        if not video or any(c.isspace() or c in "/\\" for c in video) or (subset != "test" and "template" not in entry):
            needs = "'id'" if subset == "test" else "'id' and 'template'"
            raise AnnotationError(f"{where}: expected an object with {needs}, got {entry!r:.100}; copy the file again")
        where = f"{where} (id {video})"
        label = None
        if subset != "test":
            name = template_class(entry["template"])
            if name not in index:
                raise AnnotationError(f"{where}: template {entry['template']!r} is not in {ANNOTATIONS['labels']} "
                                      "(unknown class: files of different releases?); copy the annotations again")
            label = index[name]
        once.add(video, where, f"id {video}", f"as item {number}")
        items.append(Item(video, label, where, video + VIDEO_EXT))
    return items


def read_annotations(root):
    """(classes, {"train": [Item], "val": [Item], "test": [Item] (label None)}); no test JSON: an empty test set."""
    return something.read_annotations(root, ANNOTATIONS, read_classes, read_subset)


def flip_label_map(root):
    """``{label: mirrored label}`` of the left/right classes (`something.flip_label_map`); on the real labels
    file it is MMAction2 1.x's ``{86: 87, 87: 86, 93: 94, 94: 93, 166: 167, 167: 166}``."""
    return something.flip_label_map(read_classes(root))


def subsets(root, annotations):
    return something.subsets(root, annotations, ANNOTATIONS, PUBLISHED, list_name, root / "videos", LEVEL, VIDEO_EXT)


# ----------------------------------------------------------------------------------------------------- steps
def fetch_downloads(root, report, mirror, progress):
    """Behind a registration: check that the 20 parts and the four JSONs are in ``ROOT/downloads`` (the error
    lists what is missing and where to get it), or fetch them from ``--mirror``; skipped when extracted."""
    something.fetch_downloads(root, report, mirror, progress, "videos", ANNOTATIONS, PARTS_PREFIX, NUM_PARTS,
                              "Something-Something V2")


def extract_archives(root, report):
    """Copy the JSONs into ``annotations/``, unpack the 20-part tarball (streamed, no joined copy) into
    ``videos/`` through a hidden staging folder renamed when complete."""
    something.copy_annotations(root, report, ANNOTATIONS)
    archives.unpack_folder(root, report, ARCHIVE_FOLDER, "videos", lambda: something.require_download(
        root / "downloads", (), PARTS_PREFIX, NUM_PARTS, "Something-Something V2"), "the V2 tarball", "videos")


def check_counts(report, root, annotations):
    something.check_counts(report, root, annotations, ANNOTATIONS, PUBLISHED, "a file of another release")


download, extract, build_lists, verify, merge_shards = Dataset(sys.modules[__name__]).steps()


# --------------------------------------------------------------------------------------------------- replica
#: labels JSON order (alphabetical, as the real file): two pairs of classes, each class the other played backwards
REPLICA_CLASSES = ("Moving something down", "Moving something up", "Pushing something from left to right",
                   "Pushing something from right to left")
REPLICA_TEMPLATES = {"Moving something down": "Moving [something] down", "Moving something up": "Moving [something] up",
                     "Pushing something from left to right": "Pushing [something] from left to right",
                     "Pushing something from right to left": "Pushing [something] from right to left"}
REPLICA_OBJECTS = ("a pen", "my phone", "potato", "a tea cup", "vicks vaporub bottle", "a book", "keys", "a box",
                   "remote control")
REPLICA_SIZES = {"train": 10, "val": 8}  # clips per class; and two test clips (no labels)
REPLICA_MISSING = "9999"  # in the train JSON, no video
REPLICA_CORRUPT = "42"  # cut at 60 % of its bytes
REPLICA_WIDTHS = (320, 427)  # 240 px high; 427 is odd, as many real widths are


def _replica_clips():
    """(id, subset, class index or None) of every replica clip, in the JSON files' order: a few fixed ids first
    (the tests and notebook 10 name them), then ids drawn once from a fixed generator, the classes shuffled (the
    real files are in no class order)."""
    fixed = {"train": [("78687", 2), ("104", 3), (REPLICA_CORRUPT, 2), (REPLICA_MISSING, 3)], "val": [("30001", 2)],
             "test": [("220847", None)]}
    rng = np.random.default_rng(2017)
    used = {video for clips in fixed.values() for video, _ in clips}
    clips = []
    for subset in ("train", "val", "test"):
        labels = [label for label in range(len(REPLICA_CLASSES)) for _ in range(REPLICA_SIZES.get(subset, 0))]
        for video, label in fixed[subset]:
            if label is not None:
                labels.remove(label)
        labels = [labels[i] for i in rng.permutation(len(labels))] + [None] * (2 - len(fixed[subset])) * (
            subset == "test")
        drawn = []
        while len(drawn) < len(labels):
            video = str(int(rng.integers(1, NUM_VIDEOS + 1)))
            if video not in used:
                used.add(video)
                drawn.append(video)
        clips += [(video, subset, label) for video, label in fixed[subset] + list(zip(drawn, labels))]
    return tuple(clips)


#: (id, subset, class index): 40 train (one without a video), 32 val, 2 test clips.
REPLICA_CLIPS = _replica_clips()


def make_replica(root, seed=0):
    """The real download in miniature, into ``ROOT/downloads``: the tarball of
    ``20bn-something-something-v2/<id>.webm`` split into the 20 parts ``20bn-something-something-v2-00`` ...
    ``-19``, and the four JSONs (string ids and label values, bracketed templates, filled captions).

    Four classes, two pairs in which each class is the other played backwards (`something.render_reversible`: a
    disc of a random colour moving left or right, up or down): as on the real dataset, what happens to the
    object is the class, not the object, and a single frame cannot tell a pair's two classes apart. 10 train and
    8 validation clips per class and 2 test clips: VP9 WebM, 240 px high and 320 or 427 wide, 12 fps, 2-4 s.
    Returns dict(files=[paths], videos=[ids], missing=, corrupt=) (`replica.Clips`).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    clips = _replica.Clips(root / "downloads" / ".replica.webm", REPLICA_MISSING, REPLICA_CORRUPT)
    entries = {"train": [], "val": [], "test": []}
    for number, (video, subset, label) in enumerate(REPLICA_CLIPS):
        name = REPLICA_CLASSES[2 if label is None else label]  # a test clip shows some class, unnamed
        num_frames, width = int(rng.integers(24, 37)), REPLICA_WIDTHS[number % 2]
        frames = something.render_reversible(rng, name, num_frames, 240, width)
        thing = REPLICA_OBJECTS[number % len(REPLICA_OBJECTS)]
        entries[subset].append({"id": video} if subset == "test" else {
            "id": video, "label": name.replace("something", thing).lower(), "template": REPLICA_TEMPLATES[name],
            "placeholders": [thing]})
        clips.add(video, f"{ARCHIVE_FOLDER}/{video}.webm", frames, 12, deadline="realtime", **{"cpu-used": 8})
    files = _replica.write_parts(root / "downloads", PARTS_PREFIX,
                                 _replica.tgz_bytes(clips.members, [ARCHIVE_FOLDER]), NUM_PARTS)
    labels = {name: str(label) for label, name in enumerate(REPLICA_CLASSES)}
    for key, value in [("labels", labels)] + list(entries.items()):
        files.append(atomic_write(root / "downloads" / ANNOTATIONS[key], json.dumps(value)))
    return dict(files=files, videos=clips.keys, **clips.roles)
