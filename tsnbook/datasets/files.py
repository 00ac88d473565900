"""Files that a later step may trust: atomic writes, annotation files read with clear errors, the root check.

Every file a preparation step writes appears under its real name only when complete: it is written under
``<name>.partial`` and renamed (`atomic_write`), so an interrupted run leaves nothing a later step would take
for finished work. Annotation files are read once, with one-line errors naming the file (and line) and what
to do (`read_lines`, `AnnotationError`); Windows line ends and trailing blanks are accepted, as in the real
UCF101 split files.
"""
import os
from pathlib import Path

from ..texts import read_text


class DatasetError(Exception):
    """A step cannot go on: the message is one line naming the file and what to do (prepare.py exits 2)."""


class AnnotationError(DatasetError):
    """An annotation file that is missing, unreadable, or has a bad line (``file:line: reason; what to do``)."""


def partial_path(path):
    """The temporary name of ``path`` while it is being written."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def atomic_write(path, data):
    """Write ``data`` (str or bytes) to ``path`` through `partial_path` + rename; returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(path)
    try:
        if isinstance(data, str):
            temporary.write_text(data, encoding="utf-8")
        else:
            temporary.write_bytes(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def read_lines(path, fix="download and extract the annotations again (prepare.py DATASET extract)"):
    """The non-blank lines of a text annotation file as ``[(line_number, stripped_text), ...]``.

    The text is `tsnbook.texts.read_text`'s, as list files and label maps are read: CRLF, trailing whitespace and
    a byte order mark (Windows editors and spreadsheets write one) are accepted. A missing, empty, or undecodable
    file raises `AnnotationError` with ``fix`` (what the user should do) in its one-line message.
    """
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"{path}: annotation file missing; {fix}")
    try:
        text = read_text(path, "annotation file", f"a damaged or wrong file? {fix}")
    except ValueError as error:  # names the line and the byte
        raise AnnotationError(str(error)) from None
    lines = [(number, line.strip()) for number, line in enumerate(text.split("\n"), start=1) if line.strip()]
    if not lines:
        raise AnnotationError(f"{path}: annotation file is empty; {fix}")
    return lines


def check_level(root, expected, looks_like):
    """Refuse a ``root`` given at the wrong folder level, with the level that would be right.

    ``expected``: names that the dataset's root holds once prepared (any present passes); ``looks_like``: a
    function ``(folder) -> str or None`` that recognises a folder *inside* a root (e.g. ROOT/videos); when
    ``root`` itself is one, the error names its parent as the root to give.
    """
    root = Path(root)
    if any((root / name).exists() for name in expected):
        return root
    what = looks_like(root) if root.is_dir() else None
    if what:
        raise DatasetError(f"{root}: this looks like {what}, not the dataset root; "
                           f"pass --root {root.resolve().parent} instead")
    return root


def copy_from_downloads(root, report, names, missing):
    """Copy the annotation files ``names`` from ROOT/downloads into ROOT/annotations (atomically; one already
    there is kept). ``missing(name)``: the error for a file in neither place, or None when it is optional."""
    root, copied = Path(root), 0
    for name in names:
        target = root / "annotations" / name
        if target.is_file():
            continue
        source = root / "downloads" / name
        if not source.is_file():
            error = missing(name)
            if error is not None:
                raise error
            continue
        atomic_write(target, source.read_bytes())
        copied += 1
    report.did("annotations copied" if copied else "annotations skipped (present)", copied or 1)
