"""What Something-Something V1 and V2 share (https://developer.qualcomm.com/software/ai-datasets/something-something;
MMAction2's `tools/data/sthv1/` and `sthv2/` READMEs): the registration, the split downloads, the left/right classes,
and the replicas' clips.

Both versions have the same 174 classes, *templates* of an action on an object ("Pushing something from left to
right"), filmed by crowd workers. The versions differ in the files: V1 ships JPEG frames 100 px high with CSV
annotations (classes in the order of its labels CSV), V2 ships VP9 WebM videos 240 px high with JSON
annotations (classes numbered alphabetically, ids as strings). Both come as a split gzipped tarball
(``20bn-something-something-v{1,2}-00``, ``-01``, ... joined with ``cat ... | tar zx``), behind a login.

Left and right are part of six classes, three pairs: pulling or pushing something from left to right / from right
to left, and turning the camera left / right while filming something. A horizontally flipped clip of one is a
clip of the other, so a Flip augmentation must swap their labels (`flip_label_map`). MMAction2 1.x's V2 config
writes the map by hand as ``{86: 87, 87: 86, 93: 94, 94: 93, 166: 167, 167: 166}``; `flip_label_map` derives it
from the class names, so it also gives V1's ids (another order) and a replica's.
"""
import re
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from . import download as _download, listing, replica as _replica
from .files import AnnotationError, DatasetError, copy_from_downloads
from .items import Subset

HOME = "https://developer.qualcomm.com/software/ai-datasets/something-something"
REGISTRATION = (f"Something-Something is distributed after a login and a licence agreement: sign in at {HOME} "
                "(formerly 20bn.com)")
_SWAPS = (("left to right", "right to left"), ("camera left", "camera right"))
NUM_CLASSES = 174
SUBSETS = ("train", "val", "test")  # MMAction2's names; "val" is the official validation set
#: The published sizes are checked after the class count (`check_counts`), not by `listing`.
STYLE = replace(listing.SPLIT_FILES, published="")


def partner(name):
    """The class a horizontal flip turns ``name`` into (the same name when the flip keeps its meaning)."""
    for a, b in _SWAPS:
        if a in name:
            return name.replace(a, b)
        if b in name:
            return name.replace(b, a)
    return name


def flip_label_map(classes):
    """``{label: label of the mirrored class}`` for the classes whose mirror is another class of ``classes``:
    the ``flip_label_map`` of a Flip step (`tsnbook.transforms.Flip`)."""
    index = {name: label for label, name in enumerate(classes)}
    return {label: index[partner(name)] for label, name in enumerate(classes)
            if partner(name) != name and partner(name) in index}


def parts(folder, prefix, expected=None):
    """The parts ``<prefix>00``, ``<prefix>01``, ... in ``folder``, in order. A gap in the numbers, or fewer
    parts than ``expected`` (where the count is known), is a `DatasetError` naming the first missing part."""
    folder = Path(folder)
    pattern = re.compile(re.escape(prefix) + r"(\d\d)$")
    numbers = sorted(int(m.group(1)) for p in folder.glob(prefix + "??") if (m := pattern.match(p.name)))
    if not numbers:
        return []
    last = max(numbers[-1] + 1, expected or 0)
    gap = next((i for i in range(last) if i not in numbers), None)
    if gap is not None:
        raise DatasetError(f"{folder / f'{prefix}{gap:02d}'}: part missing ({len(numbers)} of "
                           f"{expected or 'at least ' + str(last)} parts here); download it and run again")
    return [folder / f"{prefix}{i:02d}" for i in numbers]


def fetch_from_mirror(mirror, folder, names, prefix, expected, report, progress=None):
    """Download the annotation files ``names`` and the parts ``<prefix>00`` ... from a mirror (a host of the
    institution serving the same file names); with an unknown part count, until the mirror has no next part."""
    for name in names:
        _download.fetch(_download.Remote(name, "", what="annotations"), folder, mirror=mirror, report=report,
                        progress=progress)
    number = 0
    while expected is None or number < expected:
        remote = _download.Remote(f"{prefix}{number:02d}", "", what="part of the tarball")
        try:
            _download.fetch(remote, folder, mirror=mirror, report=report, progress=progress)
        except DatasetError as error:
            if expected is None and number > 0 and "HTTP 404" in str(error):
                break
            raise
        number += 1


def require_download(folder, names, prefix, expected, what):
    """The registration message when files are missing from ``folder``: every missing file, and where to get it."""
    folder = Path(folder)
    missing = [name for name in names if not (folder / name).is_file()]
    found = parts(folder, prefix, expected)
    if not found:
        missing.append(f"{prefix}00, {prefix}01, ..." + (f" ({expected} parts)" if expected else ""))
    if missing:
        raise DatasetError(f"{folder}: {what} needs registration and a manual download; missing: "
                           f"{'; '.join(missing)}. {REGISTRATION}, download them into {folder} (or pass --mirror "
                           "URL of a host serving the same names) and run the command again")
    return found


def fetch_downloads(root, report, mirror, progress, data, names, prefix, num_parts, what):
    """The download step behind a registration: skipped when ``ROOT/data`` and the annotation files (``names``:
    {what: file name}) are there; the parts and the annotations fetched from ``mirror``, when given; then all must
    be in ROOT/downloads (the error lists what is missing and where to get it)."""
    names = list(names.values())
    if (root / data).is_dir() and all((root / "annotations" / n).is_file() for n in names):
        report.did("skipped (already extracted)")
        return
    folder = root / "downloads"
    if mirror:
        fetch_from_mirror(mirror, folder, names, prefix, num_parts, report, progress)
    found = require_download(folder, names, prefix, num_parts, what)
    report.did("found (downloaded by hand)", len(found) + len(names))


def copy_annotations(root, report, annotations):
    """Copy the annotation files from ROOT/downloads into ROOT/annotations (the test file is optional)."""
    def missing(name):
        if name != annotations["test"]:  # the test set is only counted
            return AnnotationError(f"{root / 'annotations' / name}: annotation file missing, and not in "
                                   f"{root / 'downloads'} either; {REGISTRATION}, download {name} into "
                                   f"{root / 'downloads'}")
    copy_from_downloads(root, report, annotations.values(), missing)


def annotation_fix(name, file):
    """What to do about a missing or bad annotation ``file`` of V1 or V2 (dataset ``name``)."""
    return f"run prepare.py {name} extract (or copy {file} from the download into ROOT/annotations)"


def read_annotations(root, names, read_classes, read_subset):
    """(classes, {"train": [Item], "val": [Item], "test": [Item] (label None)}); no test file: an empty test set."""
    classes = read_classes(root)
    subsets_ = {s: read_subset(root, s, classes) for s in ("train", "val")}
    test = Path(root) / "annotations" / names["test"]
    subsets_["test"] = read_subset(root, "test", classes) if test.is_file() else []
    return classes, subsets_


def subsets(root, annotations, names, published, list_name, videos, level, ext):
    """The train, val and test subsets (test only when its file lists videos; it gets no lists: no labels)."""
    return [Subset(name, items, root / "annotations" / names[name], videos, root / "rawframes", level,
                   {kind: root / list_name(name, kind) if name != "test" else None for kind in listing.KINDS},
                   published=published[name], ext=ext)
            for name, items in annotations[1].items() if items or name != "test"]


def check_counts(report, root, annotations, names, published, other):
    """The class count and the subsets' sizes against the published ones (``other``: what else a copy with
    another class count may be), and a note when the test file is absent."""
    classes, items = annotations
    if len(classes) != NUM_CLASSES:
        report.problem("count", root / "annotations" / names["labels"],
                       f"{len(classes)} classes where Something-Something has {NUM_CLASSES}: a replica, or {other}",
                       "warning")
    for subset, listed in items.items():
        if len(listed) != published[subset]:
            report.problem("count", root / "annotations" / names[subset], f"{subset}: {len(listed):,} videos where "
                           f"the published set has {published[subset]:,}: another release, a replica, or a damaged "
                           "file", "warning")
    if not (root / "annotations" / names["test"]).is_file():
        report.note(f"no {names['test']}: the test set is not counted")


# --------------------------------------------------------------------------------------------------- replicas
#: How the disc moves in each replica class: (start, end) as fractions of (width, height).
MOTIONS = {
    "Holding something": ((0.5, 0.45), (0.52, 0.47)),
    "Pushing something from left to right": ((0.2, 0.55), (0.8, 0.55)),
    "Pushing something from right to left": ((0.8, 0.55), (0.2, 0.55)),
    "Putting something on a surface": ((0.5, 0.2), (0.5, 0.75)),
}
#: Replica colours: the two directions of a pair share one, as the real clips share their objects.
COLOURS = {"Holding something": (60, 200, 90), "Pushing something from left to right": (230, 150, 40),
           "Pushing something from right to left": (230, 150, 40), "Putting something on a surface": (70, 110, 230)}


def render_motion(rng, name, num_frames, height, width):
    """uint8 RGB ``[T, H, W, 3]``: a textured background and a disc moving as class ``name`` does (`MOTIONS`),
    with a little jitter; a pair's two directions are the same frames in opposite order, up to the jitter."""
    background = _replica.background(rng, height, width, sigma=2)
    (x0, y0), (x1, y1) = MOTIONS[name]
    radius = max(4, height // 7)
    jitter = rng.uniform(-0.03, 0.03, size=2)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        a = t / max(1, num_frames - 1)
        centre = (int(((1 - a) * x0 + a * x1 + jitter[0]) * width), int(((1 - a) * y0 + a * y1 + jitter[1]) * height))
        frame = background.copy()
        cv2.circle(frame, centre, radius, COLOURS[name], -1)
        frames[t] = frame
    return frames


#: The V2 replica's classes: two pairs, each class the other's time reversal. Per class: the axis the object
#: moves along (0: x, 1: y) and the direction (+1: towards larger x or y, i.e. rightwards or downwards).
REVERSIBLE = {"Moving something down": (1, +1), "Moving something up": (1, -1),
              "Pushing something from left to right": (0, +1), "Pushing something from right to left": (0, -1)}
#: The setting of each pair (by axis): pushing happens on a table, moving up and down in front of a wall. What a
#: pair has in common shows in every frame, as the real templates' hands and surfaces do; the direction does not.
PAIR_TINTS = {0: (170, 120, 70), 1: (80, 120, 180)}
#: Objects of any class: a clip's colour is drawn from here, so that the colour says nothing about the class.
OBJECT_COLOURS = _replica.PALETTE + ((240, 140, 40),)


def render_reversible(rng, name, num_frames, height, width):
    """uint8 RGB ``[T, H, W, 3]``: an object of a random colour and size crossing a random textured background
    along the axis of class ``name`` (`REVERSIBLE`), from a random start near one edge to a random end near the
    other, drawn as a fast-moving object is filmed: smeared along its path (an ellipse 1.7 times as long as wide).

    The start and end are drawn from mirror-image ranges, so a clip of one direction, played backwards, is
    a clip of the other one: the *set* of frames has the same distribution in both classes of a pair, and only
    their order (or the optical flow between them) tells the classes apart. The axis, though, shows in a single
    frame (the smear is the same both ways): a pair is easy to recognise, the direction within it is not.
    """
    axis, direction = REVERSIBLE[name]
    background = _replica.background(rng, height, width, sigma=2, tint=PAIR_TINTS[axis])
    colour = OBJECT_COLOURS[int(rng.integers(len(OBJECT_COLOURS)))]
    radius = int(rng.integers(max(4, height // 7), max(5, height // 6) + 1))  # large: seen in any crop
    near, far = rng.uniform(0.15, 0.3), rng.uniform(0.7, 0.85)
    start, end = (near, far) if direction > 0 else (far, near)
    across = rng.uniform(0.3, 0.7)
    smear = (radius * 17 // 10, radius) if axis == 0 else (radius, radius * 17 // 10)  # half-axes along x, y
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        along = start + (end - start) * t / max(1, num_frames - 1)
        x, y = (along, across) if axis == 0 else (across, along)
        frame = background.copy()
        cv2.ellipse(frame, (int(x * width), int(y * height)), smear, 0, 0, 360, colour, -1)
        frames[t] = frame
    return frames
