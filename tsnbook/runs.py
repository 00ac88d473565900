"""A run's work dir: what counts as a run there, when one may be replaced, which epoch checkpoints are kept.

A finished run is never destroyed by accident: ``train`` refuses a work dir that holds one unless asked to
replace it (``--force``), and even then removes it only when the new run starts - after the new run's model,
data and loaders were built - so a typo in ``data_root``, or a ``load_from`` that points at the old run's own
checkpoint, costs nothing (`refuse_existing_run`, then `remove_run`); nor does resuming another run's checkpoint
into it, and ``--resume`` in a work dir whose latest.pth is missing continues the newest checkpoint beside it
instead of training from scratch over them (`resume_point`). A run holds its work dir (`hold_work_dir`): a
second run started into it meanwhile stops at once instead of interleaving its log and checkpoints with the
first's. A resumed run says what changed since its checkpoint was saved (`resume_changes`): its config, or list
files rebuilt in between.
"""
import contextlib
import hashlib
import os
import re
import shutil
from pathlib import Path

import numpy as np

from .checkpoints import load_checkpoint, read_checkpoint
from .configs import option

try:
    import fcntl  # POSIX; where it is missing (Windows) a work dir is not locked
except ImportError:  # pragma: no cover
    fcntl = None

#: the files that make a work dir "a run" (besides epoch_N.pth)
RUN_FILES = ("latest.pth", "best.pth", "log.jsonl")
#: what else a run writes there: its config (`tsnbook.engine.train`), a checkpoint caught mid-write
WRITTEN_FILES = RUN_FILES + ("config.json", "latest.pth.tmp", "best.pth.tmp")
#: what ``test --out X.npz`` writes beside the score file (`tsnbook.cli.reports`)
REPORT_SUFFIXES = ("_per_class.csv", "_confusion_matrix.csv", "_confusion_matrix.png")


class RunExistsError(FileExistsError):
    """``train`` was asked to start afresh in a work dir that already holds a run."""


def _epoch_checkpoints(work_dir):
    """The ``epoch_N.pth`` files of ``work_dir``, oldest first (an ``epoch_final.pth`` of yours is not one)."""
    epochs = {p: re.fullmatch(r"epoch_(\d+)\.pth", p.name) for p in Path(work_dir).glob("epoch_*.pth")}
    return sorted((p for p, match in epochs.items() if match), key=lambda p: int(epochs[p][1]))


def existing_run(work_dir):
    """A one-line description of the run in ``work_dir`` ("latest.pth, log.jsonl, epoch_3.pth"), or None."""
    work_dir = Path(work_dir)
    found = [name for name in RUN_FILES if (work_dir / name).exists()] + [p.name for p in _epoch_checkpoints(work_dir)]
    return ", ".join(found) or None


def resume_point(work_dir):
    """``(checkpoint, note)``: what ``--resume`` continues in ``work_dir`` - latest.pth, or, when it is missing
    (deleted by hand, or a run killed while saving its first one), the newest checkpoint beside it, each a whole
    training state (`newest_checkpoint`), with a note that says so: training from scratch would overwrite them.
    ``(None, None)`` when the work dir holds none."""
    latest = Path(work_dir) / "latest.pth"
    if latest.exists():
        return latest, None
    newest = newest_checkpoint(work_dir)
    if newest is None:
        return None, None
    return newest[0], f"note: {latest} is missing: resuming {newest[0]} (epoch {newest[1]})"


def newest_checkpoint(work_dir):
    """``(path, epoch)`` of the newest readable ``epoch_N.pth`` or ``best.pth`` in ``work_dir``, or None: what is
    left to resume when latest.pth is missing or unreadable. Epoch files are read newest first, until one reads."""
    readable = ((path, _epoch_of(path)) for path in reversed(_epoch_checkpoints(work_dir)))
    found = [next(((path, epoch) for path, epoch in readable if epoch is not None), None),
             (Path(work_dir) / "best.pth", _epoch_of(Path(work_dir) / "best.pth"))]
    return max((item for item in found if item and item[1] is not None), key=lambda item: item[1], default=None)


def load_to_resume(checkpoint, model, optimizer, beside):
    """`tsnbook.checkpoints.load_checkpoint` for a resume; an unreadable latest.pth that ``--resume`` found
    (``beside``: in its work dir) names the newest checkpoint beside it, which ``--resume PATH`` continues."""
    try:
        return load_checkpoint(checkpoint, model, optimizer)
    except RuntimeError as err:
        other = newest_checkpoint(Path(checkpoint).parent) if beside else None
        if other is None:
            raise
        raise RuntimeError(f"{err}; the newest other checkpoint here is {other[0]} (epoch {other[1]}): --resume "
                           f"{other[0]} continues from it") from None


def _epoch_of(path):
    """The epoch a training checkpoint holds; None when it is missing or unreadable."""
    try:
        return int(read_checkpoint(path)["epoch"])
    except (OSError, RuntimeError, ValueError, KeyError, TypeError):
        return None


def refuse_existing_run(work_dir, force, resume=False):
    """Raise `RunExistsError` if ``work_dir`` holds a run that this one would overwrite: a new run (``resume``
    False) without ``force``, or a resume of a checkpoint from another folder (``resume``: its path), whose
    history would replace the run's latest.pth and epoch files and leave its best.pth describing neither. With
    ``force`` the run stays until `remove_run`. Every DDP process checks, so all of them stop together."""
    found = existing_run(work_dir)
    if not found:
        return
    if resume is False and not force:
        raise RunExistsError(f"{work_dir} already holds a run ({found}): pass --resume to continue it, --force to "
                             f"start over and replace it, or choose another --work-dir")
    if isinstance(resume, (str, Path)) and Path(resume).resolve().parent != Path(work_dir).resolve():
        raise RunExistsError(f"{work_dir} already holds a run ({found}); resuming {resume}, another run's "
                             f"checkpoint, there would overwrite it: choose another --work-dir (or the checkpoint's "
                             f"own, {Path(resume).parent})")


@contextlib.contextmanager
def hold_work_dir(work_dir):
    """Hold ``work_dir`` for one run (rank 0, the one that writes): make it, then lock it (``flock``), so that a
    second run started into it meanwhile - which found no run there yet - stops with a one-line error instead
    of interleaving its log and checkpoints with this one's. The lock goes with the process, even on kill -9.
    A work dir that cannot be made is a ValueError naming it, before anything is built; one made here and left
    empty (the run failed to start) is removed again, with the folders made for it."""
    work_dir = Path(work_dir)
    made = [folder for folder in [work_dir, *work_dir.absolute().parents] if not folder.exists()]
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(work_dir, os.W_OK | os.X_OK):
            raise PermissionError(13, "no permission to write in it")
    except OSError as err:
        raise ValueError(f"cannot make the work dir {work_dir} ({err.strerror or err}): choose another "
                         f"--work-dir") from None
    fd = None
    try:
        fd = _lock(work_dir)
        yield work_dir
    finally:
        if fd is not None:
            os.close(fd)
        for folder in made:  # the work dir first, then the parents made for it, while they are empty
            with contextlib.suppress(OSError):
                folder.rmdir()


def _lock(folder):
    """An open descriptor of ``folder`` that holds its exclusive lock (a RuntimeError when another process holds
    it); None where folders cannot be locked (no fcntl, a file system without locks): the run goes on unlocked."""
    try:
        fd = os.open(folder, os.O_RDONLY) if fcntl is not None else None
    except OSError:
        return None
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except OSError as err:
        os.close(fd)
        if isinstance(err, BlockingIOError):
            raise RuntimeError(f"{folder} is in use by another training run right now: wait for it to end (then "
                               f"--resume continues it), or choose another --work-dir") from None
        return None


def _score_files(work_dir):
    """The tsnbook score files (``.npz`` of scores, labels and names: `tsnbook.scores.save_scores`) in
    ``work_dir``: a test of the old run wrote them there, and they would outlive it, describing other weights."""
    found = []
    for path in Path(work_dir).glob("*.npz"):
        try:
            with np.load(path, allow_pickle=False) as data:
                if set(data.files) == {"scores", "labels", "names"}:
                    found.append(path)
        except (OSError, ValueError):
            continue
    return found


def remove_run(work_dir):
    """Delete what the old run wrote in ``work_dir`` (``--force``, once the new run has been built and starts):
    `WRITTEN_FILES`, its ``epoch_N.pth``, and its tests' score files with the reports beside them
    (`REPORT_SUFFIXES`); never a file the run did not write."""
    work_dir = Path(work_dir)
    scores = _score_files(work_dir)
    reports = [work_dir / f"{path.stem}{suffix}" for path in scores for suffix in REPORT_SUFFIXES]
    for path in [work_dir / name for name in WRITTEN_FILES] + _epoch_checkpoints(work_dir) + scores + reports + \
            _partial_checkpoints(work_dir):
        path.unlink(missing_ok=True)


def remove_partial_checkpoints(work_dir):
    """Delete the ``*.pth.tmp`` a writer killed mid-write left (`tsnbook.checkpoints.save_checkpoint`): each is as
    large as a checkpoint, and ``best.pth.tmp`` would stay for good in a run that never improves again. Only while
    the work dir is held (`hold_work_dir`): another run's file in the middle of its write is not one of them."""
    for path in _partial_checkpoints(work_dir):
        path.unlink()


def _partial_checkpoints(work_dir):
    """The ``*.pth.tmp`` files this module and `tsnbook.checkpoints.save_checkpoint` write before a rename."""
    return [path for path in Path(work_dir).glob("*.pth.tmp")
            if path.name in WRITTEN_FILES or re.fullmatch(r"epoch_\d+\.pth\.tmp", path.name)]


def keep_epoch_checkpoint(work_dir, epoch, cfg):
    """``epoch_N.pth`` every ``checkpoint_interval`` epochs and after the last one (MMAction2's checkpoint hook
    with ``save_last``: the final weights always have their own file), then only the newest ``max_keep_ckpts``
    (-1 keeps all). A hard link to the new latest.pth: no second write. Made under a temporary name and renamed,
    as `tsnbook.checkpoints.save_checkpoint` writes: a kill mid-copy (no hard links on this file system) leaves
    ``epoch_N.pth.tmp`` (`remove_partial_checkpoints`), never a truncated ``epoch_N.pth``."""
    interval, keep = option(cfg, "checkpoint_interval"), option(cfg, "max_keep_ckpts")
    if not interval or (epoch % interval and epoch != cfg["epochs"]):
        return
    work_dir = Path(work_dir)
    target = work_dir / f"epoch_{epoch}.pth"
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(work_dir / "latest.pth", tmp)
    except OSError:  # no hard links on this file system
        shutil.copyfile(work_dir / "latest.pth", tmp)
    os.replace(tmp, target)
    for old in _epoch_checkpoints(work_dir)[:-keep] if keep > 0 else []:
        old.unlink()


def list_digests(cfg, data_root=None):
    """SHA-256 of the train and val list files a run reads, kept in its checkpoints: a resume can tell that they
    were rebuilt since (``prepare.py`` run again: the epochs before and after saw other videos, and ``best`` was
    measured on another val set)."""
    root, digests = Path(data_root or cfg["data_root"]), {}
    for key in ("ann_file_train", "ann_file_val"):
        path = root / cfg[key] if cfg.get(key) else None
        if path is not None and path.is_file():
            digests[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def resume_changes(state, cfg, digests, world_size=1, validating=True):
    """What differs between the run a checkpoint was saved by (its ``cfg``, ``lists``, ``world_size`` and
    ``validating``) and the one resuming it (``cfg``, plain as checkpoints store it; ``digests``: `list_digests`;
    its number of processes; whether it validates), one line each; [] when nothing does, or the checkpoint
    predates these records. Another number of processes is another total batch (``batch_size`` is per process)
    and another shuffle: the resumed epochs are not those the run would have trained; a resume that dropped
    ``--validate`` leaves best.pth behind."""
    before = state.get("cfg") or {}

    def shown(value):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."

    changes = [f"{key} {shown(before.get(key))} -> {shown(cfg.get(key))}" for key in sorted(set(before) | set(cfg))
               if before and before.get(key) != cfg.get(key)]
    changes += [f"{cfg.get(key)} ({key}) was rebuilt since" for key, digest in (state.get("lists") or {}).items()
                if digests.get(key, digest) != digest]
    saved_by = state.get("world_size", world_size)
    if saved_by != world_size:
        batch = (before or cfg).get("batch_size", cfg["batch_size"])
        changes.append(f"world_size {saved_by} -> {world_size} (total batch {saved_by * batch} -> "
                       f"{world_size * cfg['batch_size']}; torchrun --nproc_per_node {saved_by} continues the run)")
    if state.get("validating") and not validating:
        changes.append(f"validation on -> off (best.pth stays at epoch {(state.get('best') or {}).get('epoch')})")
    return changes
