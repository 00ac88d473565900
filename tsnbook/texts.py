"""A user's text files (list files, label maps, annotation files, a CSV of videos) read as UTF-8, one way for all.

Apart from `tsnbook.utils` because reading text needs no torch: the dataset preparation imports it too.
"""
import codecs
from pathlib import Path


def read_text(path, what="file"):
    """A UTF-8 text file's text (``what``: "list file", "label map", ... for the message). A BOM at its start is
    dropped (Windows editors and spreadsheets write one, and it would otherwise stick to the first name); a file in
    another encoding is refused naming the file, the line and the byte, rather than Python's bare codec error."""
    data = Path(path).read_bytes()
    data = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data  # so err.start counts in data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ValueError(f"{what} {path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x}): save the file as "
                         f"UTF-8") from None


def read_text_lines(path, what="file"):
    """`read_text`'s lines."""
    return read_text(path, what).splitlines()
