"""A work dir held by one training run at a time: a POSIX record lock (``fcntl.lockf``) on ``.tsnbook.lock`` in it.

Why a lock *file* and ``lockf`` rather than ``flock`` on the folder: on NFS ``flock`` covers only the processes of
one client machine (two cluster jobs on two nodes both got it), while POSIX record locks are enforced across
clients (NFSv4, and NFSv3 with its lock manager), as on a local disk. So the lock covers every tsnbook run, of any
machine, that sees the work dir through such a file system. It does not cover a file system where locks fail
(ENOLCK: NFSv3 without a lock manager; ENOSYS / EOPNOTSUPP: Lustre mounted without ``flock``, some FUSE mounts):
there the run goes on unlocked and says so once; nor Lustre mounted with ``localflock`` (locks of one node only).

POSIX locks belong to the process, not to a descriptor: a forked DataLoader worker does not inherit them (it could
not keep a dead run's work dir locked), the lock goes with the process even on kill -9 - and closing *any*
descriptor of the lock file in this process would drop it. So this module alone opens the file, and a second hold
of the same work dir by this process (a run started inside a run, in a notebook) is refused by a registry of its
own before the file is opened. The lock file is not part of a run (`tsnbook.runs.existing_run` ignores it).
"""
import contextlib
import errno
import os
from pathlib import Path

try:
    import fcntl  # POSIX; where it is missing (Windows) a work dir is not locked
except ImportError:  # pragma: no cover
    fcntl = None

#: the file whose lock holds a work dir
LOCK_FILE = ".tsnbook.lock"
#: ``(st_dev, st_ino)`` of the lock files this process holds
_HELD = set()
#: the errors of a lock that another process holds (ESTALE: the holder removed the file as this one opened it)
_IN_USE = (errno.EACCES, errno.EAGAIN, errno.ESTALE)


@contextlib.contextmanager
def hold_work_dir(work_dir):
    """Hold ``work_dir`` for one run (rank 0, the one that writes): make it, then lock it, so that a second run
    started into it meanwhile - which found no run there yet - stops with a one-line error instead of interleaving
    its log and checkpoints with this one's. Yields whether the work dir is locked (False: the run goes on
    unlocked, and a note said why).

    A work dir that cannot be made is a ValueError naming it, before anything is built. One made here and left
    empty (the run failed to start) is removed again, with its lock file and the folders made for it - only by
    the process that made them and holds the lock: the loser of a race to make the folder leaves the winner's."""
    work_dir = Path(work_dir)
    made = _make_folders(work_dir)
    lock = _lock(work_dir / LOCK_FILE)
    try:
        yield lock is not None
    finally:
        if lock is not None:
            _release(lock, work_dir, made)


def _make_folders(work_dir):
    """Make ``work_dir`` and its missing parents; returns the folders this process made, deepest first (one that
    another process made meanwhile is not among them). A ValueError naming the work dir when it cannot be made
    or written."""
    missing = [folder for folder in [work_dir, *work_dir.absolute().parents] if not folder.exists()]
    made = []
    try:
        for folder in reversed(missing):
            with contextlib.suppress(FileExistsError):
                folder.mkdir()
                made.insert(0, folder)
        check_work_dir(work_dir)
    except OSError as err:
        _remove_empty(made)
        raise ValueError(f"cannot make the work dir {work_dir} ({err.strerror or err}): choose another "
                         f"--work-dir") from None
    except ValueError:
        _remove_empty(made)
        raise
    return made


def check_work_dir(work_dir):
    """A ValueError naming ``work_dir`` when it cannot be made or written: a file on its way, or no permission in
    the nearest folder that exists. Nothing is made, so a command checks it first, before minutes of other work
    (``train`` preparing generated data) that `hold_work_dir` would otherwise waste."""
    work_dir = Path(work_dir)
    existing = next(folder for folder in [work_dir, *work_dir.absolute().parents] if folder.exists())
    where = "it" if existing == work_dir else existing
    if not existing.is_dir():
        problem = "it is a file" if existing == work_dir else f"{existing} is a file"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"no permission to write in {where}"
    else:
        return
    raise ValueError(f"cannot make the work dir {work_dir} ({problem}): choose another --work-dir")


def _lock(path):
    """``(descriptor, key)`` holding the exclusive lock of ``path`` (made if missing); a RuntimeError when another
    run holds it; None, after a note, where it cannot be taken."""
    folder = path.parent
    in_use = RuntimeError(f"{folder} is in use by another training run right now: wait for it to end (then "
                          f"--resume continues it), or choose another --work-dir")
    if fcntl is None:
        return _unlocked(folder, "this system has no POSIX locks")
    with contextlib.suppress(FileNotFoundError):
        if _key(os.stat(path)) in _HELD:  # this process holds it: opening the file again would drop that lock
            raise in_use
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        return _unlocked(folder, f"cannot open {path.name} ({err.strerror or err})")
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        mine = os.fstat(fd)
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(mine, os.stat(path)):
                _HELD.add(_key(mine))
                return fd, _key(mine)
        raise OSError(errno.ESTALE, "removed by its holder")  # the file this process locked is gone
    except OSError as err:
        os.close(fd)
        if err.errno in _IN_USE:
            raise in_use from None
        return _unlocked(folder, err.strerror or str(err))


def _unlocked(folder, reason):
    """Say once that ``folder`` runs unlocked, and why; None (no lock)."""
    print(f"note: {folder} runs unlocked: {reason}; a second run started into it meanwhile would not be stopped")


def _key(stat):
    return stat.st_dev, stat.st_ino


def _release(lock, work_dir, made):
    """Unlock; a work dir made for the run and left empty but for its lock file goes, with the folders made for
    it. The file is removed while still locked: a run that opened it meanwhile sees it gone (`_lock`)."""
    fd, key = lock
    try:
        with contextlib.suppress(OSError):
            if made and [path.name for path in work_dir.iterdir()] == [LOCK_FILE]:
                (work_dir / LOCK_FILE).unlink()
    finally:
        _HELD.discard(key)
        os.close(fd)
    _remove_empty(made)


def _remove_empty(folders):
    for folder in folders:  # deepest first, while they are empty
        with contextlib.suppress(OSError):
            folder.rmdir()
