"""Downloads that survive interruptions, and instructions where a dataset needs registration.

`fetch` downloads one `Remote` into a folder: the bytes go to ``<name>.partial``; an interrupted download is
resumed with an HTTP ``Range`` request (a server that ignores it sends the whole file again, and the partial
file is restarted); a checksum, where the dataset publishes one, is checked before the rename, and a mismatch
deletes the partial file and is an error - so a file under its real name is always a complete, checked one.
Refusals (HTTP errors, unreachable hosts) are one-line `DatasetError`s that say what to do: run again, use
``--mirror URL`` (any host serving the same file names), or place the file by hand.
"""
import hashlib
import http.client
import os
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .files import DatasetError, partial_path

CHUNK = 1 << 20


@dataclass(frozen=True)
class Remote:
    """A file a dataset is downloaded from. ``sha256`` / ``md5``: only where the publisher states one."""
    name: str  # file name in the download folder
    url: str
    sha256: str = None
    md5: str = None
    size: int = None  # bytes, where published (a cheap completeness check)
    what: str = ""  # one line for the user: what the file holds


def _url(remote, mirror):
    return remote.url if not mirror else mirror.rstrip("/") + "/" + remote.name


def file_digest(path, algorithm):
    """The ``hashlib`` digest of a file: ``hashlib.file_digest`` (Python 3.11); on Python 3.10, which tsnbook
    supports, the same read in 1 MiB blocks."""
    with open(path, "rb") as f:
        if hasattr(hashlib, "file_digest"):
            return hashlib.file_digest(f, algorithm)
        digest = hashlib.new(algorithm)
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
        return digest


def _checksum_problem(remote, path):
    for algorithm in ("sha256", "md5"):
        expected = getattr(remote, algorithm)
        if expected:
            digest = file_digest(path, algorithm)
            if digest.hexdigest() != expected.lower():
                return f"{algorithm} {digest.hexdigest()} is not the published {expected}"
    if remote.size is not None and os.path.getsize(path) != remote.size:
        return f"{os.path.getsize(path)} bytes where the publisher states {remote.size}"
    return None


def fetch(remote, folder, mirror=None, report=None, timeout=60, progress=None):
    """Download ``remote`` into ``folder`` (resuming a ``.partial``) and return the file's path.

    A file already there under its name is kept (checked against a published checksum first, and deleted
    with an error if it fails). ``report`` (a `Report`) counts "downloaded" / "skipped (present)".
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target, partial = folder / remote.name, partial_path(folder / remote.name)
    if target.exists():
        problem = _checksum_problem(remote, target)
        if problem:
            target.unlink()
            raise DatasetError(f"{target}: {problem}; the file was deleted, run the download again")
        if report is not None:
            report.did("skipped (present)")
        return target
    url = _url(remote, mirror)
    start = partial.stat().st_size if partial.exists() else 0
    headers = {"User-Agent": "tsnbook-prepare"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and start:  # nothing left to send: the partial file may be complete
            response = None
        else:
            raise DatasetError(f"{url}: the server refused the download (HTTP {error.code} {error.reason}); "
                               f"try again later, pass --mirror URL, or put {remote.name} into {folder} by hand"
                               ) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DatasetError(f"{url}: cannot reach the server ({reason}); check the network, pass --mirror URL, "
                           f"or put {remote.name} into {folder} by hand") from None
    if response is not None:
        with response:
            if start and response.status != 206:  # the server ignored Range: start again
                start = 0
            length = response.headers.get("Content-Length")
            total = start + int(length) if length is not None else None
            _receive(response, partial, start, total, remote.name, progress)
    problem = _checksum_problem(remote, partial)
    if problem:
        partial.unlink()
        raise DatasetError(f"{url}: downloaded {remote.name}, but its {problem}; the partial file was deleted, "
                           "run the download again (or use another --mirror)")
    os.replace(partial, target)
    if report is not None:
        report.did("downloaded")
    return target


def _receive(response, partial, start, total, name, progress):
    from ..progress import bar as progress_bar

    # progress None or True: a bar where a person watches (tsnbook.progress), never in a log file
    bar = progress_bar(total=total, initial=start, unit="B", unit_scale=True, desc=name, leave=False,
                       progress=progress is not False)
    received = start
    try:
        with open(partial, "ab" if start else "wb") as out:
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                out.write(block)
                received += len(block)
                bar.update(len(block))
    except (http.client.HTTPException, ConnectionError, socket.timeout, OSError) as error:
        raise DatasetError(f"download of {name} interrupted after {received:,} bytes ({type(error).__name__}); "
                           "run the same command again to resume") from None
    finally:
        bar.close()
    if total is not None and received < total:
        raise DatasetError(f"download of {name} interrupted after {received:,} of {total:,} bytes; "
                           "run the same command again to resume")


def require_files(folder, wanted):
    """For datasets behind a registration: ``wanted`` = [(file name, where to get it), ...]. Returns the paths
    when all are in ``folder``; otherwise one `DatasetError` that lists each missing file and where to get it."""
    folder = Path(folder)
    missing = [(name, where) for name, where in wanted if not (folder / name).exists()]
    if missing:
        steps = "; ".join(f"{name} from {where}" for name, where in missing)
        raise DatasetError(f"{folder}: {len(missing)} file(s) need registration and a manual download: {steps}; "
                           f"put them into {folder} and run the command again")
    return [folder / name for name, _ in wanted]


def fetch_explained(remote, folder, mirror, report, progress, unreachable, optional=None):
    """`fetch`, with what to do when the host refuses it (``unreachable``, appended to the error); a refused file
    of ``optional`` ({name: why it is optional}) is a warning in ``report`` instead (returns None)."""
    try:
        return fetch(remote, folder, mirror=mirror, report=report, progress=progress)
    except DatasetError as error:
        if remote.name in (optional or {}):
            report.problem("download", remote.url, f"{error} ({optional[remote.name]})", "warning")
            return None
        if "server" not in str(error):  # interrupted or failed its check: running again is the advice
            raise
        raise DatasetError(f"{error}. {unreachable}") from None


def registered(root, archives_wanted, registration, extracted, mirror, progress, report):
    """The download step of a dataset behind a registration: skipped when extracted, fine when one of
    ``archives_wanted`` is in ROOT/downloads, fetched from ``mirror`` (a host serving the same file name, e.g. the
    link you were sent without the file name) when given, else a `DatasetError` saying where to get it."""
    downloads = Path(root) / "downloads"
    if extracted:
        report.did("skipped (already extracted)")
    elif any((downloads / archive).is_file() for archive in archives_wanted):
        report.did("skipped (present)")
    elif mirror:
        fetch(Remote(archives_wanted[0], None), downloads, mirror=mirror, report=report, progress=progress)
    else:
        require_files(downloads, [(archives_wanted[0], registration)])
    return report
