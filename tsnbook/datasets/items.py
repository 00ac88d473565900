"""What a dataset's reader gives the shared steps: `Item`s (one annotated video each) grouped into `Subset`s (one
per set of list files), and the helpers every reader uses - the video files on disk, JSON and CSV annotation
files read with one-line errors, an id listed twice (`ListedOnce`).

An item's ``key`` is MMAction2's key of a video: its path under the subset's video folder without the extension,
which is also its frame folder under the subset's frame folder. ``label`` is what the list line holds: a 0-based
int, a tuple of them (multi-label), a ``{category: [...]}`` dict (HVU), or None where the dataset withholds it
(a test set: counted and checked, never listed). A subset says where its videos and frames are and which list
files it gets; what ``lists`` and ``verify`` do with it is `tsnbook.datasets.listing`.
"""
import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .files import AnnotationError


@dataclass(frozen=True)
class Item:
    """One annotated video; ``where`` is the annotation entry (``file:line`` or ``file[index]``) for messages,
    ``path`` the video file the annotation names (relative to the videos folder), when it names one."""
    key: str
    label: object
    where: str
    path: str = None


@dataclass
class Subset:
    """One subset's items and where their videos, frames and lists live."""
    title: str  # the report's row, e.g. "train", "split 1 val" or "V1 val"
    items: list
    annotation: Path  # the file the items were read from (where a count warning points)
    videos: Path  # the videos list's paths are relative to this folder; None: the dataset ships frames only
    frames: Path  # frame folders are frames / key
    level: int  # 1: videos/<stem>.mp4; 2: videos/<class>/<stem>.mp4
    lists: dict  # {"videos": path or None, "rawframes": path or None}: the list files written
    published: int = None  # the dataset's own count for this subset, where known
    mmaction2: int = None  # MMAction2's copy, where known
    ext: str = ".mp4"  # the videos' extension, for naming a missing one
    named: str = None  # how a few messages name the subset (default: its title)

    def missing_video(self, item):
        """The path a missing video of ``item`` would have."""
        return self.videos / (item.path or item.key + self.ext)


def scan_videos(folder, level):
    """``{key: path relative to folder}`` of the files at ``level`` (1: ``<file>``; 2: ``<class>/<file>``);
    hidden names and ``*.partial`` files (an interrupted extraction) are left out."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    if level == 1:
        groups = [(folder, "")]
    else:
        with os.scandir(folder) as entries:
            groups = [(Path(e.path), e.name + "/") for e in sorted(entries, key=lambda e: e.name)
                      if e.is_dir() and not e.name.startswith(".")]
    found = {}
    for directory, prefix in groups:
        with os.scandir(directory) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_file() and not entry.name.startswith(".") and not entry.name.endswith(".partial"):
                    found[prefix + os.path.splitext(entry.name)[0]] = prefix + entry.name
    return found


def read_json(path, fix):
    """A JSON annotation file; missing, not UTF-8 or not JSON is an `AnnotationError` naming the file (and line and
    column) with ``fix``, what the user should do."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"{path}: annotation file missing; {fix}")
    try:
        return json.loads(path.read_bytes().decode("utf-8"), object_pairs_hook=_no_duplicates(path, fix))
    except UnicodeDecodeError:
        raise AnnotationError(f"{path}: not UTF-8 text (a damaged or wrong file?); {fix}") from None
    except json.JSONDecodeError as error:
        raise AnnotationError(f"{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg}: a file cut "
                              f"short?); {fix}") from None


def _no_duplicates(path, fix):
    """A JSON object with a key twice is a damaged file (``json`` would keep the last value silently)."""
    def pairs(items):
        found = {}
        for key, value in items:
            if key in found:
                raise AnnotationError(f"{path}: {key!r} appears twice in one object (duplicate id); {fix}")
            found[key] = value
        return found
    return pairs


class ListedOnce:
    """The ids an annotation file may list only once, with where each was first read: a second listing is a
    damaged or edited file (the lists would hold the video twice, under whichever label came last)."""

    def __init__(self):
        self.first = {}

    def add(self, key, where, shown, first, why="duplicate id"):
        """Note ``key``, read at ``first`` (the place as the message writes it: "at line 3", "at [2]", "as item
        4"); listed before, it is an `AnnotationError` at ``where``: ``shown is listed twice (first ...): why``."""
        if key in self.first:
            raise AnnotationError(f"{where}: {shown} is listed twice (first {self.first[key]}): {why}")
        self.first[key] = first


def csv_row(text, where, fix):
    """One line of a CSV annotation file as its fields; a malformed line is an `AnnotationError` at ``where``."""
    try:
        return next(csv.reader([text]))
    except csv.Error as error:
        raise AnnotationError(f"{where}: not a CSV line ({error}); {fix}") from None


def class_and_key(filename, where, fix, expected):
    """``class/file.mp4`` -> (class, key = class/stem); anything else is an `AnnotationError` at ``where``."""
    folder, _, name = filename.replace("\\", "/").rpartition("/")
    if not folder or "/" in folder or not name or not os.path.splitext(name)[0]:
        raise AnnotationError(f"{where}: expected {expected}, got the path {filename!r}; {fix}")
    return folder, f"{folder}/{os.path.splitext(name)[0]}"
