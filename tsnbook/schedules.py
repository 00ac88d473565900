"""Learning-rate schedules: the rate as a pure function of the config and the position in training.

A pure function (no scheduler object with hidden state) makes resuming exact: a run restarted at epoch k sets
exactly the rates an uninterrupted run would. The zoo's recipe is a step schedule; cosine and linear warmup are
the usual variations; ``lr_base_batch`` scales the rate linearly to the total batch (Goyal et al., 2017).
"""
import math

from .configs import option as _opt  # a config's value or the optional key's default


def base_lr(cfg, world_size=1):
    """The config's ``lr``, scaled linearly to the total batch when ``lr_base_batch`` is set (Goyal et al.).

    ``lr_base_batch`` is the total batch the lr was written for (the zoo: GPUs x videos per GPU); with
    ``auto_scale_lr`` (default True) a run with ``world_size x batch_size`` videos per step uses
    ``lr x world_size x batch_size / lr_base_batch``. Without ``lr_base_batch`` the lr is used as written.
    MMAction2 applies the config's lr as written whatever the batch (0.x; 1.x's ``auto_scale_lr`` is off in its
    configs) and its docs ask users to scale it by hand by this very rule; tsnbook scales by default so that a
    zoo recipe run on one GPU keeps its lr per video. ``auto_scale_lr=False`` takes the lr as MMAction2 does.
    """
    if cfg.get("lr_base_batch") and _opt(cfg, "auto_scale_lr"):
        return cfg["lr"] * world_size * cfg["batch_size"] / cfg["lr_base_batch"]
    return cfg["lr"]


def lr_at(cfg, epoch, progress=0.0, world_size=1):
    """Learning rate at ``epoch + progress`` (``progress`` in [0, 1): the fraction of the epoch done).

    A pure function of the config and the position, so a resumed run sets exactly the same rates.

    * ``lr_schedule="step"`` (default): ``lr * lr_gamma ** (number of lr_steps <= epoch)`` (MMAction2's step).
    * ``"cosine"``: ``min_lr + (lr - min_lr) * (1 + cos(pi * epoch / epochs)) / 2``, by epoch as mmcv's
      CosineAnnealing with ``by_epoch=True``.
    * ``warmup_epochs > 0``: mmcv's linear warmup, applied per iteration on top of either schedule: the rate
      climbs from ``warmup_ratio x`` the scheduled one at the first iteration to the scheduled one at the end
      of the warmup.
    """
    lr = base_lr(cfg, world_size)
    schedule = _opt(cfg, "lr_schedule")
    if schedule == "step":
        lr *= cfg.get("lr_gamma", 0.1) ** sum(epoch >= step for step in cfg.get("lr_steps", []))
    elif schedule == "cosine":
        min_lr = _opt(cfg, "min_lr")
        lr = min_lr + (lr - min_lr) * (1 + math.cos(math.pi * epoch / cfg["epochs"])) / 2
    else:
        raise ValueError(f"lr_schedule must be 'step' or 'cosine', got {schedule!r}")
    warmup, position = _opt(cfg, "warmup_epochs"), epoch + progress
    if warmup and position < warmup:
        lr *= 1 - (1 - position / warmup) * (1 - _opt(cfg, "warmup_ratio"))
    return lr
