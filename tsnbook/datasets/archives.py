"""Unpack the archives datasets come in: zip and tar (standard library) and RAR, member by member, resumable.

Each member is streamed to ``<name>.partial`` and renamed when complete, and a member already present with its
size is skipped, so an interrupted extraction resumes where it stopped (RAR and gzip must still be
decompressed up to there: solid archives cannot seek). Member names are checked: an absolute path or ``..``
is refused. An archive that is cut short (an interrupted download) is a one-line `DatasetError` that says to
download it again - never a silently shorter folder.

RAR needs a decompressor that the standard library lacks. In order of preference:
1. ``unrar2-cffi`` from PyPI (``pip install unrar2-cffi``: RARLAB's UnRAR library compiled into the wheel, no
   system tool), read here through its low-level header loop so that a cut archive is noticed (its
   ``iterate_headers`` ends quietly on a read error);
2. a system tool on PATH: ``unrar``, ``unar``, ``bsdtar`` or ``7z`` (the whole archive at once, into a hidden
   folder; its files then move into place as with the other readers, flattened where asked);
3. otherwise the error names what to install (`RAR_HELP`).
"""
import io
import lzma
import os
import shutil
import subprocess
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from .files import DatasetError, partial_path

RAR_HELP = ("no RAR extractor found: pip install unrar2-cffi (bundles UnRAR, no system tool needed), or install "
            "a system tool: apt-get install unrar (or unar, libarchive-tools for bsdtar, 7zip)")
RAR_TOOLS = {  # tool -> command line extracting ARCHIVE into DEST
    "unrar": ["unrar", "x", "-o+", "-y", "{archive}", "{dest}/"],
    "unar": ["unar", "-f", "-q", "-o", "{dest}", "{archive}"],
    "bsdtar": ["bsdtar", "-xf", "{archive}", "-C", "{dest}"],
    "7z": ["7z", "x", "-y", "-o{dest}", "{archive}"],
}
_ERAR_END_ARCHIVE = 10  # UnRAR's dll.hpp: RARReadHeaderEx's "no more headers" (anything else: damaged or cut)


def archive_kind(path):
    """"zip", "rar", "tar" (also .tar.gz / .tgz / .tar.bz2 / .tar.xz) or None, from the file's first bytes."""
    path = Path(path)
    with open(path, "rb") as f:
        magic = f.read(8)
    if magic.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    try:
        return "tar" if tarfile.is_tarfile(path) else None
    except (OSError, EOFError, tarfile.TarError):
        return None


def member_path(name, archive):
    """A member's relative path ('\\' read as '/'), refusing absolute paths and '..' (path traversal)."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
        raise DatasetError(f"{archive}: unsafe member name {name!r} (absolute, or with '..'); not extracted")
    return Path(*parts)


class _Writer:
    """Where each member goes, and the counts of what was written or skipped."""

    def __init__(self, archive, dest, flatten):
        self.archive, self.dest, self.flatten = archive, Path(dest), flatten
        self.written, self.skipped = [], []

    def target(self, name):
        relative = member_path(name, self.archive)
        return self.dest / (relative.name if self.flatten else relative)

    def done(self, target, size):
        if target.is_file() and (size is None or target.stat().st_size == size):
            self.skipped.append(target)
            return True
        return False

    def write(self, target, chunks):
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = partial_path(target)
        try:
            with open(temporary, "wb") as out:
                if callable(chunks):  # a function that writes into the open file (RAR's callback)
                    chunks(out)
                else:
                    for chunk in chunks:
                        out.write(chunk)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        self.written.append(target)


class _Parts(io.RawIOBase):
    """The files of a split archive read one after the other, as ``cat part-00 part-01 ... |`` gives them."""

    def __init__(self, parts):
        self.parts, self.current = [Path(p) for p in parts], None

    def readable(self):
        return True

    def readinto(self, buffer):
        while True:
            if self.current is None:
                if not self.parts:
                    return 0
                self.current = open(self.parts.pop(0), "rb")
            n = self.current.readinto(buffer)
            if n:
                return n
            self.current.close()
            self.current = None

    def close(self):
        if self.current is not None:
            self.current.close()
        super().close()


def _copy(fileobj, size=1 << 20):
    return iter(lambda: fileobj.read(size), b"")


def extract(archive, dest, flatten=False, report=None):
    """Unpack ``archive`` into ``dest`` (``flatten``: drop folders, like ``unzip -j``); returns the member files
    now in ``dest``. ``report`` counts "extracted" and "skipped (done)" members.

    ``archive`` may be a list of the parts of a split tar archive (Something-Something's
    ``20bn-something-something-v2-00`` ... ``-19``, joined with ``cat ... | tar zx``): they are read in the
    given order as one stream, without a joined copy on disk.
    """
    parts = [Path(p) for p in archive] if isinstance(archive, (list, tuple)) else None
    archive, dest = (parts[0] if parts else Path(archive)), Path(dest)
    for path in parts or [archive]:
        if not path.is_file():
            raise DatasetError(f"{path}: archive not found; download it first (prepare.py DATASET download)")
    kind = archive_kind(archive) if not parts else "parts"
    cut = (f"{archive}: the archive is damaged or cut short (an interrupted download?); delete it and "
           "download it again")
    if parts:
        cut = (f"{parts[0]} ... {parts[-1].name} ({len(parts)} parts): the split archive is damaged or cut short "
               "(a part incomplete or missing?); download the bad part again")
    writer = _Writer(archive, dest, flatten)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    target = writer.target(info.filename)
                    if not writer.done(target, info.file_size):
                        with zf.open(info) as member:
                            writer.write(target, _copy(member))
        elif kind == "tar":
            with tarfile.open(archive) as tf:
                _extract_tar(tf, writer, archive)
        elif kind == "parts":  # a stream: members in order, no seeking back
            with tarfile.open(fileobj=io.BufferedReader(_Parts(parts), 1 << 20), mode="r|*") as tf:
                _extract_tar(tf, writer, archive)
        elif kind == "rar":
            _extract_rar(archive, writer, cut)
        else:
            raise DatasetError(f"{archive}: not a zip, tar or RAR archive (or cut short before its first "
                               "member); delete it and download it again")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as error:
        raise DatasetError(f"{cut} ({type(error).__name__}: {error})") from None
    if report is not None:
        report.did("extracted", len(writer.written))
        if writer.skipped:
            report.did("skipped (done)", len(writer.skipped))
    return writer.written + writer.skipped


def _extract_tar(tf, writer, archive):
    for member in tf:
        if not member.isfile():
            if member.issym() or member.islnk():
                raise DatasetError(f"{archive}: member {member.name!r} is a link; not extracted")
            continue
        target = writer.target(member.name)
        if not writer.done(target, member.size):
            writer.write(target, _copy(tf.extractfile(member)))


def rar_backend():
    """The RAR extractor that `extract` will use: "unrar2-cffi", a tool name of `RAR_TOOLS`, or None."""
    try:
        from unrar.cffi import unrarlib  # noqa: F401
        return "unrar2-cffi"
    except ImportError:
        pass
    return next((tool for tool in RAR_TOOLS if shutil.which(tool)), None)


def _extract_rar(archive, writer, cut):
    backend = rar_backend()
    if backend is None:
        raise DatasetError(f"cannot extract {archive}: {RAR_HELP}")
    if backend != "unrar2-cffi":
        _extract_with_tool(backend, archive, writer, cut)
        return
    from unrar.cffi import unrarlib

    try:
        with unrarlib.RarArchive.open_for_processing(archive) as rar:
            while True:
                data = unrarlib.RARHeaderDataEx()
                code = unrarlib.RARReadHeaderEx(rar.handle, data)
                if code != unrarlib.FLAGS_SUCCESS:
                    break
                header = unrarlib.RarHeader(rar, data)
                size = header.UnpSize + (header.UnpSizeHigh << 32)
                if header.Flags & unrarlib.FLAGS_RHDF_DIRECTORY:
                    header.skip()
                    continue
                target = writer.target(header.FileNameW)
                if writer.done(target, size):
                    header.skip()
                    continue
                # UnRAR streams the member to the callback buffer by buffer and checks its CRC at the end
                writer.write(target, lambda out: header.test(out.write))
    except unrarlib.BadRarFile as error:
        raise DatasetError(f"{cut} (UnRAR: {error.message})") from None
    if code != _ERAR_END_ARCHIVE:
        raise DatasetError(f"{cut} (UnRAR stopped reading headers with code {code})")


def _extract_with_tool(tool, archive, writer, cut):
    """A system tool unpacks the whole archive, folders kept, into a hidden folder next to the members; each
    file then moves to where the writer puts it (flattened or not), so that ``flatten`` and the counts mean the
    same with every reader."""
    stage = partial_path(writer.dest / f".{Path(archive).name}")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        command = [part.format(archive=archive, dest=stage) for part in RAR_TOOLS[tool]]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or [""]
            raise DatasetError(f"{cut} ({tool} exited with {result.returncode}: {last[0][:200]})")
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            target = writer.target(path.relative_to(stage).as_posix())
            if not writer.done(target, path.stat().st_size):
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
                writer.written.append(target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def unpack_folder(root, report, inside, target, archive, what, noun="files", skipped="videos", unpack=extract):
    """The folder ``inside`` of ``archive`` as ``ROOT/target``: unpacked into a hidden staging folder, renamed
    when complete (as MMAction2's scripts rename UCF-101/ to videos/). Skipped when ``target`` exists; a folder
    ``inside`` that was unpacked by hand into ROOT is renamed. ``archive``: a path, the parts of a split tar, or a
    function giving them (called only when needed); ``what`` names the right archive in the error; ``unpack``
    (archive, stage, report=) -> the ``noun`` unpacked: `extract`, or a dataset's own (archives in an archive)."""
    root, target = Path(root), Path(root) / target
    if target.is_dir():
        report.did(f"{skipped} skipped (present)")
        return
    if (root / inside).is_dir():  # unpacked by hand into ROOT
        os.replace(root / inside, target)
        report.note(f"renamed {root / inside} to {target}")
        return
    archive = archive() if callable(archive) else archive
    stage = root / f".{target.name}.partial"
    members = unpack(archive, stage, report=report)
    first = archive[0] if isinstance(archive, (list, tuple)) else archive
    if not (stage / inside).is_dir():
        raise DatasetError(f"{first}: no {inside}/ folder inside; not {what}? download it again")
    os.replace(stage / inside, target)
    shutil.rmtree(stage)
    source = f"{len(archive)} parts" if isinstance(archive, (list, tuple)) else Path(archive).name
    report.note(f"{len(members)} {noun} from {source} -> {target}")


def adopt(root, report, folders, files):
    """Move what an earlier manual or MMAction2 preparation left in ROOT into place: ``folders`` maps a folder
    of ROOT (``training``, MMAction2's typo ``video``, ...) to its target under ROOT; the annotation ``files``
    found directly in ROOT (the archive unpacked by hand) go to ``annotations/``."""
    for source, target in folders.items():
        if (root / source).is_dir() and not (root / target).exists():
            (root / target).parent.mkdir(parents=True, exist_ok=True)
            os.replace(root / source, root / target)
            report.note(f"moved {root / source} to {root / target}")
    for name in files:
        if (root / name).is_file() and not (root / "annotations" / name).exists():
            (root / "annotations").mkdir(exist_ok=True)
            os.replace(root / name, root / "annotations" / name)
            report.note(f"moved {root / name} to {root / 'annotations' / name}")


def unpack_tree(root, report, archive, folders, wanted):
    """Unzip ``archive`` into a hidden staging folder (resumable), then move each of its top-level ``folders``
    (archive folder -> target under ROOT) into place unless the target exists, and its top-level files into
    ``annotations/``; ``wanted`` annotation files must be among them. An archive holding one top folder is read
    from inside it."""
    stage = root / ".extract.partial"
    members = extract(archive, stage, report=report)
    top = stage
    entries = [p for p in stage.iterdir() if not p.name.startswith(".")]
    if not any((stage / f).is_dir() for f in folders) and len(entries) == 1 and entries[0].is_dir():
        top = entries[0]
    absent = [f for f in folders if not (top / f).is_dir() and not (root / folders[f]).is_dir()]
    if absent:
        raise DatasetError(f"{archive}: no {', '.join(f + '/' for f in absent)} folder inside; not the right "
                           "archive? download it again")
    for name, target in folders.items():
        if not (root / target).exists():
            (root / target).parent.mkdir(parents=True, exist_ok=True)
            os.replace(top / name, root / target)
    (root / "annotations").mkdir(exist_ok=True)
    for path in sorted(top.iterdir()):
        if path.is_file() and not (root / "annotations" / path.name).exists():
            os.replace(path, root / "annotations" / path.name)
    absent = [n for n in wanted if not (root / "annotations" / n).is_file()]
    if absent:
        raise DatasetError(f"{archive}: lacks {', '.join(absent)}; not the right archive? download it again")
    shutil.rmtree(stage)
    report.note(f"{len(members)} files from {archive.name} -> {root}")


def unpack_annotations(root, sources, wanted, lacks):
    """Unpack the archives ``sources`` flat (``unzip -j``) into the hidden staging folder ROOT/.annotations.partial
    and return where their ``wanted`` files are (`staged_files`; ``wanted`` may also be a function of the unpacked
    files giving it); `place_annotations` then moves them into place: a wrong archive leaves nothing half done."""
    stage = Path(root) / ".annotations.partial"
    members = [member for source in sources for member in extract(source, stage, flatten=True)]
    return staged_files(stage, wanted(members) if callable(wanted) else wanted, lacks)


def staged_files(folder, wanted, lacks):
    """``{name in the target: path in folder}`` of the ``wanted`` files ({name: the names it may have in
    ``folder``, the first present taken}, or a list of names kept as they are). When one is absent, or none is
    wanted, a `DatasetError` with the message ``lacks(absent)`` (each absent file's names joined with " or ")."""
    wanted = wanted if isinstance(wanted, dict) else {name: (name,) for name in wanted}
    found = {name: next((folder / n for n in names if (folder / n).is_file()), None) for name, names in wanted.items()}
    absent = [" or ".join(wanted[name]) for name, path in found.items() if path is None]
    if absent or not found:
        raise DatasetError(lacks(absent))
    return found


def place_annotations(root, found):
    """Move the files ``found`` ({name: path}) into ROOT/annotations under those names and remove the staging
    folder of `unpack_annotations`; returns how many were moved."""
    target, stage = Path(root) / "annotations", Path(root) / ".annotations.partial"
    target.mkdir(exist_ok=True)
    for name, path in found.items():
        os.replace(path, target / name)
    if stage.is_dir():
        shutil.rmtree(stage)
    return len(found)
