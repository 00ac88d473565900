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
"""
import re
import zlib
from collections import defaultdict

import numpy as np


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


def assign(videos, val, test, seed):
    """``({key: "train" | "val" | "test"}, {class: (videos, groups)} of the classes too small to split)``.

    ``videos``: ``[(key, class, group)]`` (group None: the video alone); ``val``, ``test``: fractions.
    """
    held = [(name, fraction) for name, fraction in (("test", test), ("val", val)) if fraction > 0]
    by_class = defaultdict(lambda: defaultdict(list))
    for key, cls, group in videos:
        by_class[cls][key if group is None else ("group", group)].append(key)
    split, too_small = {}, {}
    for cls in sorted(by_class):
        groups = [sorted(keys) for _, keys in sorted(by_class[cls].items(), key=lambda item: str(item[0]))]
        total = sum(map(len, groups))
        if len(groups) < len(held) + 1:
            too_small[cls] = (total, len(groups))
            split.update((key, "train") for keys in groups for key in keys)
            continue
        rng = np.random.default_rng([seed, zlib.crc32(cls.encode("utf-8"))])
        remaining = [groups[i] for i in rng.permutation(len(groups))]
        for position, (name, fraction) in enumerate(held):
            reserve = len(held) - position  # later subsets and train each keep a group
            for keys in _take(remaining, max(1, round(fraction * total)), reserve):
                split.update((key, name) for key in keys)
        split.update((key, "train") for keys in remaining for key in keys)
    return split, too_small


def _take(remaining, target, reserve):
    """Remove from ``remaining`` (in its order) the groups that fit ``target`` videos, at least one (the smallest
    when none fits), never leaving fewer than ``reserve`` groups; returns them."""
    taken, count = [], 0
    for keys in list(remaining):
        if len(remaining) <= reserve:
            break
        if count + len(keys) <= target:
            remaining.remove(keys)
            taken.append(keys)
            count += len(keys)
    if not taken and len(remaining) > reserve:
        smallest = min(remaining, key=len)
        remaining.remove(smallest)
        taken.append(smallest)
    return taken
