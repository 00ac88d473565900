"""A run's work dir: what counts as a run there, when one may be replaced, which epoch checkpoints are kept.

A finished run is never destroyed by accident: ``train`` refuses a work dir that holds one unless asked to
replace it (``--force``), and even then removes it only when the new run starts - after the new run's model,
data and loaders were built - so a typo in ``data_root``, or a ``load_from`` that points at the old run's own
checkpoint, costs nothing (`refuse_existing_run`, then `remove_run`); nor does resuming another run's checkpoint
into it, and ``--resume`` in a work dir whose latest.pth is missing continues the newest checkpoint beside it
instead of training from scratch over them (`resume_point`). A run holds its work dir (`hold_run`, with the lock
of `tsnbook.locks`): a second run started into it meanwhile stops at once instead of interleaving its log and
checkpoints with the first's. A resumed run says what changed since its checkpoint was saved (`resume_changes`):
its config, or list files rebuilt in between; resuming an earlier epoch of the run says that the later ones are
abandoned, whose epoch files then go (`abandoned_history`); and the resumed epoch gets the ``epoch_N.pth`` that
a kill may have cost it (`keep_resumed_epoch_checkpoint`).
"""
import contextlib
import hashlib
import itertools
import json
import os
import re
import shutil
from pathlib import Path

from .checkpoints import load_checkpoint, read_checkpoint
from .configs import option, plain
from .distributed import gather_objects, stopped_together
from .locks import hold_work_dir
from .scores import is_score_file

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
    return sorted((p for p in Path(work_dir).glob("epoch_*.pth") if _epoch_number(p) is not None), key=_epoch_number)


def _epoch_number(path):
    """N of an ``epoch_N.pth``; None for another name."""
    match = re.fullmatch(r"epoch_(\d+)\.pth", Path(path).name)
    return int(match[1]) if match else None


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
    left to resume when latest.pth is missing or unreadable. Epoch files are tried newest first, until one's epoch
    reads. Its tensors are mapped, not read (`_epoch_of`): a file cut short is refused (a zip's directory is at
    its end), but bytes damaged inside a tensor are not looked at here."""
    readable = ((path, _epoch_of(path)) for path in reversed(_epoch_checkpoints(work_dir)))
    found = [next(((path, epoch) for path, epoch in readable if epoch is not None), None),
             (Path(work_dir) / "best.pth", _epoch_of(Path(work_dir) / "best.pth"))]
    return max((item for item in found if item and item[1] is not None), key=lambda item: item[1], default=None)


def load_to_resume(checkpoint, model, optimizer, beside, cfg=None):
    """`tsnbook.checkpoints.load_checkpoint` for a resume; an unreadable latest.pth that ``--resume`` found
    (``beside``: in its work dir) names the newest checkpoint beside it, which ``--resume PATH`` continues;
    ``cfg``: the resuming run's, which a run of another architecture is named against."""
    try:
        return load_checkpoint(checkpoint, model, optimizer, cfg=cfg)
    except RuntimeError as err:
        other = newest_checkpoint(Path(checkpoint).parent) if beside else None
        if other is None:
            raise
        raise RuntimeError(f"{err}; the newest other checkpoint here is {other[0]} (epoch {other[1]}): --resume "
                           f"{other[0]} continues from it") from None


def _epoch_of(path):
    """The epoch a training checkpoint holds; None when it is missing or unreadable. Its tensors are mapped, not
    read (`tsnbook.checkpoints.read_checkpoint`): `newest_checkpoint` may try several files of a large model."""
    try:
        return int(read_checkpoint(path, mapped=True)["epoch"])
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
    if isinstance(resume, (str, os.PathLike)) and Path(resume).resolve().parent != Path(work_dir).resolve():
        raise RunExistsError(f"{work_dir} already holds a run ({found}); resuming {resume}, another run's "
                             f"checkpoint, there would overwrite it: choose another --work-dir (or the checkpoint's "
                             f"own, {Path(resume).parent})")


@contextlib.contextmanager
def hold_run(work_dir, world, force, resume):
    """Rank 0 holds the work dir for the run (`tsnbook.locks.hold_work_dir`) and, holding it, checks again that
    no run appeared there since (one that started and ended meanwhile); every rank stops together if not. Held,
    it removes the checkpoints a killed writer left half-written (`remove_partial_checkpoints`); unlocked, it
    leaves them: one may be another run's, in the middle of its write."""
    with contextlib.ExitStack() as stack:
        failure = None
        if world.is_main:
            try:
                locked = stack.enter_context(hold_work_dir(work_dir))
                refuse_existing_run(work_dir, force, resume)
                if locked:
                    remove_partial_checkpoints(work_dir)
            except Exception as err:  # noqa: BLE001 - any failure (an OSError too) is every rank's verdict, or
                failure = err  # the other ranks would wait in gather_objects until dist_timeout
        failure = gather_objects(failure)[0]  # rank 0's verdict, on every rank
        if failure is not None:
            raise stopped_together(failure)
        yield


def _score_files(work_dir):
    """The tsnbook score files (``.npz`` of scores, labels and names: `tsnbook.scores.save_scores`) in
    ``work_dir``: a test of the old run wrote them there, and they would outlive it, describing other weights."""
    return [path for path in Path(work_dir).glob("*.npz") if is_score_file(path)]


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
    the work dir is locked (`hold_run`): another run's file in the middle of its write is not one of them."""
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
    ``epoch_N.pth.tmp`` (`remove_partial_checkpoints`), never a truncated ``epoch_N.pth``.

    An ``epoch_N.pth`` above ``epoch`` is of a history this run went back from (`abandoned_history`): it goes, by
    this rule rather than by a list kept in memory, so an interrupted resume removes it at its next epoch too -
    left, it would outlive the run's own files (``max_keep_ckpts`` keeps the highest N)."""
    interval, keep = option(cfg, "checkpoint_interval"), option(cfg, "max_keep_ckpts")
    for later in [path for path in _epoch_checkpoints(work_dir) if _epoch_number(path) > epoch]:
        later.unlink(missing_ok=True)
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


def keep_resumed_epoch_checkpoint(work_dir, checkpoint, epoch, cfg, validated):
    """The resumed ``epoch``'s ``epoch_N.pth``, where `keep_epoch_checkpoint` wants one and it is missing: a run
    killed between saving latest.pth and linking it, or one whose validation was cut short and that was resumed
    without validating, never got it (and the final weights always have their own file). Linked from latest.pth
    only when that holds the resumed state: the work dir's own latest.pth was resumed, or the resume's validation
    (``validated``) just saved it; never for a resume from another file."""
    work_dir = Path(work_dir)
    own = validated or Path(checkpoint).resolve() == (work_dir / "latest.pth").resolve()
    if own and not (work_dir / f"epoch_{epoch}.pth").exists():
        keep_epoch_checkpoint(work_dir, epoch, cfg)


def abandoned_history(work_dir, checkpoint, epoch):
    """A warning when ``checkpoint``, a file of ``work_dir``'s own run, holds an earlier ``epoch`` than the run went
    on to (``--resume WORK_DIR/epoch_3.pth`` while latest.pth holds epoch 10), else None. Going back to an epoch
    because the later ones diverged or overfit is what naming an earlier file of the run is for, so it is allowed
    rather than refused (``--force`` would replace the whole run, and contradicts ``--resume``), but said. The
    abandoned ``epoch_N.pth`` go as the run saves its own epochs (`keep_epoch_checkpoint`): a resume that fails
    before its first epoch loses nothing."""
    work_dir, checkpoint = Path(work_dir), Path(checkpoint) if checkpoint else None
    latest = work_dir / "latest.pth"
    if checkpoint is None or checkpoint.resolve().parent != work_dir.resolve() or checkpoint.resolve() == \
            latest.resolve():
        return None
    later = [path for path in _epoch_checkpoints(work_dir) if _epoch_number(path) > epoch]
    source, newest = max([(latest, _epoch_of(latest) or 0)] + [(path, _epoch_number(path)) for path in later],
                         key=lambda item: item[1])
    if newest <= epoch:
        return None
    gone = f"epoch {newest}" if newest == epoch + 1 else f"epochs {epoch + 1}-{newest}"
    warning = f"resuming epoch {epoch} ({checkpoint}) while {source} holds epoch {newest}: {gone} of that " \
              f"history {'is' if newest == epoch + 1 else 'are'} abandoned"
    if later:
        warning += f"; {', '.join(path.name for path in later)} {'goes' if len(later) == 1 else 'go'} as this run " \
                   "saves its own epochs"
    best = _epoch_of(work_dir / "best.pth") if checkpoint.name != "best.pth" else None
    if best and best > epoch:
        warning += (f"; best.pth (epoch {best}) stays until this run validates an epoch better than the best "
                    f"epoch {epoch}'s checkpoint records")
    return warning


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


def _as_json(value):
    """``value`` as a run's config.json holds it (tuples as lists): resuming with that file is no change."""
    return json.loads(json.dumps(plain(value)))


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
               if before and _as_json(before.get(key)) != _as_json(cfg.get(key))]
    changes += [f"{cfg.get(key)} ({key}) was rebuilt since" for key, digest in (state.get("lists") or {}).items()
                if digests.get(key, digest) != digest]
    saved_by = state.get("world_size", world_size)
    if saved_by != world_size:
        batch = (before or cfg).get("batch_size", cfg["batch_size"])
        changes.append(f"world_size {saved_by} -> {world_size} (total batch {saved_by * batch} -> "
                       f"{world_size * cfg['batch_size']}; {saved_by} process(es) in all, as it was saved by, "
                       f"continue the run)")
    if state.get("validating") and not validating:
        changes.append(f"validation on -> off (best.pth stays at epoch {(state.get('best') or {}).get('epoch')})")
    return changes


def check_same_start(work_dir, checkpoint, epoch):
    """Under DDP, a RuntimeError on every rank unless all of them resume the same ``epoch`` (``checkpoint``: the
    file this rank resumes, None when it found none in ``work_dir``). Each process looks for its checkpoint in
    the work dir itself, so one on node-local storage gives every node its own: rank 0 resumed epoch 5 while
    another started at 0 - another lr, a fresh optimizer, more epochs to run - and rank 0 saved and finished
    what they trained together. Nothing is written before this check."""
    starts = gather_objects((epoch, None if checkpoint is None else str(checkpoint), str(work_dir)))
    if len({start for start, _, _ in starts}) == 1:
        return
    said = []  # ranks in a row that start alike, as one: a node's 8 GPUs agree, the nodes are what differ
    for (start, path, folder), group in itertools.groupby(enumerate(starts), key=lambda item: item[1]):
        ranks = [rank for rank, _ in group]
        who = f"rank {ranks[0]}" if len(ranks) == 1 else f"ranks {ranks[0]}-{ranks[-1]}"
        said.append(f"{who} {'resumes' if len(ranks) == 1 else 'resume'} {path} (epoch {start})" if path else
                    f"{who} {'finds' if len(ranks) == 1 else 'find'} no checkpoint in {folder}")
    shown = "; ".join(said[:4]) + (f"; and {len(said) - 4} more groups" if len(said) > 4 else "")
    raise stopped_together(RuntimeError(
        f"the processes would train from different epochs ({shown}): every process must see the same work dir, on a "
        f"file system all the nodes share (not node-local storage), or resume the same file (--resume PATH); "
        f"nothing was written"))
