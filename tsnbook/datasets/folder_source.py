"""Where the folder dataset's videos come from, read as the user left them: a folder of class folders, or a CSV.

A **folder** ``SRC`` holds one folder per class, its videos at any depth below it (``SRC/<class>/a.mp4``,
``SRC/<class>/take 2/b.MOV``): the class is the first folder, whatever the depth. A **CSV** names each video,
``path,label[,split][,group]`` (a header line ``path,label,...`` is skipped; paths relative to ``--videos SRC``,
else to the CSV's own folder): the label is the class's name, the split ``train``, ``val`` or ``test`` (empty on
every line: prepare.py splits), the group the source video a clip was cut from.

What the user gave is reported, never dropped in silence (`folder_walk.walk_folder` for a folder, `read_csv`):
a CSV line naming a file that is not there is an error; a malformed line or an unknown split stops the step
(`AnnotationError`, ``file:line``); a video listed with two labels or splits, or a group on two sides of the
CSV's split, is an error naming the lines, labels that differ only in case a warning, and so is a group with
clips of several classes when prepare.py splits (it splits each class on its own). `duplicates`
finds files with equal bytes (hashing only files of equal size, so 100 GB of videos are not read). `slug` and
`link_names` give each kept video a name that MMAction2's list files can hold: they are split at whitespace, so
``red ball/clip 1.mp4`` is linked as ``red_ball/clip_1.mp4`` (`link_videos`: symbolic links, not copies), and
`name_problems` says so once per class. `fingerprint` tells whether the videos changed since.
"""
import csv
import hashlib
import os
import unicodedata
from collections import defaultdict
from pathlib import Path

from .download import file_digest
from .files import AnnotationError, DatasetError, read_lines
from .folder_walk import Candidate, tree
from .items import csv_row

SPLITS = ("train", "val", "test")
CSV_FORMAT = "path,label[,split][,group]"


def read_csv(path, src, report):
    """The `Candidate`s of a CSV file, in its order; a line naming a file that is not there is an error in
    ``report`` (left out), a malformed line or an unknown split an `AnnotationError` naming ``file:line``."""
    path = Path(path)
    base = Path(src) if src else path.parent
    fix = f"fix the line ({CSV_FORMAT}; paths relative to {base})"
    rows = []
    for number, text in read_lines(path, fix=f"write one line per video: {CSV_FORMAT}"):
        fields = [field.strip() for field in csv_row(text, f"{path}:{number}", fix)]
        if not rows and [f.lower() for f in fields[:2]] == ["path", "label"]:
            rows.append(None)  # the header
            continue
        where = f"{path}:{number}"
        if not 2 <= len(fields) <= 4 or not fields[0] or not fields[1]:
            raise AnnotationError(f"{where}: expected {CSV_FORMAT}, got {text!r}; {fix}")
        split, group = (fields + ["", ""])[2:4]
        if split.lower() not in SPLITS + ("",):
            raise AnnotationError(f"{where}: unknown split {split!r}: use train, val or test (or leave the column "
                                  f"empty on every line: prepare.py then splits by --val and --test)")
        rows.append(Candidate(base / fields[0], fields[1], fields[0], where, split.lower(), group))
    rows = [row for row in rows if row is not None]
    given = [row for row in rows if row.split]
    if given and len(given) != len(rows):
        row = next(row for row in rows if not row.split)
        raise AnnotationError(f"{row.where}: no split where other lines give one: give every line its split, or "
                              "none (prepare.py then splits by --val and --test)")
    kept = _contradictions(rows, report)
    _labels_alike(rows, report)
    _groups_on_two_sides(path, kept, report)
    _groups_across_classes(path, kept, report)
    found = []
    for row in kept:
        if row.path.is_file():
            found.append(row)
        else:
            report.problem("missing", row.path, f"listed at {row.where}, not on disk: left out of the lists; fix the "
                           f"path in the CSV (relative to {base})")
    return found


def _contradictions(rows, report):
    """``rows`` less the videos listed twice with another label or split: which line is right only the user knows,
    so each such repeat is an error naming both lines, and both are left out. The same label and split twice is
    a repeat `duplicates` names (a warning)."""
    first, contradicted = {}, set()
    for row in rows:
        seen = first.setdefault(row.path.resolve(), row)
        for what, kind, before, here in (("label", "label", seen.cls, row.cls),
                                         ("split", "annotation", seen.split, row.split)):
            if before != here:
                report.problem(kind, row.where, f"listed at {seen.where} with {what} {before!r}, here with {what} "
                               f"{here!r}: give the video one {what} (both lines left out)")
                contradicted.add(row.path.resolve())
                break
    return [row for row in rows if row.path.resolve() not in contradicted]


def _labels_alike(rows, report):
    """A warning for each label spelled like another but for case (``Jump``, ``jump``): two classes, where the user
    most likely meant one."""
    spellings = defaultdict(dict)
    for row in rows:
        spellings[row.cls.casefold()].setdefault(row.cls, row.where)
    for spelled in spellings.values():
        (first, where), *others = spelled.items()
        for label, here in others:
            report.problem("label", here, f"label {label!r} here, {first!r} at {where}: two classes whose names "
                           "differ only in case; spell them alike if they are one", "warning")


def _groups_on_two_sides(path, rows, report):
    """An error for each group the CSV's split puts on several sides, naming its lines on each: a clip held out
    whose sibling trains is a near-duplicate of a training video (the split's reason for groups). A group is one
    source video, whatever the classes of its clips."""
    rows = [row for row in rows if row.split and row.group]
    classes = _lines_by(rows, lambda row: row.cls)
    for group, lines in _lines_by(rows, lambda row: row.split).items():
        if len(lines) > 1:
            whose = f"class{'es' * (len(classes[group]) > 1)} {', '.join(map(repr, classes[group]))}"
            report.problem("annotation", f"{path}:{list(lines.values())[1][0]}", f"group {group!r} of {whose} "
                           f"on {len(lines)} sides of the split ({_where(lines)}): a clip whose sibling trains is a "
                           "near-duplicate, and the held-out numbers come out too high; give the group's lines one "
                           "split")


def _groups_across_classes(path, rows, report):
    """A warning for each group with clips of several classes (one source video, two actions) when prepare.py
    splits: it splits each class on its own, so the group's clips can land on several sides, the leak groups are
    there to prevent. Naming the lines lets the user give the split in the CSV instead."""
    rows = [row for row in rows if row.group and not row.split]
    for group, lines in _lines_by(rows, lambda row: row.cls).items():
        if len(lines) > 1:
            report.problem("annotation", f"{path}:{list(lines.values())[1][0]}", f"group {group!r} holds clips of "
                           f"{len(lines)} classes ({_where(lines)}): prepare.py splits each class on its own, so "
                           "the group's clips may land on different sides (a held-out clip whose sibling trains); "
                           "to keep it on one side, give every line its split in the CSV", "warning")


def _lines_by(rows, value):
    """{group: {value(row): [line numbers]}}, in the CSV's order: where a group's clips fall, by split or class."""
    lines = defaultdict(lambda: defaultdict(list))
    for row in rows:
        lines[row.group][value(row)].append(_line(row))
    return lines


def _where(lines):
    """``train: lines 3, 4; test: line 9`` for a group's {value: [line numbers]}."""
    return "; ".join(f"{value}: line{'s' * (len(numbers) > 1)} {', '.join(numbers)}"
                     for value, numbers in lines.items())


def _line(row):
    """The line number of a CSV row (its ``where`` is ``file:line``)."""
    return row.where.rpartition(":")[2]


def fingerprint(src, table):
    """A hash of what the user gave, cheap to take (names, sizes and times; no video read): the CSV's bytes and
    the files it names, or every visible file below SRC (`folder_walk.tree`: no loop followed). Another
    fingerprint means the videos changed since taken in."""
    digest = hashlib.sha256()
    if table:
        text = Path(table).read_bytes()
        digest.update(text)
        base = Path(src) if src else Path(table).parent
        names = [row[0].strip() for row in csv.reader(text.decode("utf-8", "replace").splitlines()) if row]
    else:
        base, names = Path(src), []
        for top, files in tree(src, [os.path.realpath(src)], [], lambda path, reason: None):
            names += [os.path.relpath(os.path.join(top, name), src) for name in files]
    for name in names:
        try:
            stat = (base / name).stat()
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
        except OSError:
            digest.update(f"{name}\0-\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def duplicates(candidates, on_record=()):
    """``{candidate: the one kept}`` for files with equal bytes (not empty ones): one ``on_record`` ((class, within)
    in the split kept: a copy added later must not take a trained video's place under a name the split does not
    know), else the shortest name (``clip 1.mp4`` rather than ``clip 1 copy.mp4``). Sizes first, then SHA-256 of
    the few files whose size another shares."""
    by_size = defaultdict(list)
    for candidate in candidates:
        size = candidate.path.stat().st_size
        if size:
            by_size[size].append(candidate)
    by_digest = defaultdict(list)
    for same_size in (group for group in by_size.values() if len(group) > 1):
        for candidate in same_size:
            by_digest[file_digest(candidate.path, "sha256").digest()].append(candidate)
    found = {}
    for same in (group for group in by_digest.values() if len(group) > 1):
        kept = min(same, key=lambda c: ((c.cls, c.within) not in on_record, len(c.within)))
        found.update((candidate, kept) for candidate in same if candidate is not kept)
    return found


def link_videos(report, videos, links):
    """Make ``videos/<link>`` -> file for each of ``links`` ({link: file}); remove the links no longer wanted (and
    nothing else: a file there that is not a link is an error naming it)."""
    wanted = {videos / link: Path(path).resolve() for link, path in links.items()}
    for target, source in wanted.items():
        if target.is_symlink():
            if Path(os.readlink(target)) == source:
                report.did("links kept")
                continue
            target.unlink()
        elif target.exists():
            raise DatasetError(f"{target}: a file, not a link that prepare.py made; move it out of {videos}")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(source, target)
        except OSError as error:
            raise DatasetError(f"{target}: cannot make a link here ({error.strerror}); ROOT must be on a file system "
                               "with symbolic links (not FAT or exFAT)") from None
        report.did("links made")
    for path in sorted(videos.rglob("*"), reverse=True):
        if path.is_symlink() and path not in wanted:
            path.unlink()
            report.did("links removed (the video is gone or unusable)")
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def slug(name):
    """``name`` as a safe file name: accents dropped (``Café`` -> ``Cafe``), anything but letters, digits, ``.``,
    ``-`` and ``_`` replaced by ``_``; never empty."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in ascii_name).strip("._")
    return safe or "x"


def _unique(name, taken):
    """``name``, or ``name_2``, ``name_3``... (before the extension) when its stem is taken (case-insensitively:
    macOS and Windows file systems ignore case)."""
    stem, ext = os.path.splitext(name)
    candidate, n = name, 1
    while os.path.splitext(candidate)[0].lower() in taken:
        n += 1
        candidate = f"{stem}_{n}{ext}"
    taken.add(os.path.splitext(candidate)[0].lower())
    return candidate


def link_names(classes, candidates):
    """``({class: folder}, {candidate: "folder/file"})``: a safe, unique name for each class folder and for each
    video inside it (the folders below the class joined by ``__``: ``take 2/b.MOV`` -> ``take_2__b.mov``)."""
    folders, taken = {}, set()
    for cls in classes:
        folders[cls] = _unique(slug(cls), taken)
    names, inside = {}, defaultdict(set)
    for candidate in candidates:
        stem, ext = os.path.splitext(candidate.within.replace("\\", "/"))
        name = _unique("__".join(slug(part) for part in stem.split("/")) + ext.lower(), inside[candidate.cls])
        names[candidate] = f"{folders[candidate.cls]}/{name}"
    return folders, names


def unsafe_reason(name):
    """Why a class or file name is changed for the lists ("spaces", "non-ASCII letters", ...; None: it is not)."""
    reasons = []
    if any(c.isspace() for c in name):
        reasons.append("spaces")
    if not name.isascii():
        reasons.append("non-ASCII letters")
    if any(not (c.isalnum() or c in "._-") and not c.isspace() for c in name if c.isascii()):
        reasons.append("characters other than letters, digits, '.', '-', '_'")
    return " and ".join(reasons) or None


def name_problems(report, folders, names, where_class):
    """One "name" warning per class whose name, or whose videos' names, are changed for the lists
    (``where_class(cls)``: the folder or CSV line a message names)."""
    for cls, folder in folders.items():
        renamed = [(c, link) for c, link in names.items() if c.cls == cls and unsafe_reason(_flat(c.within))]
        reason = unsafe_reason(cls)
        if not (reason or renamed):
            continue
        what = [f"{reason} in the class name"] if reason else []
        if renamed:
            what.append(f"{unsafe_reason(_flat(renamed[0][0].within))} in {len(renamed)} video name(s)")
        example = f"{renamed[0][0].within!r} as videos/{renamed[0][1]}" if renamed else f"videos/{folder}/"
        report.problem("name", where_class(cls), f"{' and '.join(what)}: linked under names list files can hold "
                       f"(they split lines at whitespace), e.g. {example}; classes.txt keeps the name {cls!r}, "
                       "videos.csv each link's file", "warning")


def _flat(within):
    """A path below a class folder as one name ("/" is no reason to rename it)."""
    return within.replace("\\", "/").replace("/", "_")
