"""Lists and checks for datasets whose annotation files name every video of a subset with its label(s).

Diving48 (JSON), Moments in Time (CSV + a categories file) and Multi-Moments in Time (multi-label CSV) come to the
same thing once their annotations are parsed: per MMAction2 subset ("train", "val") a list of `Item`s keyed the
way MMAction2 keys them - the video's path without extension, relative to the subset's video folder - a folder of
videos (level 1: flat; level 2: one folder per class) and, after ``extract --frames``, a folder of frame folders
mirroring it. A `Subset` holds that; `write_lists` turns subsets into MMAction2's list files, `check` verifies a
copy against them, `strays` finds what no annotation explains and `frame_pairs` says what to extract.

Where the lists differ from MMAction2 0.24.1's ``build_file_list.py`` (the lines are otherwise equal: each
dataset's tests run MMAction2's tool on its replica and compare):
- an item absent on disk is left out *and reported* (MMAction2 leaves it out silently);
- frame folders are counted by the template from the start index, not by the ``img_`` prefix: an empty folder
  (MMAction2 writes it as a videos-style line holding the folder's full path) or one numbered from another index
  (MMAction2 lists a count that makes training read past the last file) is reported and left out;
- a multi-label item appears once in a rawframes list (MMAction2's multi-label branch appends it to the RGB list
  twice, the second time with the *flow* count - 0 when no flow was extracted);
- the order is the annotation file's (MMAction2's scripts pass an unseeded ``--shuffle``).
"""
import os
from dataclasses import dataclass
from pathlib import Path

from .. import jobs
from . import lists, verify as _verify


@dataclass(frozen=True)
class Item:
    """One annotated video: ``key`` as MMAction2 keys it (``class/stem`` at level 2, ``stem`` at level 1)."""
    key: str
    labels: object  # a 0-based int, or a tuple of them (multi-label datasets)
    where: str  # "file:line" or "file[index]": the annotation entry, for messages


@dataclass
class Subset:
    """One subset's items and where their videos, frames and lists live."""
    title: str  # the report's row, e.g. "train" or "V1 val"
    items: list
    annotation: Path  # the file the items were read from
    videos: Path  # the list's video paths are relative to this folder
    frames: Path  # frame folders are frames / key
    level: int  # 1: videos/<stem>.mp4; 2: videos/<class>/<stem>.mp4
    lists: dict  # {"videos": path, "rawframes": path}
    published: int = None  # the dataset's own count for this subset, where known
    mmaction2: int = None  # MMAction2's copy, where known
    ext: str = ".mp4"  # the videos' extension, for naming a missing one


def scan_videos(folder, level):
    """``{key: path relative to folder}`` of the files at ``level`` (hidden and ``.partial`` files ignored)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    parents = [folder] if level == 1 else sorted(p for p in folder.iterdir()
                                                 if p.is_dir() and not p.name.startswith("."))
    found = {}
    for parent in parents:
        for path in sorted(parent.iterdir()):
            if path.is_file() and not path.name.startswith(".") and not path.name.endswith(".partial"):
                relative = path.relative_to(folder).as_posix()
                found[os.path.splitext(relative)[0]] = relative
    return found


def _scans(subsets):
    scans = {}
    for subset in subsets:
        if (subset.videos, subset.level) not in scans:
            scans[subset.videos, subset.level] = scan_videos(subset.videos, subset.level)
    return scans


def _on_disk(subset, scans):
    return scans[subset.videos, subset.level]


def _missing(report, subsets, scans, consequence):
    """One "missing" error per annotated video absent on disk (once, however many subsets list it)."""
    seen = set()
    for subset in subsets:
        on_disk = _on_disk(subset, scans)
        for item in subset.items:
            if item.key not in on_disk and (subset.videos, item.key) not in seen:
                seen.add((subset.videos, item.key))
                report.problem("missing", subset.videos / (item.key + subset.ext),
                               f"listed at {item.where}, no video of that name on disk: {consequence}")


def _frame_verdicts(subsets, scans, frame_tmpl, start_index, workers, video_frames=None):
    """``{(frames folder, key): check_frames verdict}`` for every annotated video on disk whose subset's frames
    folder exists; ``video_frames`` maps (videos folder, key) to the video's frame count when known."""
    jobs_by_folder = {}
    for subset in subsets:
        if not subset.frames.is_dir():
            continue
        on_disk = _on_disk(subset, scans)
        for item in subset.items:
            if item.key in on_disk and (subset.frames, item.key) not in jobs_by_folder:
                job = (str(subset.frames / item.key), None, frame_tmpl, start_index)
                frames = (video_frames or {}).get((subset.videos, item.key))
                jobs_by_folder[subset.frames, item.key] = job + ((frames,) if frames else ())
    verdicts = jobs.run(_verify.check_frames, list(jobs_by_folder.values()), workers, desc="frame folders")
    return dict(zip(jobs_by_folder, verdicts))


def _published(report, subset):
    if subset.published is not None and len(subset.items) != subset.published:
        report.problem("count", subset.annotation, f"{len(subset.items):,} videos where the published {subset.title} "
                                                   f"set has {subset.published:,}: another release, a replica, or a "
                                                   "damaged file", "warning")


def write_lists(report, subsets, frame_tmpl, start_index, workers=None, extract_hint="prepare.py DATASET extract"):
    """Write every subset's videos list, and its rawframes list when its frames folder exists (MMAction2's names
    are the subsets' ``lists``). Missing videos and bad frame folders are reported and left out."""
    scans = _scans(subsets)
    _missing(report, subsets, scans, "left out of every list (MMAction2 leaves it out silently); extract the "
                                     "videos again")
    verdicts = _frame_verdicts(subsets, scans, frame_tmpl, start_index, workers)
    reported = set()
    for place, verdict in verdicts.items():
        if verdict["kind"] is not None and place not in reported:
            reported.add(place)
            report.problem(verdict["kind"], verdict["path"], verdict["reason"] + "; left out of the rawframes list",
                           verdict["severity"])
    without_frames = []
    for subset in subsets:
        on_disk = _on_disk(subset, scans)
        present = [item for item in subset.items if item.key in on_disk]
        written = lists.write_list(subset.lists["videos"], (
            lists.video_line(lists.check_path(on_disk[item.key], item.where), item.labels) for item in present))
        counts = dict(published=subset.published, mmaction2=subset.mmaction2, annotated=len(subset.items))
        report.count(f"{subset.title} videos", **counts, on_disk=len(present), written=written)
        if subset.frames.is_dir():
            framed = [(item, verdicts[subset.frames, item.key]) for item in present]
            framed = [(item, v["frames"]) for item, v in framed if v["kind"] is None or v["severity"] == "warning"]
            written = lists.write_list(subset.lists["rawframes"], (
                lists.rawframes_line(lists.check_path(item.key, item.where), count, item.labels)
                for item, count in framed))
            report.count(f"{subset.title} rawframes", **counts, on_disk=len(framed), written=written)
        elif subset.frames not in without_frames:
            without_frames.append(subset.frames)
        _published(report, subset)
    if without_frames:
        report.note(f"no frame folders in {', '.join(str(f) for f in without_frames)}: rawframes lists not written "
                    f"(the zoo's rows read the videos; {extract_hint} --frames rgb extracts frames)")
    report.did("lists written", sum(1 for s in subsets for kind in ("videos", "rawframes")
                                    if kind == "videos" or s.frames.is_dir()))


def _read_list(report, path, kind, multi_label):
    """[(key, frames or None, labels, "file:line")] of a list file, or None (a problem) when unreadable."""
    from ..data import load_annotations

    try:
        records = load_annotations(path, "", "video" if kind == "videos" else "rawframes", multi_label)
    except ValueError as error:
        report.problem("annotation", path, str(error))
        return None
    entries = []
    for record in records:
        key = os.path.splitext(record.path)[0] if kind == "videos" else record.path
        labels = tuple(record.label) if multi_label else record.label
        entries.append((key, record.num_frames, labels, record.where))
    return entries


def check(report, subsets, frame_tmpl, start_index, workers=None, deep=False, multi_label=False,
          hint="prepare.py DATASET"):
    """What ``verify`` checks for annotated subsets: every annotated video (missing, unreadable, truncated,
    zero frames; ``deep`` decodes every frame), every frame folder (count, template, index base, against the
    video), and the list files against all of that (stale entries, labels, frame counts). Returns
    ``{(videos folder, key): verdict}`` of the videos, for a dataset's own checks."""
    scans = _scans(subsets)
    paths, where = {}, {}
    for subset in subsets:
        on_disk = _on_disk(subset, scans)
        for item in subset.items:
            if item.key in on_disk:
                path = str(subset.videos / on_disk[item.key])
                paths.setdefault((subset.videos, item.key), path)
                where.setdefault(path, item.where)
    checked = _verify.verify_videos(report, list(dict.fromkeys(paths.values())), workers, deep, where)
    videos = {place: checked[path] for place, path in paths.items()}
    _missing(report, subsets, scans, f"run {hint} extract (or download the videos again)")
    good = {place for place, v in videos.items() if v["kind"] is None or v["severity"] == "warning"}
    frames_of = {place: v["frames"] for place, v in videos.items() if v["frames"]}
    folders = _frame_verdicts(subsets, scans, frame_tmpl, start_index, workers, frames_of)
    video_of = {}
    for subset in subsets:
        for item in subset.items:
            video_of.setdefault((subset.frames, item.key), (subset.videos, item.key))
    for place, verdict in folders.items():
        if verdict["kind"] is not None and (Path(verdict["path"]).exists() or video_of[place] in good):
            report.problem(verdict["kind"], verdict["path"], verdict["reason"], verdict["severity"])
    for subset in subsets:
        expected = {item.key: item.labels for item in subset.items}
        for kind in ("videos", "rawframes"):
            path = subset.lists[kind]
            if not path.is_file():
                if kind == "videos" or subset.frames.is_dir():
                    report.problem("missing", path, f"list file not written: run {hint} lists")
                continue
            entries = _read_list(report, path, kind, multi_label)
            if entries is None:
                continue
            for key, count, labels, line in entries:
                if key not in expected:
                    report.problem("stray", line, f"{key} is in no {subset.title} annotation: a stale list; run "
                                                  f"{hint} lists again")
                elif labels != expected[key]:
                    report.problem("label", line, f"{key} has label(s) {labels} here, {expected[key]} in "
                                                  f"{subset.annotation.name}: a stale list; run {hint} lists again")
                elif kind == "rawframes":
                    verdict = folders.get((subset.frames, key))
                    if verdict is not None and verdict["frames"] and count != verdict["frames"]:
                        report.problem("frame count", line, f"the list says {count} frames, {subset.frames / key} "
                                                            f"has {verdict['frames']}: run {hint} lists again")
            if kind == "videos":
                usable = sum(1 for key in expected if (subset.videos, key) in good)
            else:
                usable = sum(1 for key in expected if (subset.frames, key) in folders and
                             (folders[subset.frames, key]["kind"] is None or
                              folders[subset.frames, key]["severity"] == "warning"))
            report.count(f"{subset.title} {kind}", published=subset.published, mmaction2=subset.mmaction2,
                         annotated=len(subset.items), on_disk=usable, written=len(entries))
        _published(report, subset)
    return videos


def strays(report, folder, level, annotated, classes=None, explain="in no annotation file"):
    """Entries of a video folder that no annotation explains, as warnings: at level 2 a folder that is not a
    class (``classes``; None: any folder is allowed) would shift a label map built from a directory listing."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    if level == 2:
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith("."):
                continue
            if not entry.is_dir():
                report.problem("stray", entry, "a file among the class folders: ignored; remove it", "warning")
            elif classes is not None and entry.name not in classes:
                report.problem("stray", entry, "not a class of the categories file: ignored here, but it would "
                                               "shift a label map built from a directory listing; remove it",
                               "warning")
    for key, relative in scan_videos(folder, level).items():
        if key not in annotated:
            report.problem("stray", folder / relative, f"{explain}: not listed", "warning")


def frame_pairs(subsets):
    """``[(video, frame folder)]`` for every video on disk in the subsets' video folders (each once)."""
    pairs, seen = [], set()
    for subset in subsets:
        if (subset.videos, subset.frames) in seen:
            continue
        seen.add((subset.videos, subset.frames))
        pairs += [(subset.videos / relative, subset.frames / key)
                  for key, relative in scan_videos(subset.videos, subset.level).items()]
    return pairs
