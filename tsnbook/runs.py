"""A run's work dir: what counts as a run there, when one may be replaced, which epoch checkpoints are kept.

A finished run is never destroyed by accident: ``train`` refuses a work dir that holds one unless asked to
replace it (``--force``), and even then removes it only when the new run starts - after the new run's model,
data and loaders were built - so a typo in ``data_root``, or a ``load_from`` that points at the old run's own
checkpoint, costs nothing (`refuse_existing_run`, then `remove_run`).
"""
import os
import shutil
from pathlib import Path

from .configs import option

#: the files that make a work dir "a run" (besides epoch_N.pth)
RUN_FILES = ("latest.pth", "best.pth", "log.jsonl")


class RunExistsError(FileExistsError):
    """``train`` was asked to start afresh in a work dir that already holds a run."""


def _epoch_checkpoints(work_dir):
    """The ``epoch_N.pth`` files of ``work_dir``, oldest first."""
    return sorted(Path(work_dir).glob("epoch_*.pth"), key=lambda p: int(p.stem.split("_")[1]))


def existing_run(work_dir):
    """A one-line description of the run in ``work_dir`` ("latest.pth, log.jsonl, epoch_3.pth"), or None."""
    work_dir = Path(work_dir)
    found = [name for name in RUN_FILES if (work_dir / name).exists()] + [p.name for p in _epoch_checkpoints(work_dir)]
    return ", ".join(found) or None


def refuse_existing_run(work_dir, force):
    """Raise `RunExistsError` if ``work_dir`` holds a run and ``force`` is not given (every DDP process checks,
    so all of them stop together). With ``force`` the run stays until `remove_run`."""
    found = existing_run(work_dir)
    if found and not force:
        raise RunExistsError(f"{work_dir} already holds a run ({found}): pass --resume to continue it, --force to "
                             f"start over and replace it, or choose another --work-dir")


def remove_run(work_dir):
    """Delete the run files of ``work_dir`` (``--force``, once the new run has been built and starts)."""
    work_dir = Path(work_dir)
    for path in [work_dir / name for name in RUN_FILES] + _epoch_checkpoints(work_dir):
        path.unlink(missing_ok=True)


def keep_epoch_checkpoint(work_dir, epoch, cfg):
    """``epoch_N.pth`` every ``checkpoint_interval`` epochs and after the last one (MMAction2's checkpoint hook
    with ``save_last``: the final weights always have their own file), then only the newest ``max_keep_ckpts``
    (-1 keeps all). A hard link to the new latest.pth: no second write."""
    interval, keep = option(cfg, "checkpoint_interval"), option(cfg, "max_keep_ckpts")
    if not interval or (epoch % interval and epoch != cfg["epochs"]):
        return
    work_dir = Path(work_dir)
    target = work_dir / f"epoch_{epoch}.pth"
    target.unlink(missing_ok=True)
    try:
        os.link(work_dir / "latest.pth", target)
    except OSError:  # no hard links on this file system
        shutil.copyfile(work_dir / "latest.pth", target)
    for old in _epoch_checkpoints(work_dir)[:-keep] if keep > 0 else []:
        old.unlink()
