"""A user's text files (list files, label maps, annotation files, a CSV of videos) read as UTF-8, one way for all.

Apart from `tsnbook.utils` because reading text needs no torch: the dataset preparation imports it too.
"""
import codecs
from pathlib import Path


def read_text(path, what="file", fix="save the file as UTF-8"):
    """A UTF-8 text file's text (``what``: "list file", "label map", ... for the message), its line ends made
    ``\n``. A BOM at its start is dropped (Windows editors and spreadsheets write one, and it would otherwise stick
    to the first name); a file in another encoding is refused naming the file, the line and the byte, and ``fix``
    (what to do), rather than Python's bare codec error. Lines end at ``\n``, ``\r\n`` or ``\r`` only, as
    Python's ``open()`` (and so MMAction2) reads them: `str.splitlines` would also split a name at U+2028 or a form
    feed, and the line an error names would not be the line a user's editor shows."""
    data = Path(path).read_bytes()
    data = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data  # so err.start counts in data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = _universal(data[:err.start].decode("utf-8")).count("\n") + 1
        raise ValueError(f"{what} {path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x}): {fix}") from None
    return _universal(text)


def _universal(text):
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text_lines(path, what="file"):
    """`read_text`'s lines (without their ends; a last line end ends the last line, as in ``open()``)."""
    lines = read_text(path, what).split("\n")
    return lines[:-1] if lines[-1] == "" else lines
