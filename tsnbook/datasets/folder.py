"""Your own videos as a dataset, the thirteenth of ``prepare.py``: a folder of class folders (or a CSV) to
verified lists, a label map and a config file that trains on them.

    python data_scripts/prepare.py folder all --root data/mine --videos my_videos [--group '^[^/]+']
    python -m tsnbook train data/mine/config.py --validate

``--videos SRC`` holds one folder per class, the videos at any depth below it (`folder_source`); or
``--annotations FILE.csv`` names each video (``path,label[,split][,group]``). The layout in ROOT::

    ROOT/folder.json                              the options last given (SRC, split, base row), for later steps
    ROOT/videos/<class>/<video>                   links to your usable videos, under names list files hold (extract)
    ROOT/videos.csv                               each link's class and file, the CSV's split and group (extract)
    ROOT/rawframes/<class>/<video>/img_00001.jpg  frames, only when asked: extract --frames rgb
    ROOT/classes.txt                              the class names, one per line, in label order (lists)
    ROOT/{train,val,test}_{videos,rawframes}.txt  MMAction2's list files (lists; test with --test F)
    ROOT/split.json                               each video's side, kept on a re-run (lists, `folder_split`)
    ROOT/config.py                                the config to train with (lists, `folder_config`)

**Videos stay where they are.** ``extract`` links each usable video into ``ROOT/videos`` (a symbolic link: no
copy, whatever the size of SRC) under a name MMAction2's list files can hold - they are split at whitespace, and
classes like "playing guitar" are common - so ``ROOT/videos/playing_guitar/take_1__clip_1.mp4`` points at
``SRC/playing guitar/take 1/clip 1.mp4`` and every step after it (frames, lists, verify, training, MMAction2
itself) reads an ordinary MMAction2 layout; classes.txt keeps the real names, which predictions print. Moving
SRC breaks the links: ``verify`` names each, and ``extract`` makes them again.

**Nothing is dropped in silence**, and each problem is named once, by the step that finds it: ``extract`` looks
at every file of SRC once (not a video, outside the class folders, a class folder without videos, empty,
unreadable or cut short, the same bytes twice, a name that is changed for the lists) and links only the usable
videos, so training never meets a broken one; ``lists`` splits (`folder_split`: stratified, group-aware with
``--group REGEX``, seeded, stable when videos are added) and names each class too small to split (it trains on all
its videos); ``verify`` checks the links and lists. Bad videos are warnings (left out, named: the rest trains);
what makes your instructions impossible is an error (a CSV line naming a file that is not there, a video with two
labels), or stops the step (an unknown split, fewer than two classes).

``download`` has nothing to do (your videos are already there) and says so; with none given yet it stops the run
there, so that no "ok" line comes before the error. Options go to `configure` (prepare.py
passes them) and are kept in ``ROOT/folder.json``, so ``verify`` or ``lists`` alone need only ``--root``.
"""
import csv
import io
import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from .. import flow
from . import folder_config, folder_replica, folder_split, listing, lists
from .files import AnnotationError, DatasetError, atomic_write, read_lines
from .folder_source import CSV_FORMAT, duplicates, fingerprint, link_names, link_videos, name_problems, read_csv
from .folder_walk import walk_folder, why_no_classes
from .items import Item, Subset
from .report import Report
from .shards import Work
from .steps import Dataset
from .verify import video_verdicts

NAME = "folder"
TITLE = "your videos"
FILES = ()
STATE, MANIFEST, CLASSES = "folder.json", "videos.csv", "classes.txt"
ROOT_ENTRIES = (STATE, MANIFEST)
VIDEO_FOLDERS = {"videos": "rawframes"}
LEVEL = 2  # ROOT/videos/<class>/<link>
FRAME_TMPL, START_INDEX = flow.RGB_TEMPLATE, 1
DEFAULT_FRAMES = "none"  # training reads the videos; frames only when asked (extract --frames rgb)
MULTI_LABEL = False
SUBSET_NAMES = ("train", "val", "test")
DEFAULTS = dict(videos=None, annotations=None, val=0.2, test=0.0, seed=0, group=None,
                base=folder_config.DEFAULT_BASE, load_from=None)
STYLE = replace(
    listing.SUBSETS, published="", not_a_class="",
    missing="listed at {where}, its link points nowhere (the video moved or was deleted?): left out of every "
            "list; run prepare.py folder extract again",
    missing_checked="listed at {where}, its link points nowhere (the video moved or was deleted?): run prepare.py "
                    "folder extract again",
    stray="{key} is not in the {title} split of videos.csv: a stale list; run prepare.py {name} lists again",
    label="{key} has label {label} here, {expected} by classes.txt: a stale list; run prepare.py {name} lists again",
    file_among_classes="a file among the class folders of ROOT/videos, where prepare.py makes only links: "
                       "ignored; remove it")
STRAYS = "in no line of videos.csv"


# --------------------------------------------------------------------------------------------------- options
def read_state(root):
    """The options last given for ROOT (`DEFAULTS` for those never given)."""
    path = Path(root) / STATE
    return dict(DEFAULTS, **(json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}))


def write_state(root, state):
    atomic_write(Path(root) / STATE, json.dumps(state, indent=1, ensure_ascii=False) + "\n")


def configure(root, **options):
    """Check and keep the options of this run (prepare.py's ``--videos``, ``--annotations``, ``--val``,
    ``--test``, ``--seed``, ``--group``, ``--base``, ``--load-from``; None: as last given) in ``ROOT/folder.json``;
    a `DatasetError` names a wrong one (a new ``base`` without ``load_from`` starts from the row's own weights).
    Paths are kept as given, relative to the working directory like the
    configs' paths (so that messages name them as you do): run the later steps from the same folder. Returns the
    options in force."""
    root = Path(root)
    folder_split.rebuild_record(root, read_state(root), root / MANIFEST)  # by the options that made the lists
    given = {key: value for key, value in options.items() if value is not None}
    unknown = set(given) - set(DEFAULTS)
    if unknown:
        raise DatasetError(f"unknown option(s) of the folder dataset: {', '.join(sorted(unknown))}")
    for key, kind in (("videos", "folder"), ("annotations", "file")):
        if key in given:
            path = Path(given[key])
            if not (path.is_dir() if kind == "folder" else path.is_file()):
                raise DatasetError(f"--{key} {path}: no such {kind}; " + (
                    "give the folder that holds one folder per class" if key == "videos" else
                    f"give a CSV file of lines {CSV_FORMAT}"))
            given[key] = str(path)  # as given: relative to the working directory, as a config's data_root
    state = dict(read_state(root), **given)
    if "base" in given and "load_from" not in given:  # the weights go with the row: a new row starts from its own
        state["load_from"] = None
    for key in ("val", "test"):
        if not 0 <= state[key] < 1:
            raise DatasetError(f"--{key} {state[key]}: a fraction of each class's videos, from 0 to below 1")
    if state["val"] + state["test"] >= 1:
        raise DatasetError(f"--val {state['val']} --test {state['test']}: together below 1, or nothing trains")
    if state["group"]:
        try:
            folder_split.compile_group(state["group"])
        except ValueError as error:
            raise DatasetError(str(error)) from None
    if "base" in given:
        folder_config.base_config(state["base"])
    if state["videos"]:
        _check_places(root, Path(state["videos"]))
    if given:
        write_state(root, state)
    return state


def _check_places(root, src):
    """ROOT must not lie inside SRC (its links would become videos of a class), nor SRC inside ROOT's folders."""
    inner, outer = Path(root).resolve(), Path(src).resolve()
    if inner == outer or outer in inner.parents:
        raise DatasetError(f"--root {root} is inside --videos {src}: its links and lists would become part of your "
                           "videos; choose a root outside it (e.g. data/<name>)")
    for folder in ("videos", "rawframes"):
        if outer == inner / folder or inner / folder in outer.parents:
            raise DatasetError(f"--videos {src} is inside {Path(root) / folder}, which prepare.py fills with links "
                               "and frames; keep your videos in a folder of their own")


def looks_inside(folder):
    """ROOT/videos or ROOT/rawframes given as the root (`files.check_level`)."""
    if folder.name in VIDEO_FOLDERS or folder.name in VIDEO_FOLDERS.values():
        return f"the {folder.name} folder (ROOT/{folder.name})" if (folder.parent / STATE).is_file() else None
    return None


# ---------------------------------------------------------------------------------------------------- take in
def take_in(root, report, work):
    """Look at every file the user gave once, report what cannot be trained on, link the usable videos into
    ``ROOT/videos`` and write ``ROOT/videos.csv`` (the dataset's annotations from here on)."""
    state = read_state(root)
    src, table = state["videos"], state["annotations"]
    if not src and not table:
        _nothing_given(root)
    folder_split.rebuild_record(root, state, Path(root) / MANIFEST)  # before videos.csv is written anew
    if table:
        candidates = read_csv(table, src, report)
        labels = list(dict.fromkeys(c.cls for c in candidates))
        order = sorted(labels, key=int if all(label.isdigit() for label in labels) else str)
        first = {c.cls: c.where for c in reversed(candidates)}
        where_class = first.get
    else:
        order, candidates = walk_folder(src, report)
        where_class = {cls: str(Path(src) / cls) for cls in order}.get
    usable = _usable(root, report, candidates, work)
    classes = [cls for cls in order if any(c.cls == cls for c in usable)]
    for cls in order:
        if cls not in classes and any(c.cls == cls for c in candidates):
            report.problem("count", where_class(cls), f"none of its {sum(c.cls == cls for c in candidates)} "
                           "video(s) can be used (named above): not a class (left out of classes.txt)", "warning")
    if len(classes) < 2:
        raise DatasetError(f"{src or table}: {len(classes)} class(es) with usable videos; a classifier needs at least "
                           "2 (one folder per class, each with its videos)" + why_no_classes(report.problems))
    folders, names = link_names(classes, usable)
    name_problems(report, folders, names, where_class)
    link_videos(report, Path(root) / "videos", {names[c]: c.path for c in usable})
    rows = [[names[c], c.cls, str(c.path), c.within, c.split, c.group] for c in usable]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([["video", "class", "file", "within", "split", "group"]] + rows)
    atomic_write(Path(root) / MANIFEST, text.getvalue())
    write_state(root, dict(state, taken_in=_source(state)))
    report.did("videos found", len(candidates))
    report.did("videos usable", len(usable))


def _nothing_given(root):
    raise DatasetError(f"{root}: no videos given yet: pass --videos SRC (a folder with one folder per class) or "
                       f"--annotations FILE.csv (lines {CSV_FORMAT})")


def _source(state):
    """What the videos were taken in from: the options and a fingerprint of the files (`fingerprint`)."""
    return dict(videos=state["videos"], annotations=state["annotations"],
                fingerprint=fingerprint(state["videos"], state["annotations"]))


def _usable(root, report, candidates, work):
    """The candidates that can be trained on; each one that cannot is reported (a warning: it is left out). Of
    equal copies, the one in ROOT's split record is kept (`duplicates`)."""
    empty = [c for c in candidates if c.path.stat().st_size == 0]
    for c in empty:
        report.problem("unreadable", c.where, "empty file (0 bytes): not a video; left out of the lists (copy it "
                       "again from where it came)", "warning")
    record = folder_split.read_record(root)
    copies = duplicates(candidates, record[1] if record else ())
    for c, first in copies.items():
        same = c.path.resolve() == first.path.resolve()
        report.problem("duplicate", c.where, f"listed twice (first at {first.where}): left out the second time"
                       if same else f"the same bytes as {first.where}" + (f", a video of class {first.cls!r}" if
                                                                            first.cls != c.cls else "") +
                       ": left out (one video twice would be trained on twice, or sit on both sides of the split)",
                       "warning")
    probe = [c for c in candidates if c not in copies and c.path.stat().st_size]
    verdicts = video_verdicts(work, [c.path for c in probe], desc="videos")
    usable = []
    for c in probe:
        verdict = verdicts[str(c.path)]
        if verdict["kind"] is None or verdict["severity"] == "warning":
            usable.append(c)
        if verdict["kind"]:
            left = "" if verdict["severity"] == "warning" else "; left out of the lists"
            report.problem(verdict["kind"], c.where, verdict["reason"] + left, "warning")
    return usable


# ------------------------------------------------------------------------------------------------ annotations
@dataclass
class Annotations:
    """ROOT/videos.csv read back: the classes in label order, its items (`items.Item`), each key's subset, the
    classes too small to split ({class: (videos, groups)}), the videos ``--group`` does not match, and each key's
    (class, path below its class folder): what ``split.json`` keeps the split by (`folder_split.report_split`;
    empty when the CSV gives the split)."""
    classes: list
    items: list
    split: dict
    too_small: dict
    unmatched: list
    sources: dict

    def __getitem__(self, index):  # the shared steps take the classes as annotations[0]
        return (self.classes,)[index]


def read_annotations(root):
    """`Annotations` of ``ROOT/videos.csv`` with the split in force (the CSV's, else ``--val``/``--test``, each
    video on record in ``ROOT/split.json`` kept on its side: `folder_split`)."""
    root = Path(root)
    state = read_state(root)
    path = root / MANIFEST
    fix = "run prepare.py folder extract (it writes this file from your videos)"
    entries = []
    for number, text in read_lines(path, fix=fix)[1:]:
        row = next(csv.reader([text]))
        if len(row) != 6:
            raise AnnotationError(f"{path}:{number}: expected 6 fields (video,class,file,within,split,group); {fix}")
        entries.append((f"{path}:{number}", *row))
    classes = sorted({e[2] for e in entries}, key=int if all(e[2].isdigit() for e in entries) else str)
    label = {cls: i for i, cls in enumerate(classes)}
    pattern = folder_split.compile_group(state["group"]) if state["group"] else None
    items, groups, unmatched, given, sources = [], [], [], {}, {}
    for where, video, cls, _, within, split, group in entries:
        key = os.path.splitext(video)[0]
        items.append(Item(key, label[cls], where, video))
        sources[key] = (cls, within)
        if not group and pattern is not None:
            group = folder_split.group_of(pattern, within)
            if group is None:
                unmatched.append((where, within))
        groups.append((key, cls, group or None))
        if split:
            given[key] = split
    if given:
        return Annotations(classes, items, given, {}, [], {})  # the CSV's split: nothing to keep
    kept = folder_split.kept_sides(root, state, sources)
    split, too_small = folder_split.assign(groups, state["val"], state["test"], state["seed"], kept)
    return Annotations(classes, items, split, too_small, unmatched, sources)


def subsets(root, annotations):
    """train, val and test (those with videos), all in ROOT/videos and ROOT/rawframes."""
    root = Path(root)
    found = []
    for name in SUBSET_NAMES:
        items = [item for item in annotations.items if annotations.split[item.key] == name]
        if items or name == "train":
            found.append(Subset(name, items, root / MANIFEST, root / "videos", root / "rawframes", LEVEL,
                                {kind: root / f"{name}_{kind}.txt" for kind in listing.KINDS}))
    return found


# ------------------------------------------------------------------------------------------------------ steps
def fetch_downloads(root, report, mirror, progress):
    """Nothing to download: the videos are the user's. Says so, and where they are; none given yet stops here,
    before an "ok" line the next step would contradict."""
    state = read_state(root)
    src = state["videos"] or state["annotations"]
    if not src:
        _nothing_given(root)
    report.note(f"nothing to download: your videos are already there ({src}); extract links them into ROOT/videos")


def extract_archives(root, report):
    """Nothing to unpack: `extract` takes the videos in (`take_in`) instead."""


def check_annotations(report, root, annotations):
    """verify: classes.txt must name the classes of videos.csv, in order."""
    path = Path(root) / CLASSES
    if not path.is_file() or lists.read_label_map(path) != annotations.classes:
        report.problem("label", path, "not the classes of videos.csv: run prepare.py folder lists again")


_dataset = Dataset(sys.modules[__name__])
download, _extract, _build_lists, verify, merge_shards = _dataset.steps()


def extract(root, workers=None, shard=None, results=None, **options):
    """Take the videos in (check each, link the usable ones: `take_in`), then extract frames when asked
    (``frames="rgb"``...: `steps.Dataset.extract`). One shard of several only extracts frames."""
    if shard is not None or results is not None:
        return _extract(root, workers=workers, shard=shard, results=results, **options)
    root = _dataset.root(root)
    report = Report(NAME, "extract", root)
    take_in(root, report, Work(root, workers))
    return report.merge(_extract(root, workers=workers, **options))


def build_lists(root, workers=None, frame_tmpl=None, start_index=None):
    """The split, the list files, ``classes.txt`` and ``config.py``. Takes the videos in first when ``extract``
    has not, or when they changed since (other options, files added, removed or changed: `fingerprint`)."""
    root = _dataset.root(root)
    report, state = Report(NAME, "lists", root), read_state(root)
    if not (root / MANIFEST).is_file() or state.get("taken_in") != _source(state):
        take_in(root, report, Work(root, workers))  # first, or the videos changed since: taken in again
    report.merge(_build_lists(root, workers, frame_tmpl, start_index))
    annotations, state = read_annotations(root), read_state(root)
    folder_split.split_problems(report, root / MANIFEST, annotations, state)
    written = {s.title: s.lists["videos"].name for s in subsets(root, annotations)}
    if len(written) == 1:
        report.problem("count", root / MANIFEST, "no video went to val or test, so training cannot be validated or "
                       "tested: give each class more videos (or groups), or --val / --test a larger fraction")
        return report
    folder_split.report_split(report, root, state, annotations.sources, annotations.split)
    lists.write_label_map(root / CLASSES, annotations.classes)
    if lists.read_label_map(root / CLASSES) != annotations.classes:
        raise DatasetError(f"{root / CLASSES}: class names that read back as others (a name that starts with a "
                           "number and a space?); rename the class folders")
    train = sum(annotations.split[item.key] == "train" for item in annotations.items)
    text, start = folder_config.contents(root, state["base"], annotations.classes, written, train,
                                            state["load_from"])
    path = folder_config.write(report, root, text, state)
    write_state(root, state)
    folder_config.check(path)
    folder_config.check_start(report, state, start)
    report.note(folder_config.next_step(root, path))
    return report


make_replica = folder_replica.make_replica  # a folder of your own videos in miniature
