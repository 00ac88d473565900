"""From items and what is on disk to MMAction2's list files, and the checks of a copy against both: what ``lists``
and ``verify`` do for every dataset whose annotations name its videos (Kinetics, ActivityNet and HVU add their own
list formats on the same pieces).

For each `items.Subset`, `write_lists` writes
- the videos list: the items whose video file exists (``path label``); an item missing on disk is left out *and
  reported* (MMAction2's ``build_file_list.py`` leaves it out silently);
- the rawframes list, when the subset's frame folder exists: the items whose frame folder is complete, counted by
  the config's template from its start index (`verify.check_frames`), not by a file-name prefix (which also
  counts a stray ``img_*`` file): an empty folder (MMAction2 writes it as a videos-style line holding the folder's
  full path), one numbered from another index (MMAction2 lists a count that makes training read past the last
  file), one with a gap (training asks for the missing file) or a cut last JPEG (training decodes it grey below
  the cut, without an error) is reported and left out. A copy without its videos folder but with frames gets
  rawframes lists from the frames;
- nothing for items without a label (a withheld test set): they are counted, MMAction2's formats need a label;
- a multi-label item once per list (MMAction2's multi-label branch appends it to the rawframes list twice, the
  second time with the *flow* count - 0 when no flow was extracted).
`check` verifies a copy: every annotated video probed (``deep``: decoded), every frame folder checked against its
video, each list file read back as training reads it and compared with the annotations. `strays` finds what no
annotation explains. The lines equal those of MMAction2 0.24.1's ``build_file_list.py`` otherwise (each dataset's
tests run it on the replica), in the annotation files' order (MMAction2's scripts pass an unseeded ``--shuffle``).
These are "`listing`'s differences", which each dataset module names without repeating them: missing videos
reported, frame folders counted by the template from the start index, the annotations' order kept.

The datasets came in families written apart, which word (and in a few places decide) what these steps find in
their own way; the notebooks show the words, so each family's `Style` keeps them, here in one place (a new dataset
takes `SPLIT_FILES` or `SUBSETS`).
"""
import os
from dataclasses import dataclass, replace
from pathlib import Path

from . import lists
from .items import scan_videos
from .verify import frame_verdicts, verify_videos

KINDS = ("videos", "rawframes")


@dataclass(frozen=True)
class Style:
    """How a family of datasets reports. Messages are formats; their fields are named where they are used."""
    missing: str  # lists: a listed video not on disk {where}
    missing_checked: str  # verify: the same {where} {name}
    left_out: str  # lists: after a bad frame folder's reason
    stray: str  # verify: a list line no annotation explains {key} {title} {named} {name}
    label: str  # verify: a list line with a stale label {key} {label} {expected} {annotation} {name}; "": unchecked
    frame_count: str  # verify: a list line with a stale frame count {count} {frames} {key} {folder} {name}
    published: str  # a subset of another size than published {n} {published} {title} {named}; "": the dataset's
    not_a_class: str  # a stray entry among the class folders
    file_among_classes: str = ""  # a file among the class folders ("": it is "not a class" either)
    sorted_keys: bool = False  # the items are checked in sorted key order (else the annotations' order)
    frames_without_video: bool = False  # a frame folder is listed although its video is missing
    names_the_dataset: bool = True  # a missing frame folder's advice names the dataset (else "DATASET")
    where_videos: bool = False  # a bad video's reason says where it is listed
    where_missing_folder: bool = True  # a missing frame folder's reason says where it is listed
    rawframes_expected: bool = True  # a rawframes list is expected without frames too
    recount_bad_folders: bool = False  # a bad folder's frames, up to the fault, are compared with the list
    hidden_strays: bool = True  # hidden entries among the class folders are strays
    strays_in_classes_only: bool = True  # a video is a stray only inside a known class folder


#: HMDB51 and Something-Something (split files, lists of splits)
SPLIT_FILES = Style(
    missing="listed at {where}, not on disk: left out of every list (MMAction2's build_file_list.py leaves it out "
            "silently); extract the videos again",
    missing_checked="listed at {where}, not on disk", left_out="; left out of the rawframes lists",
    stray="{key} is in no annotation of {title}: a stale list; run prepare.py {name} lists again",
    label="label {label} where the annotations give {expected}: a stale list; run prepare.py {name} lists again",
    frame_count="the list says {count} frames, rawframes/{key} has {frames}: run prepare.py {name} lists again",
    published="{named}: {n:,} videos where the published split has {published:,}: another release, a replica, or a "
              "damaged file",
    not_a_class="not a class of the annotations: ignored here, but it would shift a label map built from "
                "sorted(os.listdir(videos)) (MMAction2's HMDB51 and Kinetics tools); remove it")
#: UCF101's own words and order
UCF101 = replace(
    SPLIT_FILES, sorted_keys=True, frames_without_video=True, names_the_dataset=False, where_missing_folder=False,
    missing="listed at {where}, not on disk: left out of every list (MMAction2 leaves it out silently); extract the "
            "videos again",
    stray="{key} is in no {named} file: a stale list; run prepare.py {name} lists again", label="",
    published="{n} videos where the published split has {published}: another release, a replica, or a damaged file",
    not_a_class="not a class of classInd.txt: ignored here, but it would shift a label map built from a directory "
                "listing (sorted(os.listdir), as MMAction2's HMDB51 and Kinetics tools do); remove it")
#: Diving48, MiT and MMiT (annotated subsets, one folder of videos each)
SUBSETS = Style(
    missing="listed at {where}, no video of that name on disk: left out of every list (MMAction2 leaves it out "
            "silently); extract the videos again",
    missing_checked="listed at {where}, no video of that name on disk: run prepare.py {name} extract (or download "
                    "the videos again)",
    left_out="; left out of the rawframes list",
    stray="{key} is in no {title} annotation: a stale list; run prepare.py {name} lists again",
    label="{key} has label(s) {label} here, {expected} in {annotation}: a stale list; run prepare.py {name} lists "
          "again",
    frame_count="the list says {count} frames, {folder} has {frames}: run prepare.py {name} lists again",
    published="{n:,} videos where the published {title} set has {published:,}: another release, a replica, or a "
              "damaged file",
    not_a_class="not a class of the categories file: ignored here, but it would shift a label map built from a "
                "directory listing; remove it",
    file_among_classes="a file among the class folders: ignored; remove it", names_the_dataset=False,
    where_videos=True, where_missing_folder=False, rawframes_expected=False, recount_bad_folders=True,
    hidden_strays=False, strays_in_classes_only=False)


class _Disk:
    """The videos on disk of each subset's folder, scanned once."""

    def __init__(self):
        self.scans = {}

    def videos(self, subset):
        """``{key: path relative to subset.videos}``, or None when the subset is listed from its frames alone (it
        ships frames only, or its videos folder is gone and its frames are there)."""
        if subset.videos is None or (not subset.videos.is_dir() and subset.frames.is_dir()):
            return None
        if (subset.videos, subset.level) not in self.scans:
            self.scans[subset.videos, subset.level] = scan_videos(subset.videos, subset.level)
        return self.scans[subset.videos, subset.level]


def _firsts(subsets, style, folder):
    """``[(subset, item)]``: the first occurrence of each video (``folder(subset)`` / key), in the style's order."""
    found = {}
    for subset in subsets:
        for item in subset.items:
            found.setdefault((folder(subset), item.key), (subset, item))
    return sorted(found.values(), key=lambda pair: pair[1].key) if style.sorted_keys else list(found.values())


def _named(verdict, style, name):
    """check_frames advises "prepare.py DATASET extract": the dataset's name instead, where the style says so."""
    if style.names_the_dataset:
        return dict(verdict, reason=verdict["reason"].replace("prepare.py DATASET", f"prepare.py {name}"))
    return verdict


def _fields(subset):
    return dict(title=subset.title, named=subset.named or subset.title, annotation=subset.annotation.name)


def write_lists(report, facts, subsets, frame_tmpl, start_index, work, kinds=KINDS):
    """Write every subset's lists of ``kinds`` (MMAction2's names: the subsets' ``lists``) and count them in
    ``report``; missing videos and bad frame folders are reported and left out. ``facts``: the dataset (its NAME,
    STYLE, DEFAULT_FRAMES); ``work``: where frame folders are checked (`shards.Work`)."""
    style, disk = facts.STYLE, _Disk()
    if "videos" in kinds:
        for subset, item in _firsts(subsets, style, lambda s: s.videos):
            on_disk = disk.videos(subset)
            if on_disk is not None and item.key not in on_disk:
                report.problem("missing", subset.missing_video(item), style.missing.format(where=item.where))
    counts = _frame_counts(report, facts, subsets, disk, frame_tmpl, start_index, work) if "rawframes" in kinds else {}
    written = 0
    for subset in subsets:
        published_check(report, style, subset)
        on_disk = disk.videos(subset)
        labelled = [item for item in subset.items if item.label is not None]
        published = dict(published=subset.published, mmaction2=subset.mmaction2, annotated=len(subset.items))
        if not labelled:
            present = on_disk if on_disk is not None and "videos" in kinds else \
                {key for folder, key in counts if folder == subset.frames}
            report.count(f"{subset.title} (no labels)", on_disk=sum(1 for i in subset.items if i.key in present),
                         **published)
            continue
        if on_disk is not None and subset.lists.get("videos") and "videos" in kinds:
            present = [item for item in labelled if item.key in on_disk]
            n = lists.write_list(subset.lists["videos"], (lists.video_line(
                lists.check_path(on_disk[item.key], item.where), item.label) for item in present))
            report.count(f"{subset.title} videos", on_disk=len(present), written=n, **published)
            written += 1
        if subset.frames.is_dir() and subset.lists.get("rawframes") and "rawframes" in kinds:
            framed = [item for item in labelled if (subset.frames, item.key) in counts]
            n = lists.write_list(subset.lists["rawframes"], (lists.rawframes_line(
                lists.check_path(item.key, item.where), counts[subset.frames, item.key], item.label)
                for item in framed))
            report.count(f"{subset.title} rawframes", on_disk=len(framed), written=n, **published)
            written += 1
    report.did("lists written", written)
    absent = list(dict.fromkeys(str(s.frames) for s in subsets if not s.frames.is_dir()))
    if absent and facts.DEFAULT_FRAMES == "none" and "rawframes" in kinds:
        report.note(f"no frame folders in {', '.join(absent)}: rawframes lists not written (the zoo's rows read the "
                    f"videos; prepare.py {facts.NAME} extract --frames rgb extracts frames)")


def _frame_counts(report, facts, subsets, disk, frame_tmpl, start_index, work):
    """``{(frames folder, key): frame count}`` of the good frame folders of the items to list; bad ones reported."""
    style, todo, absent = facts.STYLE, {}, []
    for subset, item in _firsts(subsets, style, lambda s: s.frames):
        on_disk = disk.videos(subset)
        if not subset.frames.is_dir():
            absent += [] if subset.frames in absent else [subset.frames]
        elif on_disk is None or item.key in on_disk or style.frames_without_video:
            todo[subset.frames, item.key] = (item, on_disk)
    if absent and facts.DEFAULT_FRAMES != "none":  # the zoo's rows read frames: their lists are missing
        for folder in absent:
            report.problem("missing", folder, f"no frame folders: rawframes lists not written (run prepare.py "
                                              f"{facts.NAME} extract --frames rgb)")
    verdicts = frame_verdicts(work, [(str(folder / key), None, frame_tmpl, start_index) for folder, key in todo])
    counts = {}
    for (place, (item, on_disk)), verdict in zip(todo.items(), verdicts):
        verdict = _named(verdict, style, facts.NAME)
        if verdict["kind"] is None:
            counts[place] = verdict["frames"]
        elif on_disk is None and verdict["kind"] == "missing":
            report.problem("missing", verdict["path"], f"listed at {item.where}, no frame folder: left out of the "
                                                       "lists (MMAction2 leaves it out silently)")
        elif on_disk is None or item.key in on_disk:
            report.problem(verdict["kind"], verdict["path"], verdict["reason"] + style.left_out, verdict["severity"])
    return counts


def published_check(report, style, subset):
    """A warning when an annotation file holds another number of videos than the dataset publishes."""
    if style.published and subset.published is not None and len(subset.items) != subset.published:
        report.problem("count", subset.annotation, style.published.format(
            n=len(subset.items), published=subset.published, **_fields(subset)), "warning")


def check(report, facts, subsets, frame_tmpl, start_index, work, deep=False, kinds=KINDS):
    """What ``verify`` checks for annotated subsets: every annotated video (missing, unreadable, truncated, zero
    frames; ``deep`` decodes every frame), every frame folder (count, template, index base, against the video),
    and the list files against all of that (stale entries, labels, frame counts). Returns ``{(videos folder, key):
    verdict}`` of the videos, for a dataset's own checks."""
    style, disk = facts.STYLE, _Disk()
    videos = _check_videos(report, facts, subsets, disk, work, deep) if "videos" in kinds else {}
    good = {place for place, v in videos.items() if v["kind"] is None or v["severity"] == "warning"}
    todo = {}
    for subset, item in _firsts(subsets, style, lambda s: s.frames):
        on_disk = disk.videos(subset)
        if "rawframes" in kinds and subset.frames.is_dir() and (on_disk is None or item.key in on_disk):
            frames = videos.get((subset.videos, item.key), {}).get("frames")
            todo[subset.frames, item.key] = ((str(subset.frames / item.key), None, frame_tmpl, start_index) +
                                             ((frames,) if frames else ()), subset, item, on_disk)
    folders = dict(zip(todo, frame_verdicts(work, [job for job, *_ in todo.values()])))
    for place, (_, subset, item, on_disk) in todo.items():
        verdict = folders[place] = _named(folders[place], style, facts.NAME)
        if verdict["kind"] and (on_disk is None or Path(verdict["path"]).exists() or (subset.videos, item.key) in good):
            where = f" (listed at {item.where})" if style.where_missing_folder and verdict["kind"] == "missing" else ""
            report.problem(verdict["kind"], verdict["path"], verdict["reason"] + where, verdict["severity"])
    usable = {place: v["frames"] for place, v in folders.items() if v["kind"] is None or v["severity"] == "warning"}
    for subset in subsets:
        _check_lists(report, facts, subset, disk.videos(subset), good, usable, folders, kinds)
        published_check(report, style, subset)
    return videos


def _check_videos(report, facts, subsets, disk, work, deep):
    """Probe every annotated video on disk once, report the missing ones; ``{(videos folder, key): verdict}``."""
    style, paths, where = facts.STYLE, {}, {}
    pairs = _firsts(subsets, style, lambda s: s.videos)
    for subset, item in pairs:
        on_disk = disk.videos(subset)
        if on_disk is not None and item.key in on_disk:
            paths[subset.videos, item.key] = subset.videos / on_disk[item.key]
            where.setdefault(str(paths[subset.videos, item.key]), item.where)
    if not any(disk.videos(subset) is not None for subset in subsets):
        return {}
    checked = verify_videos(report, list(dict.fromkeys(paths.values())), work, deep,
                            where if style.where_videos else None)
    for subset, item in pairs:
        on_disk = disk.videos(subset)
        if on_disk is not None and item.key not in on_disk:
            report.problem("missing", subset.missing_video(item),
                           style.missing_checked.format(where=item.where, name=facts.NAME))
    return {place: checked[str(path)] for place, path in paths.items()}


def _check_lists(report, facts, subset, on_disk, good, usable, folders, kinds):
    """Each list file of ``subset`` read back as training reads it and compared with the annotations."""
    style, labels = facts.STYLE, {item.key: item.label for item in subset.items}
    counted = dict(published=subset.published, mmaction2=subset.mmaction2, annotated=len(labels))
    videos_kind = on_disk is not None and "videos" in kinds
    if all(label is None for label in labels.values()):
        present = {key for folder, key in good if folder == subset.videos} if videos_kind else \
            {key for folder, key in usable if folder == subset.frames}
        report.count(f"{subset.title} (no labels)", on_disk=len(set(labels) & present), **counted)
        return
    for kind in kinds:
        path = subset.lists.get(kind)
        if not path or (kind == "videos" and on_disk is None):
            continue
        if not path.is_file():
            if kind == "videos" or style.rawframes_expected or subset.frames.is_dir():
                after = " (after extract with frames)" if kind == "rawframes" and style.rawframes_expected else ""
                report.problem("missing", path, f"list file not written: run prepare.py {facts.NAME} lists{after}")
            continue
        entries = read_list(report, path, kind, facts.MULTI_LABEL)
        if entries is None:
            continue
        for key, label, count, where in entries:
            fields = dict(key=key, label=label, expected=labels.get(key), name=facts.NAME, **_fields(subset))
            place = (subset.frames, key)
            frames = folders[place]["frames"] if style.recount_bad_folders and place in folders else usable.get(place)
            if key not in labels:
                report.problem("stray", where, style.stray.format(**fields))
            elif style.label and label != labels[key]:
                report.problem("label", where, style.label.format(**fields))
            elif kind == "rawframes" and frames and count != frames:
                report.problem("frame count", where, style.frame_count.format(
                    count=count, frames=frames, folder=subset.frames / key, **fields))
        found = good if kind == "videos" else usable
        folder = subset.videos if kind == "videos" else subset.frames
        report.count(f"{subset.title} {kind}", on_disk=sum(1 for key in labels if (folder, key) in found),
                     written=len(entries), **counted)


def read_list(report, path, kind, multi_label=False):
    """``[(key, label, frames or None, "file:line")]`` of a list file, read as training reads it, or None after a
    problem when it is malformed (labels of a multi-label list as a tuple)."""
    from ..data import load_annotations

    try:
        records = load_annotations(path, "", "video" if kind == "videos" else "rawframes", multi_label)
    except ValueError as error:
        report.problem("annotation", path, str(error))
        return None
    return [(os.path.splitext(r.path)[0] if kind == "videos" else r.path,
             tuple(r.label) if multi_label else r.label, r.num_frames, r.where) for r in records]


def strays(report, style, folder, level, annotated, classes=None, explain="in no annotation file"):
    """Entries of a video folder that no annotation explains, as warnings: at level 2 an entry that is not one of
    the ``classes`` (None: any folder is allowed) would shift a label map built from a directory listing."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    if level == 2:
        for entry in sorted(folder.iterdir()):
            if entry.name.endswith(".partial") or (entry.name.startswith(".") and not style.hidden_strays):
                continue
            if style.file_among_classes and not entry.is_dir():
                report.problem("stray", entry, style.file_among_classes, "warning")
            elif classes is not None and entry.name not in classes:
                report.problem("stray", entry, style.not_a_class, "warning")
    for key, relative in scan_videos(folder, level).items():
        in_class = classes is None or level == 1 or key.split("/")[0] in classes
        if key not in annotated and (in_class or not style.strays_in_classes_only):
            report.problem("stray", folder / relative, f"{explain}: not listed", "warning")


def frame_counts(report, work, folders, tmpl, start_index, left_out, quiet=frozenset(), desc="frame folders"):
    """``{key: frames}`` of the good ones of ``folders`` ({key: frame folder}); a bad folder is a problem (its
    reason + ``left_out``), except a missing one whose key is in ``quiet`` (its video is missing: said so)."""
    keys = list(folders)
    verdicts = frame_verdicts(work, [(str(folders[key]), None, tmpl, start_index) for key in keys], desc)
    counts = {}
    for key, verdict in zip(keys, verdicts):
        if verdict["kind"] is None:
            counts[key] = verdict["frames"]
        elif verdict["kind"] != "missing" or key not in quiet:
            report.problem(verdict["kind"], verdict["path"], verdict["reason"] + left_out, verdict["severity"])
    return counts


def lost_videos(report, items, on_disk, path, lost, tolerated, too_many_path, too_many):
    """Videos that a dataset crawled from YouTube lost (Kinetics, ActivityNet, HVU): each listed one missing on
    disk is a warning (``lost``, with ``{where}``), but more than ``tolerated`` (a fraction) of ``items`` missing
    is an error (``too_many(missing, total)`` says so): a wrong folder rather than YouTube."""
    missing = [item for item in items if item.key not in on_disk]
    for item in missing:
        report.problem("missing", path(item), lost.format(where=item.where), "warning")
    if items and len(missing) > tolerated * len(items):
        report.problem("count", too_many_path, too_many(len(missing), len(items)))


def check_list_file(report, path, name, read, problem):
    """A list file of a dataset's own format (Kinetics, ActivityNet, HVU) read back and checked entry by entry:
    absent, a "missing" problem; ``read(path)`` raising a ValueError, an "annotation" problem (its message); each
    entry, ``problem(entry)``: None, or the error ``(kind, where, text)``. Returns how many entries the file has
    (None when absent or unreadable)."""
    if not path.is_file():
        report.problem("missing", path, f"list file not written: run prepare.py {name} lists")
        return None
    try:
        entries = read(path)
    except ValueError as error:
        report.problem("annotation", path, str(error))
        return None
    for entry in entries:
        found = problem(entry)
        if found:
            report.problem(*found)
    return len(entries)
