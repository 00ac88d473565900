"""The folder dataset's split: stratified per class, group-aware, seeded.

UCF101's lesson: its clips are cut from longer source videos (``v_ApplyEyeMakeup_g08_c01``: group 8, clip 1), and
a clip in the test set whose sibling was trained on is a near-duplicate - the official splits keep each group on
one side, and a random split over clips reports accuracies several points too high. So the unit of the split
is the **group**: ``--group REGEX`` names it from each video's path below its class folder (the regex's first
parenthesised group, else its whole match: ``_g(\\d+)_`` or ``^[^/]+`` for one folder per source video); a video
it does not match is a group of its own. Without ``--group`` every video is its own group.

`assign` splits each class on its own (stratified: every class gets about ``val`` and ``test`` of its videos),
from its own random generator (the seed and the class's name), so adding a class or a video to another class
leaves a class's split as it was. Per class, the groups are shuffled and taken in that order into test, then
val, while they fit the share (at least one group each), always leaving a group for each later subset and for
train; a class with fewer groups than subsets cannot be split: all its videos train, and the caller reports it.

**The split is stable**: a model trained on the lists has seen their train videos, and if a re-run moved one into
val or test its numbers would no longer be held out, without a word. So ``lists`` keeps the split in
``ROOT/split.json`` (`write_record`: each video's side by its class and its path below the class folder, which
outlive a renamed link, and the options that made it), and a re-run passes it to `assign` as ``kept``: a group
with a video on record keeps that side (train, when a group's videos were on several sides: a group partly trained
on must not validate), and only the new groups are shuffled (seeded as before) into what their class lacks of its
shares. A first run (no record) splits exactly as it always did. The record forgets nothing while the options
stand: a video absent now (a probe that failed once, an unmounted disk) keeps its entry, so that it returns to its
side, not as a new video a model may have trained on (`report_split` notes how many). A renamed class folder keeps
its videos' paths within it: a class whose videos are all new takes the sides of the vanished class sharing most
of those paths (`renamed_classes`, a warning either way). A root whose lists were written before the record
existed gets one rebuilt from them (`rebuild_record`) before its first re-run.
When ``--seed``, ``--val``, ``--test`` or ``--group`` changed since the record, the record no longer describes the
split asked for: the videos are split anew, as a first run would, and `report_split` warns that runs trained on
the old lists are no longer held out on the new ones (delete nothing: train again on the new lists).
"""
import csv
import json
import re
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from .files import DatasetError, atomic_write

SIDES = ("train", "val", "test")
RECORD = "split.json"
OPTIONS = ("val", "test", "seed", "group")  # what makes the split: a change re-splits


def group_of(pattern, subject):
    """The group ``pattern`` (a compiled regex) names in ``subject`` (its first matched parenthesised group, else
    the whole match), or None when it does not match."""
    match = pattern.search(subject)
    if match is None:
        return None
    return next((g for g in match.groups() if g is not None), match.group(0))


def compile_group(regex):
    """``--group REGEX`` compiled; a ValueError saying what is wrong."""
    try:
        return re.compile(regex)
    except re.error as error:
        raise ValueError(f"--group '{regex}' is not a regular expression ({error}); e.g. --group '_g(\\d+)_' "
                         "(UCF101's names) or --group '^[^/]+' (one folder per source video)") from None


def assign(videos, val, test, seed, kept=None):
    """``({key: "train" | "val" | "test"}, {class: (videos, groups)} of the classes too small to split)``.

    ``videos``: ``[(key, class, group)]`` (group None: the video alone); ``val``, ``test``: fractions; ``kept``:
    {key: side} of a split made before (`read_record`): their groups keep their sides, only new groups are drawn.
    """
    kept = kept or {}
    held = [(name, fraction) for name, fraction in (("test", test), ("val", val)) if fraction > 0]
    by_class = defaultdict(lambda: defaultdict(list))
    for key, cls, group in videos:
        by_class[cls][key if group is None else ("group", group)].append(key)
    split, too_small = {}, {}
    for cls in sorted(by_class):
        groups = [sorted(keys) for _, keys in sorted(by_class[cls].items(), key=lambda item: str(item[0]))]
        total = sum(map(len, groups))
        new = [keys for keys in groups if not any(key in kept for key in keys)]
        if len(new) == len(groups) and len(groups) < len(held) + 1:
            too_small[cls] = (total, len(groups))
            split.update((key, "train") for keys in groups for key in keys)
            continue
        counts = Counter()
        for keys in (keys for keys in groups if keys not in new):
            side = _kept_side(keys, kept)
            split.update((key, side) for key in keys)
            counts[side] += len(keys)
        rng = np.random.default_rng([seed, zlib.crc32(cls.encode("utf-8"))])
        remaining = [new[i] for i in rng.permutation(len(new))]
        for position, (name, fraction) in enumerate(held):
            # later subsets and train each keep a group, unless they already have one
            reserve = sum(not counts[later] for later, _ in held[position + 1:]) + (not counts["train"])
            target = round(fraction * total) - counts[name]
            for keys in _take(remaining, max(1, target) if not counts[name] else target, reserve):
                split.update((key, name) for key in keys)
                counts[name] += len(keys)
        split.update((key, "train") for keys in remaining for key in keys)
        if held and all(split[key] == "train" for keys in groups for key in keys):
            too_small[cls] = (total, len(groups))
    return split, too_small


def _kept_side(keys, kept):
    """The side of a group on record: train when any of its videos trained (a sibling of a trained clip must not
    validate), else the side on record."""
    sides = {kept[key] for key in keys if key in kept}
    return min(sides, key=SIDES.index)


def _take(remaining, target, reserve):
    """Remove from ``remaining`` (in its order) the groups that fit ``target`` videos, at least one (the smallest
    when none fits) while ``target`` is positive, never leaving fewer than ``reserve`` groups; returns them."""
    taken, count = [], 0
    for keys in list(remaining):
        if len(remaining) <= reserve:
            break
        if count + len(keys) <= target:
            remaining.remove(keys)
            taken.append(keys)
            count += len(keys)
    if not taken and target > 0 and len(remaining) > reserve:
        smallest = min(remaining, key=len)
        remaining.remove(smallest)
        taken.append(smallest)
    return taken


# ---------------------------------------------------------------------------------------------- the record
def read_record(root):
    """``(options, {(class, within): side})`` of ``ROOT/split.json``, or None before the first split; ``options``
    also says whether the record was rebuilt from older lists (``rebuilt``)."""
    path = Path(root) / RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        sides = {(cls, within): side for cls, videos in record["videos"].items() for within, side in videos.items()}
        options = dict({key: record[key] for key in OPTIONS}, rebuilt=bool(record.get("rebuilt")))
    except (ValueError, KeyError, AttributeError, TypeError) as error:
        raise DatasetError(f"{path}: not a split prepare.py wrote ({type(error).__name__}: {error}); delete it to "
                           "split anew (runs trained on the old lists are then no longer held out)") from None
    if set(sides.values()) - set(SIDES):
        raise DatasetError(f"{path}: a side other than {', '.join(SIDES)}; delete it to split anew")
    return options, sides


def write_record(root, state, sides, rebuilt=False):
    """Keep ``sides`` ({(class, within): side}) and the options that made them in ``ROOT/split.json``."""
    videos = defaultdict(dict)
    for (cls, within), side in sorted(sides.items()):
        videos[cls][within] = side
    record = dict({key: state[key] for key in OPTIONS}, videos=videos, **({"rebuilt": True} if rebuilt else {}))
    atomic_write(Path(root) / RECORD, json.dumps(record, indent=1, ensure_ascii=False) + "\n")


def rebuild_record(root, state, manifest):
    """A root whose lists were written before ``split.json`` existed: its record, rebuilt from the video lists and
    ``manifest`` (videos.csv: each link's class and path within it) while they still describe that split, so that
    the first re-run keeps it as any re-run does. Nothing when there is a record, no lists, or the CSV gave the
    split. Call it before anything rewrites videos.csv."""
    root = Path(root)
    lists = {side: root / f"{side}_videos.txt" for side in SIDES}
    if (root / RECORD).exists() or not manifest.is_file() or not lists["train"].is_file():
        return
    with open(manifest, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if any(row.get("split") for row in rows):
        return  # the CSV's split: nothing to keep
    source = {row["video"]: (row["class"], row["within"]) for row in rows if row.get("within") is not None}
    sides = {}
    for side, path in lists.items():
        for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else ():
            link = line.split(" ")[0]
            if link in source:
                sides[source[link]] = side
    if sides:
        write_record(root, state, sides, rebuilt=True)


def changed_options(options, state):
    """What the options in ``state`` change from those on record (``["--seed 1 (was 0)"]``; empty: none)."""
    return [f"--{key} {state[key]} (was {options[key]})" for key in OPTIONS if options[key] != state[key]]


def renamed_classes(recorded, sources):
    """``({new class: class on record}, (classes on record all absent, classes all new))`` of the classes whose
    videos are all absent from ``recorded`` ({(class, within): side}) and those whose ``sources`` ({key: (class,
    within)}) are all new: a renamed (or moved) class folder. Its videos keep their paths within the class, so a
    new class is taken for the vanished one holding most of its paths (the record is keyed by class); the rest are
    returned unmatched, for a warning."""
    present = defaultdict(set)
    for cls, within in sources.values():
        present[cls].add(within)
    recorded_by_class = defaultdict(set)
    for cls, within in recorded:
        recorded_by_class[cls].add(within)
    gone = sorted(cls for cls, withins in recorded_by_class.items() if not withins & present.get(cls, set()))
    new = sorted(cls for cls in present if cls not in recorded_by_class)
    renamed = {}
    for cls in new:
        overlap = {old: len(present[cls] & recorded_by_class[old]) for old in gone if old not in renamed.values()}
        best = max(overlap.values(), default=0)
        if best and list(overlap.values()).count(best) == 1:
            renamed[cls] = max(overlap, key=overlap.get)
    return renamed, ([cls for cls in gone if cls not in renamed.values()], [cls for cls in new if cls not in renamed])


def _on_record(recorded, sources):
    """``({source: side} on record for the present ``sources`` (a renamed class's by its old name), renamed)``."""
    renamed, _ = renamed_classes(recorded, sources)
    found = {}
    for cls, within in sources.values():
        side = recorded.get((renamed.get(cls, cls), within))
        if side is not None:
            found[cls, within] = side
    return found, renamed


def kept_sides(root, state, sources):
    """{key: side} on record for the keys of ``sources`` ({key: (class, within)}, a renamed class's videos by its
    old name: `renamed_classes`); empty when there is no record, or when the options changed since (the split is
    then made anew)."""
    record = read_record(root)
    if record is None or changed_options(record[0], state):
        return {}
    found, _ = _on_record(record[1], sources)
    return {key: found[source] for key, source in sources.items() if source in found}


def report_split(report, root, state, sources, split):
    """After the lists are written: say what became of a split on record, and record this one (not when the CSV
    gives the split: ``sources`` is empty). Unless the split was made anew, the record keeps the videos absent now
    (a failed probe, an unmounted disk): one that returns is not new, and keeps the side a model trained on."""
    if not sources:
        return
    record = read_record(root)
    sides = {sources[key]: side for key, side in split.items()}
    if record is not None:
        options, recorded = record
        changed = changed_options(options, state)
        if changed:
            report.problem("annotation", Path(root) / RECORD, f"split anew, since {', '.join(changed)}: videos the "
                           "runs on the old lists trained on may now be in val or test, whose numbers for those runs "
                           "are no longer held out; train again on the new lists", "warning")
        else:
            found, renamed = _on_record(recorded, sources)
            _report_renamed(report, root, recorded, sources, renamed)
            absent = {source: side for source, side in recorded.items() if source not in sides}
            rebuilt = f"{RECORD} rebuilt from the lists written before it existed; " if options["rebuilt"] else ""
            report.note(f"{rebuilt}split kept: {len(found)} video(s) on the side {RECORD} gives them, "
                        f"{len(sources) - len(found)} new one(s) assigned")
            carried = {(renamed[cls], within) for cls, within in found if cls in renamed}  # named in the warning
            if set(absent) - carried:
                report.note(f"{len(set(absent) - carried)} on record but absent now: their side kept (in {RECORD}), "
                            "should they return")
            sides = {**absent, **sides}
    write_record(root, state, sides)


def _report_renamed(report, root, recorded, sources, renamed):
    """A warning for each class taken for a renamed one, and one for classes gone and new that match none."""
    where = Path(root) / RECORD
    for cls, old in renamed.items():
        kept = sum(source[0] == cls and (old, source[1]) in recorded for source in sources.values())
        report.problem("annotation", where, f"class {cls!r} is new and {old!r} on record is gone: taken as {old!r} "
                       f"renamed, {kept} of its video(s) keep their side by their path within the class (the record "
                       f"keeps {old!r} too, should it return)", "warning")
    gone, new = renamed_classes(recorded, sources)[1]
    if gone and new:
        report.problem("annotation", where, f"class(es) {', '.join(map(repr, gone))} on record are gone and "
                       f"{', '.join(map(repr, new))} new, with no video path in common: if one is the other renamed "
                       "(its videos renamed too), they were split anew and a model trained on the old lists may "
                       "find its training videos in val or test; train again on the new lists", "warning")


def split_problems(report, manifest, annotations, state):
    """What the split could not do as asked: a class with fewer groups than subsets, a video --group misses."""
    subsets_wanted = 1 + (state["val"] > 0) + (state["test"] > 0)
    for cls, (videos, groups) in annotations.too_small.items():
        where = Path(state["videos"]) / cls if not state["annotations"] else f"{manifest} ({cls})"
        report.problem("count", where, f"class {cls!r}: {videos} video(s) in {groups} group(s) "
                       f"are too few to split into {subsets_wanted} subsets: all train, none validates or tests it; "
                       "give it more videos (more source videos, with --group)", "warning")
    for where, within in annotations.unmatched:
        report.problem("annotation", where, f"--group '{state['group']}' does not match {within!r}: the video is a "
                       "group of its own", "warning")
