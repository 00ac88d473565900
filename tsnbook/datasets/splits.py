"""What `build_lists` and `verify` share across datasets with official splits: from labelled items and what is on
disk to MMAction2's list files, and the checks a user runs after a download.

A dataset module parses its own annotation files (every format differs: UCF101's split lists, HMDB51's flag
files, Something-Something's CSVs and JSON) into `Item`s and describes its lists as an ordered dict::

    {"split 1 train": dict(items=[Item, ...], videos="hmdb51_train_split_1_videos.txt",
                           rawframes="hmdb51_train_split_1_rawframes.txt", published=3570), ...}

An item's ``key`` is MMAction2's key of a video: its path under ``videos/`` without the extension, which is also
its frame folder under ``rawframes/``. The rest is common:

- `scan_videos`: the video files on disk (level 2 ``<class>/<file>`` or level 1 ``<file>``); hidden and
  ``*.partial`` names are ignored, so an interrupted extraction is never taken for a video;
- `write_lists`: the videos lists (items whose file exists) and the rawframes lists (items whose frame folder is
  complete). Items missing on disk are left out *and reported* - MMAction2's ``build_file_list.py`` drops them
  silently - and frames are counted by the config's template from its start index (`verify.check_frames`),
  not by a file-name prefix;
- `verify_lists`: every annotated video probed, every frame folder checked (against its video when there is
  one), each list file compared with the annotations (entries, labels, frame counts).

Items without a label (a test set whose labels are withheld, as Something-Something's) are counted and checked
but never written: MMAction2's list formats need a label. A list whose ``videos`` (or ``rawframes``) name is
None is not written in that format.
"""
import os
from dataclasses import dataclass
from pathlib import Path

from .. import jobs
from . import lists as _lists, verify as _verify

KINDS = ("videos", "rawframes")


@dataclass(frozen=True)
class Item:
    """One annotated video: MMAction2's ``key``, its 0-based ``label`` (None: withheld) and ``where`` it was read
    (``file:line``); ``path``: the video file the annotation names, relative to ``videos/``, when it names one."""
    key: str
    label: object
    where: str
    path: str = None


def scan_videos(folder, level=2):
    """``{key: path relative to folder}`` of the files under ``folder`` (level 2: ``<class>/<file>``; level 1:
    ``<file>``); hidden names and ``*.partial`` files are left out."""
    folder, found = Path(folder), {}
    if not folder.is_dir():
        return found
    if level == 1:
        groups = [(folder, "")]
    else:
        groups = [(Path(e.path), e.name + "/") for e in sorted(os.scandir(folder), key=lambda e: e.name)
                  if e.is_dir() and not e.name.startswith(".")]
    for directory, prefix in groups:
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.is_file() and not entry.name.startswith(".") and not entry.name.endswith(".partial"):
                found[prefix + os.path.splitext(entry.name)[0]] = prefix + entry.name
    return found


def annotated(lists):
    """``{key: Item}`` of every item of every list, the first occurrence of each (for messages)."""
    first = {}
    for spec in lists.values():
        for item in spec["items"]:
            first.setdefault(item.key, item)
    return first


def report_strays(report, videos, keys, level, classes=None):
    """Warn about entries of ``videos/`` that no annotation explains: they change no tsnbook list, but a label
    map built from a directory listing (MMAction2's HMDB51 and Kinetics tools) would shift."""
    videos = Path(videos)
    if not videos.is_dir():
        return
    if level == 2 and classes is not None:
        for entry in sorted(videos.iterdir(), key=lambda p: p.name):
            if entry.name not in classes and not entry.name.endswith(".partial"):
                report.problem("stray", entry, "not a class of the annotations: ignored here, but it would shift a "
                                               "label map built from sorted(os.listdir(videos)) (MMAction2's "
                                               "HMDB51 and Kinetics tools); remove it", "warning")
    for key, relative in scan_videos(videos, level).items():
        if key not in keys and (classes is None or level == 1 or key.split("/")[0] in classes):
            report.problem("stray", videos / relative, "in no annotation file: not listed", "warning")


def frame_verdicts(rawframes, keys, frame_tmpl, start_index, workers=None, video_frames=None, name="DATASET"):
    """`verify.check_frames` verdicts of ``rawframes/<key>`` for ``keys``: ``{key: verdict}``.
    ``video_frames``: ``{key: frame count of its video}``, compared with the folder's where known; ``name``
    goes into the advice ("prepare.py NAME extract")."""
    rawframes, work = Path(rawframes), []
    for key in keys:
        job = (str(rawframes / key), None, frame_tmpl, start_index)
        if video_frames and video_frames.get(key):
            job += (video_frames[key],)
        work.append(job)
    verdicts = jobs.run(_verify.check_frames, work, workers, desc="frame folders")
    return {key: dict(v, reason=v["reason"].replace("prepare.py DATASET", f"prepare.py {name}"))
            for key, v in zip(keys, verdicts)}


def _missing_video(report, root, item, extension=""):
    path = Path(root) / "videos" / (item.path or item.key + extension)
    report.problem("missing", path, f"listed at {item.where}, not on disk: left out of every list (MMAction2's "
                                    "build_file_list.py leaves it out silently); extract the videos again")


def write_lists(report, root, lists, on_disk, frame_tmpl, start_index, workers=None, name="DATASET",
                video_ext="", kinds=KINDS):
    """Write every list of ``lists`` into ``root`` and count them in ``report``.

    ``on_disk``: `scan_videos` of ``root/videos``, or None for a dataset that ships frames only (then no videos
    list is written, and an item without a frame folder is the missing one). Rawframes lists need
    ``root/rawframes``; without it they are not written (an error: the zoo configs read frames).
    ``video_ext`` names the missing file in messages when items carry no ``path``. ``kinds``: the formats to
    write (Something-Something V1 writes its rawframes lists from the frames alone, then videos lists from
    optional re-encoded videos).
    """
    root = Path(root)
    items = annotated(lists)
    if on_disk is not None and "videos" in kinds:
        for key, item in items.items():
            if key not in on_disk:
                _missing_video(report, root, item, video_ext)
    counts = None
    if "rawframes" in kinds and (root / "rawframes").is_dir():
        keys = list(items) if on_disk is None else [k for k in items if k in on_disk]
        counts = {}
        for key, verdict in frame_verdicts(root / "rawframes", keys, frame_tmpl, start_index, workers,
                                           name=name).items():
            if verdict["kind"] is None:
                counts[key] = verdict["frames"]
            elif on_disk is None and verdict["kind"] == "missing":
                report.problem("missing", verdict["path"], f"listed at {items[key].where}, no frame folder: left "
                                                           "out of the lists (MMAction2 leaves it out silently)")
            else:
                report.problem(verdict["kind"], verdict["path"], verdict["reason"] + "; left out of the rawframes "
                               "lists", verdict["severity"])
    elif "rawframes" in kinds:
        report.problem("missing", root / "rawframes", f"no frame folders: rawframes lists not written (run prepare.py "
                                                      f"{name} extract --frames rgb)")
    written = 0
    for title, spec in lists.items():
        labelled = [i for i in spec["items"] if i.label is not None]
        facts = dict(published=spec.get("published"), mmaction2=spec.get("mmaction2"))
        if not labelled:
            present = on_disk if on_disk is not None and "videos" in kinds else (counts or {})
            report.count(f"{title} (no labels)", annotated=len(spec["items"]),
                         on_disk=sum(1 for i in spec["items"] if i.key in present), **facts)
            continue
        if on_disk is not None and spec.get("videos") and "videos" in kinds:
            present = [i for i in labelled if i.key in on_disk]
            lines = (_lists.video_line(_lists.check_path(on_disk[i.key], i.where), i.label) for i in present)
            n = _lists.write_list(root / spec["videos"], lines)
            report.count(f"{title} videos", annotated=len(spec["items"]), on_disk=len(present), written=n, **facts)
            written += 1
        if counts is not None and spec.get("rawframes"):
            framed = [i for i in labelled if i.key in counts]
            lines = (_lists.rawframes_line(_lists.check_path(i.key, i.where), counts[i.key], i.label) for i in framed)
            n = _lists.write_list(root / spec["rawframes"], lines)
            report.count(f"{title} rawframes", annotated=len(spec["items"]), on_disk=len(framed), written=n, **facts)
            written += 1
    report.did("lists written", written)
    return counts


def published_check(report, where, title, annotated_count, published, what="the published split"):
    """A warning when an annotation file holds another number of videos than the dataset publishes."""
    if published is not None and annotated_count != published:
        report.problem("count", where, f"{title}: {annotated_count:,} videos where {what} has {published:,}: "
                                       "another release, a replica, or a damaged file", "warning")


def verify_lists(report, root, lists, on_disk, frame_tmpl, start_index, workers=None, deep=False, name="DATASET",
                 video_ext="", kinds=KINDS):
    """Check the copy in ``root`` against ``lists``: every annotated video (missing, unreadable, truncated, zero
    frames; ``deep`` decodes every frame), every frame folder (count, template, index base, last file complete,
    against the video), and each list file that `write_lists` writes (entries, labels, frame counts).
    ``kinds`` as in `write_lists`."""
    root = Path(root)
    items = annotated(lists)
    videos = {}
    if on_disk is not None and "videos" in kinds:
        paths = {k: root / "videos" / on_disk[k] for k in items if k in on_disk}
        checked = _verify.verify_videos(report, list(paths.values()), workers, deep)
        videos = {k: checked[str(p)] for k, p in paths.items()}
        for key, item in items.items():
            if key not in on_disk:
                report.problem("missing", root / "videos" / (item.path or key + video_ext),
                               f"listed at {item.where}, not on disk")
    good_videos = {k for k, v in videos.items() if v["kind"] is None or v["severity"] == "warning"}
    folders = {}
    if (root / "rawframes").is_dir() and "rawframes" in kinds:
        keys = list(items) if on_disk is None else [k for k in items if k in on_disk]
        frames_of = {k: v["frames"] for k, v in videos.items() if k in good_videos}
        folders = frame_verdicts(root / "rawframes", keys, frame_tmpl, start_index, workers, frames_of, name)
        for key, verdict in folders.items():
            if verdict["kind"] is None:
                continue
            if on_disk is None or Path(verdict["path"]).exists() or key in good_videos:
                reason = verdict["reason"] + (f" (listed at {items[key].where})" if verdict["kind"] == "missing"
                                              else "")
                report.problem(verdict["kind"], verdict["path"], reason, verdict["severity"])
    good_frames = {k: v["frames"] for k, v in folders.items() if v["kind"] is None or v["severity"] == "warning"}
    for title, spec in lists.items():
        labels = {i.key: i.label for i in spec["items"]}
        if all(label is None for label in labels.values()):
            present = good_videos if on_disk is not None and "videos" in kinds else set(good_frames)
            report.count(f"{title} (no labels)", published=spec.get("published"), mmaction2=spec.get("mmaction2"),
                         annotated=len(labels), on_disk=len(set(labels) & present))
            continue
        for kind in kinds:
            if not spec.get(kind) or (kind == "videos" and on_disk is None):
                continue
            entries = read_list(report, root / spec[kind], kind, name)
            if entries is None:
                continue
            for key, label, count, where in entries:
                if key not in labels:
                    report.problem("stray", where, f"{key} is in no annotation of {title}: a stale list; run "
                                                   f"prepare.py {name} lists again")
                elif label != labels[key]:
                    report.problem("label", where, f"label {label} where the annotations give {labels[key]}: a "
                                                   f"stale list; run prepare.py {name} lists again")
                elif kind == "rawframes" and key in good_frames and count != good_frames[key]:
                    report.problem("frame count", where, f"the list says {count} frames, rawframes/{key} has "
                                                         f"{good_frames[key]}: run prepare.py {name} lists again")
            usable = good_videos if kind == "videos" else set(good_frames)
            report.count(f"{title} {kind}", published=spec.get("published"), mmaction2=spec.get("mmaction2"),
                         annotated=len(labels), on_disk=len(set(labels) & usable), written=len(entries))
    return dict(videos=videos, frames=folders)


def read_list(report, path, kind, name="DATASET"):
    """``[(key, label, frames or None, "file:line")]`` of one list file (read as training reads it), or None
    after adding a problem when it is missing or malformed."""
    from ..data import load_annotations

    path = Path(path)
    if not path.is_file():
        report.problem("missing", path, f"list file not written: run prepare.py {name} lists"
                                        + (" (after extract with frames)" if kind == "rawframes" else ""))
        return None
    try:
        records = load_annotations(path, "", "video" if kind == "videos" else "rawframes")
    except ValueError as error:
        report.problem("annotation", path, str(error))
        return None
    return [(os.path.splitext(r.path)[0] if kind == "videos" else r.path, r.label, r.num_frames, r.where)
            for r in records]
