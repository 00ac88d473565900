"""A folder of class folders read as the user left it: each class's videos at any depth, links followed once.

``SRC`` holds one folder per class, its videos at any depth below it (``SRC/<class>/a.mp4``, ``SRC/<class>/take
2/b.MOV``): the class is the first folder, whatever the depth. What is not a video (by its extension:
`VIDEO_EXTENSIONS`, any case) or lies outside the class folders is a "stray", a class folder without videos a
"count", both warnings: the rest can still be trained on. Hidden entries (``.DS_Store``, ``.git``) are not looked
at, only counted (one note).

**Links are followed, each folder once** (`tree`, `follow`): a link leads either outside what is already scanned
(followed, and what it leads to is scanned from then on), or into SRC (its folder is scanned as itself), back up
the tree (a loop), into a folder already scanned through another link, or to a folder that holds one: each of
those would take a video twice - in two classes, or endlessly - so it is named once and not followed. A class
folder that is itself a link goes through the same check: a class that leads into another class, or to what
another link already took, is left out with that one warning.
"""
import os
from dataclasses import dataclass
from pathlib import Path

from ..io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS


@dataclass(frozen=True)
class Candidate:
    """One video as the user named it: ``within`` its path below its class folder (a CSV: the path as written),
    what ``--group REGEX`` reads and its link is named after; ``where`` what a message names (the file, or
    ``file.csv:line``); ``split`` and ``group`` the CSV's."""
    path: Path
    cls: str
    within: str
    where: str
    split: str = ""
    group: str = ""


def is_video_name(name):
    return os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def _visible(name):
    return not name.startswith(".")


def walk_folder(src, report):
    """``(class folder names, [Candidate])`` of a folder of class folders, sorted; what is not a video, a class
    folder without one, and a class folder that is a link `follow` refuses (the class is left out) are reported
    (warnings: the rest can still be trained on), the hidden entries counted in one note."""
    src = Path(src)
    entries = sorted(os.scandir(src), key=lambda e: e.name)
    hidden = [entry.path for entry in entries if not _visible(entry.name)]
    taken = [os.path.realpath(src)]  # what the walk covers: SRC, and each folder outside it a link led to
    classes, found = [], []
    for entry in (entry for entry in entries if _visible(entry.name)):
        if not entry.is_dir():
            report.problem("stray", entry.path, f"not in a class folder (SRC/<class>/...): ignored; {_videos_are()}"
                           if is_video_name(entry.name) else "not in a class folder (SRC/<class>/...): ignored",
                           "warning")
            continue
        reason = follow(entry.path, taken)
        if reason:  # a class folder that is a link: into another class, or to what a link already took
            report.problem("stray", entry.path, f"{reason}; class {entry.name!r} left out", "warning")
            continue
        classes.append(entry.name)
        videos = list(_videos_below(Path(entry.path), src, entry.name, report, taken, hidden))
        if not videos:
            report.problem("count", entry.path, "no videos in this class folder: not a class (left out of "
                           "classes.txt); put videos into it, or remove it", "warning")
        found += videos
    if hidden:
        report.note(f"{len(hidden)} hidden file(s) or folder(s) (names starting with '.') ignored, e.g. {hidden[0]}")
    return classes, found


NOT_A_VIDEO = "not a video"  # how the report names a stray file, and how `why_no_classes` finds them


def why_no_classes(problems):
    """What a folder held instead of videos, for the error that stops ``extract`` with fewer than two classes:
    that error ends the step before its report is written, so without this a folder of images (frame folders,
    say) was told only "0 class(es) with usable videos". ``problems``: the report's, so far."""
    strays, others = [], []
    for problem in problems:
        (strays if problem.reason.startswith(NOT_A_VIDEO) else others).append(problem)
    said = []
    if strays:
        said.append(f"{len(strays)} file(s) are not videos, e.g. {strays[0].path} ({_videos_are()})")
    if any(os.path.splitext(p.path)[1].lower() in IMAGE_EXTENSIONS for p in strays):
        said.append("images are not videos: a TSN reads each training video's frames over time; turn each folder "
                    "of frames into a video first (ffmpeg -framerate 25 -i img_%05d.jpg take.mp4), or write "
                    "MMAction2 rawframes lists yourself (source = 'rawframes')")
    said += [f"{p.path}: {p.reason}" for p in others[:3]]
    if len(others) > 3:
        said.append(f"and {len(others) - 3} more problem(s) like these")
    return "".join(f"\n  {line}" for line in said)


def _videos_are():
    return f"videos end in {' '.join(VIDEO_EXTENSIONS)}, in any case"


def _videos_below(folder, src, cls, report, taken, hidden):
    """The videos at any depth below a class folder (`tree`: a link to a folder followed once)."""
    def skip(path, reason):
        report.problem("stray", path, reason, "warning")

    for top, files in tree(folder, taken, hidden, skip):
        for name in files:
            path = Path(top) / name
            if not path.exists():
                report.problem("stray", path, "a link that points nowhere: ignored", "warning")
            elif is_video_name(name):
                yield Candidate(path, cls, path.relative_to(src / cls).as_posix(), str(path))
            else:
                report.problem("stray", path, f"{NOT_A_VIDEO} ({os.path.splitext(name)[1] or 'no extension'}): "
                               f"ignored; {_videos_are()}", "warning")


def tree(folder, taken, hidden, skip):
    """``(folder, [visible file names])`` at any depth below ``folder``, sorted, each real folder once: a link to
    a folder is followed only when it leads outside what ``taken`` covers (`follow`: SRC, then each link's target:
    a link into SRC, back up the tree, to a folder another link took or to one that holds it would scan videos
    again, as two classes or in a loop); ``skip(link, reason)`` is told of each other, once. Hidden names go to
    ``hidden``."""
    for top, folders, files in os.walk(folder, followlinks=True):
        hidden += [os.path.join(top, name) for name in sorted(folders + files) if not _visible(name)]
        followed = []
        for name in sorted(f for f in folders if _visible(f)):
            path = os.path.join(top, name)
            reason = follow(path, taken)
            if reason:
                skip(path, reason)
                continue
            followed.append(name)
        folders[:] = followed
        yield top, sorted(f for f in files if _visible(f))


def follow(path, taken):
    """Why the folder ``path`` is not scanned (None: it is): a link is followed only where it leads outside what
    ``taken`` covers, and what it leads to is taken from then on."""
    if not os.path.islink(path):
        return None
    real = os.path.realpath(path)
    reason = _not_followed(real, taken)
    if reason is None:
        taken.append(real)
    return reason


def _not_followed(real, taken):
    """Why a link to the folder ``real`` is not followed (None: it is), ``taken[0]`` being SRC's real path."""
    def within(inner, outer):
        return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)

    for covered in taken:
        if within(real, covered) or within(covered, real):
            if covered != taken[0] and within(real, covered):
                return f"not followed: it leads to {real}, already scanned (through a link to {covered})"
            if covered != taken[0]:  # a folder that holds one a link took: only that part was scanned
                return (f"not followed: it leads to {real}, which holds {covered}, already scanned through a link: "
                        f"the rest of {real} is not scanned")
            if within(covered, real):
                return f"not followed: it leads to {real}, which holds SRC (a loop)"
            return f"not followed: it leads to {real}, inside SRC and scanned as itself (a video is taken once)"
    return None
