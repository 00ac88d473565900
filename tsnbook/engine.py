"""A run: ``train`` (a config to a work dir of checkpoints and logs) and ``evaluate_checkpoint`` (its test).

The shape of torchvision's reference scripts; the loops themselves (``train_one_epoch``, ``evaluate``) are
`tsnbook.loops`. What a long run needs lives in the modules these call:

* **Atomic checkpoints** (`tsnbook.checkpoints`): a temporary file, fsync, rename; a crash mid-write leaves the
  previous checkpoint intact. Every checkpoint stores the resolved config, so it rebuilds its own model, and
  the class names when the config names a label map (``classes``, from `tsnbook.data.label_names`).
* **Runs are never overwritten by accident** (`tsnbook.runs`): ``force`` replaces one only when the new run
  starts, after its model, data and loaders were built - a run that cannot start leaves nothing on disk; another
  run's checkpoint is never resumed into it, and a second run started into a work dir in use stops at once.
* **An epoch is saved before it is validated** (latest.pth, ``validation_due``): a validation that runs out of
  memory or is killed loses no training, and the resume validates that epoch first, so best.pth stays right.
* **Exact resume**: the learning rate is a function of the position (`tsnbook.schedules`), the shuffling order
  and every augmentation draw are seeded from (seed, epoch), and so is torch's generator (dropout) at each epoch
  start - so resuming from the end of epoch k gives the same weights as never stopping.
* **Bad videos** are skipped by the data layer (`tsnbook.data` says what counts as one video's failure); here
  they are counted and listed in the log's epoch summary (and a test's ``skipped``), and the run goes on. The
  first *unexpected* failure of a run (not a known data failure: likely a bug) is printed with its traceback by
  rank 0 and written to ``log.jsonl`` (mode "error"); an epoch, or an evaluation, where no video at all could be
  used stops with an error (`SkippedVideos`).
* **Loaders**: one DataLoader per run for training (`TrainOrder` sends the epoch with each index, so
  ``persistent_workers`` keep their processes from epoch to epoch) and one for validation; testing goes through
  a DataLoader too, one video per item, so decoding runs in ``num_workers`` processes while the model scores.
  Spawned workers (never forked: decoders and CUDA do not survive a fork), pinned memory on CUDA.
* **Logs** (`tsnbook.logs`): one JSON object per line in ``log.jsonl`` (the run's world and effective lr, train
  iterations, epoch summaries, validations), which the notebooks plot.
* **Optimizer** (`tsnbook.optim`): SGD, with MMAction2's TSM parameter groups on request.
* **Several processes** (`tsnbook.distributed`): under torchrun, DistributedDataParallel with a
  DistributedSampler; validation and ``evaluate_checkpoint`` are sharded over the ranks and gathered (before
  validating, rank 0's BatchNorm statistics are broadcast: every shard is scored with the model best.pth
  saves); rank 0 alone writes and prints.
* **Progress** (`tsnbook.progress`): bars only where a person watches (a terminal, a notebook); every epoch
  (and validation) is also one printed line, which is all a log file gets (``make demo > log 2>&1``).
* **GPU habits**: autocast and channels_last on CUDA only - bf16 from compute capability 8.0, fp16 with a
  GradScaler below (``amp="auto"``, `tsnbook.loops.autocast_precision`; printed once and logged) - and cuDNN
  benchmark unless deterministic.
"""
import functools
import json
import os
import time
from pathlib import Path

import torch

from .checkpoints import plain, save_checkpoint
from .configs import check_config
from .configs import option as _opt  # a config's value or the optional key's default
from .data import build_dataset, classes_without_videos, collate_skipping_errors, label_names
from .distributed import (broadcast_buffers, convert_sync_batchnorm, destroy_process_group, failing_together,
                          gather_objects, init_process_group, wait_for_every_rank, world_from_environment)
from .factory import build_model, load_weights
from .gpu_augment import collate_padded, split_train_pipeline
from .logs import JsonLog
from .loops import (SkippedVideos, autocast_precision, evaluate, evaluation_loader, train_loader,
                    train_one_epoch, training_precision)
from .metrics import evaluation_report, main_metric
from .optim import build_optimizer
from .pipelines import protocol_of
from .progress import line
from .runs import (abandoned_history, check_same_start, hold_run, keep_epoch_checkpoint, keep_resumed_epoch_checkpoint,
                   list_digests, load_to_resume, refuse_existing_run, remove_run, resume_changes, resume_point)
from .schedules import base_lr, lr_at
from .transforms import Compose
from .utils import resolve_device, seed_everything


def _configure_backends(device, deterministic):
    """cuDNN autotuning on CUDA for speed; ``deterministic`` trades it for repeatable kernels."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it for deterministic GEMMs
        torch.use_deterministic_algorithms(True, warn_only=True)  # warn (not fail) on ops without such a kernel
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def train(cfg, work_dir, resume=True, device=None, progress=True, validate=True, data_root=None,
          deterministic=False, trusted=False, force=False):
    """Train ``cfg`` into ``work_dir``: ``latest.pth``, ``best.pth``, ``epoch_N.pth``, ``log.jsonl``, ``config.json``.

    ``resume=True`` continues from ``work_dir/latest.pth`` when it exists (a finished run is not repeated; when
    it is missing, from the newest checkpoint beside it: `tsnbook.runs.resume_point`); a path resumes from that
    file; any other value counts as its truth (1, numpy's bool). ``resume=False`` starts a new run, and refuses
    (`RunExistsError`) a work dir that holds one unless ``force=True``, which replaces it - once the new run has
    been built, so a mistake in the config costs nothing: a finished run is never destroyed by accident
    (`tsnbook.runs`). Every ``checkpoint_interval`` epochs (MMAction2's checkpoint_config), and after the last
    epoch, ``epoch_N.pth`` is kept, the newest ``max_keep_ckpts`` of them (-1: all). Returns the final summary
    dict.

    Launched by torchrun (``WORLD_SIZE > 1`` in the environment) every process runs this function: it joins the
    process group (`tsnbook.distributed`), trains its share of each batch under DistributedDataParallel and
    validates its share of the videos; rank 0 alone writes files and prints. ``batch_size`` is per process.
    A step where some rank's whole batch failed to decode is skipped by every rank together (and the videos
    are counted and listed as usual).
    """
    check_config(cfg)  # a config built by hand: every missing key in one error, before anything is written
    resume = resume if isinstance(resume, (str, os.PathLike)) else bool(resume)  # 1, numpy's True: checks use is
    world = world_from_environment()
    work_dir = Path(work_dir)
    refuse_existing_run(work_dir, force, resume)  # every process checks, so all of them stop together
    device = resolve_device(device, world.local_rank if world.size > 1 else None)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    _configure_backends(device, deterministic)
    joined = init_process_group(world, device, _opt(cfg, "dist_timeout"))
    try:
        with hold_run(work_dir, world, force, resume):
            return _train(cfg, work_dir, resume, device, progress and world.is_main, validate, data_root, world,
                          trusted)
    finally:
        if joined:
            destroy_process_group()


def _gpu_augment(cfg, train_set, device, speaks=True):
    """Move the training crop, resize and flip to the GPU (``gpu_augment``: "auto" = on CUDA, True, False).

    The loader then stops after decoding and the first Resize, and draws the crop box and flip with the same
    transforms and random stream as the CPU pipeline (`tsnbook.gpu_augment`); the GPU does the pixel work on
    the whole batch. Returns the GPU step (None: everything stays on the CPU) and the collate function. The note
    that "auto" keeps a pipeline on the CPU is printed when ``speaks`` (rank 0: every process would say it).
    """
    wanted = _opt(cfg, "gpu_augment")
    if wanted not in ("auto", True, False):
        raise ValueError(f"gpu_augment must be 'auto', True or False, got {wanted!r}")
    if wanted is False or (wanted == "auto" and device.type != "cuda"):
        return None, collate_skipping_errors
    try:
        cpu_steps, gpu = split_train_pipeline(cfg["train_pipeline"])
    except ValueError as err:
        if wanted is True:
            raise
        if speaks:
            print(f"note: training augmentation stays on the CPU ({err})")
        return None, collate_skipping_errors
    train_set.pipeline = Compose(cpu_steps)
    return gpu, collate_padded


def _start_run(cfg, work_dir, world, device, replace, resumed_from, start_epoch, lr, precision, said):
    """The new run begins, everything it needs built and checked: rank 0 removes the run it replaces (``replace``:
    ``force``), opens the log (a resume record first when ``resumed_from`` a checkpoint), writes config.json and
    prints the lr scaling and, on CUDA, the training precision (elsewhere: that an ``amp`` asked for is ignored).
    Returns the log (None on the other ranks).
    Nothing of a run is on disk before this (the work dir holds only its lock, `tsnbook.locks`, made by
    `tsnbook.runs.hold_run` and removed with the folder when the run fails to start), so a run that fails to start
    leaves none behind."""
    if replace:
        wait_for_every_rank()  # e.g. a load_from into the old run: every rank has read it before it goes
    if not world.is_main:
        return None
    if replace:
        remove_run(work_dir)
    log = JsonLog(work_dir / "log.jsonl")
    if resumed_from is not None:
        log.write(mode="resume", epoch=start_epoch, checkpoint=str(resumed_from))
    (work_dir / "config.json").write_text(json.dumps(cfg, indent=1, default=str))
    total = world.size * cfg["batch_size"]
    log.write(mode="config", world_size=world.size, batch_size=cfg["batch_size"], total_batch=total, lr=cfg["lr"],
              effective_lr=lr, lr_base_batch=cfg.get("lr_base_batch"), device=str(device),
              precision=precision or "fp32")
    if lr != cfg["lr"]:
        print(f"linear lr scaling: lr {cfg['lr']} x {world.size} process(es) x {cfg['batch_size']} videos / "
              f"lr_base_batch {cfg['lr_base_batch']} = {lr:g}")
    if said:
        print(said)
    return log


def _warn_of_classes_without_videos(cfg, train_set, classes, log):
    """A class no training video carries is never learnt: say so (rank 0), by name when the label map is known."""
    missing = classes_without_videos(train_set.records, cfg["num_classes"])
    if not missing or log is None:
        return
    named = [f"{label} ({classes[label]})" if classes else str(label) for label in missing]
    shown = ", ".join(named[:10]) + (f", and {len(named) - 10} more (in {log.path})" if len(named) > 10 else "")
    message = (f"{len(missing)} of the {cfg['num_classes']} classes {'has' if len(missing) == 1 else 'have'} no "
               f"training video in {Path(cfg['ann_file_train']).name}: {shown}")
    print(f"warning: {message}")
    log.write(mode="warning", message=message, classes_without_videos=missing)


def _train(cfg, work_dir, resume, device, progress, validate, data_root, world, trusted):
    seed = cfg.get("seed", 0)
    seed_everything(seed)
    model = build_model(cfg, trusted=trusted)
    if _opt(cfg, "sync_bn") and world.size > 1:
        model = convert_sync_batchnorm(model, device.type)
    model = model.to(device)
    if device.type == "cuda" and _opt(cfg, "channels_last"):
        model.channels_last = True
        model.to(memory_format=torch.channels_last)
    lr = base_lr(cfg, world.size)
    optimizer = build_optimizer(model, cfg, lr)
    precision, scaler, said = training_precision(cfg, device)
    start_epoch, metrics = 0, _opt(cfg, "eval_metrics")
    best = {main_metric(metrics): -1.0}
    latest, note = work_dir / "latest.pth", None
    checkpoint = Path(resume) if isinstance(resume, (str, os.PathLike)) else None
    validating = bool(validate and cfg.get("ann_file_val"))
    with failing_together():  # each process reads its own work dir: one that cannot resume stops them all
        if resume is True:
            checkpoint, note = resume_point(work_dir)
        digests, changes = list_digests(cfg, data_root), []
        if checkpoint is not None:
            state = load_to_resume(checkpoint, model, optimizer, beside=resume is True, cfg=cfg)
            start_epoch, best = state["epoch"], state.get("best", best)
            if scaler is not None and "scaler" in state:
                scaler.load_state_dict(state["scaler"])
            changes = resume_changes(state, plain(cfg), digests, world.size, validating)
    if world.size > 1:  # first: a rank that raised alone below would leave the others waiting in this collective
        check_same_start(work_dir, checkpoint, start_epoch)
    if start_epoch > cfg["epochs"]:  # before config.json is written: it still describes the run
        raise ValueError(f"{checkpoint} holds epoch {start_epoch}, past epochs={cfg['epochs']}: nothing to train; "
                         f"resume with epochs >= {start_epoch}, or test the checkpoint")
    train_set = build_dataset(cfg, "train", data_root)
    gpu_augment, collate_fn = _gpu_augment(cfg, train_set, device, world.is_main)
    val_set = build_dataset(cfg, "val", data_root) if validating else None
    workers, persistent = cfg.get("num_workers", 0), _opt(cfg, "persistent_workers")
    loader = train_loader(train_set, cfg["batch_size"], workers, seed, device, world, collate_fn, persistent)
    val_loader = evaluation_loader(val_set, workers, device, persistent) if val_set is not None else None
    classes = label_names(cfg, data_root)  # stored with the weights, so predict can name the classes
    record = dict(cfg_name=cfg["name"], cfg=plain(cfg), lists=digests, world_size=world.size,
                  validating=validating, **({} if classes is None else {"classes": classes}))  # this run's
    log = _start_run(cfg, work_dir, world, device, resume is False, checkpoint, start_epoch, lr, precision, said)
    abandoning = abandoned_history(work_dir, checkpoint, start_epoch) if log else None
    if note and log:
        print(note)
    changed = f"resuming {checkpoint} with changes since it was saved: " + "; ".join(changes) if changes else None
    for message in [m for m in (changed, abandoning) if m and log]:  # allowed (a longer schedule is a reason to
        print(f"warning: {message}")  # resume, a diverged one to go back to an epoch), but never unseen
        log.write(mode="warning", message=message)
    _warn_of_classes_without_videos(cfg, train_set, classes, log)
    failures = SkippedVideos(log, speaks=world.is_main)
    module = model
    validate_epoch = functools.partial(_validate, module, val_set, val_loader, cfg, device, progress, failures, log)
    if checkpoint is not None:
        validated = bool(state.get("validation_due")) and val_set is not None  # it stopped validating that epoch
        if validated:  # saved with this run's records, as the epochs it trains will be
            best = _keep_best(validate_epoch, main_metric(metrics), dict(state, **record), best, work_dir, world)
        if world.is_main:
            keep_resumed_epoch_checkpoint(work_dir, checkpoint, start_epoch, cfg, validated)
    if world.size > 1:
        model.train()  # partial_bn freezes its BN parameters in train(): DDP must see that before wrapping
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    for epoch in range(start_epoch, cfg["epochs"]):
        # dropout's stream depends on the epoch (and rank) alone: exact resume; a world of one keeps seed*1000+epoch
        torch.manual_seed((seed * 1000 + epoch) * world.size + world.rank)
        train_set.set_epoch(epoch)  # for direct dataset[index] users; the loader sends the epoch itself
        loader.sampler.set_epoch(epoch)
        start = time.time()
        loss, top1, skipped = train_one_epoch(model, loader, optimizer, device, epoch, cfg, log, progress, scaler,
                                              world.size, gpu_augment, failures)
        unexpected = failures.take_unexpected()
        if world.size > 1:  # every rank's skipped videos, for an epoch summary of the whole world
            parts = gather_objects((skipped, unexpected, failures.first))
            # once each: the DistributedSampler pads an epoch by repeating videos, so two ranks may load the same
            skipped, unexpected = (list(dict.fromkeys(s for p in parts for s in p[i])) for i in (0, 1))
            for part in parts:
                failures.report(part[2])  # rank 0 reports another rank's first unexpected failure (once a run)
        summary = dict(mode="epoch", epoch=epoch + 1, loss=round(loss, 5), train_top1=round(100 * top1, 3),
                       lr=round(lr_at(cfg, epoch, 0.0, world.size), 10), seconds=round(time.time() - start, 2),
                       skipped=len(skipped))
        if skipped and world.is_main:
            summary["skipped_videos"] = skipped
            if unexpected:
                summary["unexpected"] = len(unexpected)
            print(f"warning: skipped {len(skipped)} unusable video(s) in epoch {epoch + 1}"
                  f"{f', {len(unexpected)} of them by an unexpected error' if unexpected else ''}, listed in "
                  f"{log.path}")
        if log:
            log.write(**summary)
        line(progress, f"{cfg['name']} epoch {epoch + 1}/{cfg['epochs']}: loss {summary['loss']:.4f}, train top1 "
                       f"{summary['train_top1']:.2f}, lr {summary['lr']:g}, {summary['seconds']:.1f} s"
                       + (f", {len(skipped)} video(s) skipped" if skipped else ""))
        state = dict(model=module.state_dict(), optimizer=optimizer.state_dict(), epoch=epoch + 1, **record)
        if scaler is not None:
            state["scaler"] = scaler.state_dict()
        due = val_set is not None and ((epoch + 1) % cfg.get("eval_interval", 1) == 0 or epoch + 1 == cfg["epochs"])
        if world.is_main:  # the epoch is safe before validating it, which may run out of memory or be killed
            save_checkpoint(latest, dict(state, best=best, validation_due=due))
        if due:
            best = _keep_best(validate_epoch, main_metric(metrics), state, best, work_dir, world)
        if world.is_main:
            keep_epoch_checkpoint(work_dir, epoch + 1, cfg)
    return dict(work_dir=str(work_dir), epochs=cfg["epochs"], best=best, world_size=world.size)


def _keep_best(validate, key, state, best, work_dir, world):
    """Validate the epoch ``state`` ends (``validate(epoch)``: `_validate`), keep it as best.pth when it beats
    ``best`` on the metric ``key``, and record in latest.pth that it was validated. Returns the best so far."""
    report = validate(state["epoch"] - 1)
    improved = report[key] > best.get(key, -1.0)
    if improved:
        best = {key: report[key], "epoch": state["epoch"]}
    done = dict(state, best=best, validation_due=False)
    if world.is_main:
        if improved:
            save_checkpoint(work_dir / "best.pth", done)
        save_checkpoint(work_dir / "latest.pth", done)
    return best


def _validate(module, val_set, val_loader, cfg, device, progress, failures, log, epoch):
    """Validate after ``epoch`` (sharded under DDP), log and print the report; returns it.

    Under DDP each rank's BatchNorm statistics are its own share's (the gradients are averaged, the buffers are
    not), so rank 0's are broadcast first: every shard is scored with the model that best.pth saves.
    """
    broadcast_buffers(module)
    scores, labels, val_skipped = evaluate(module, val_set, device, progress, desc="val",
                                           average_clips=_opt(cfg, "average_clips"), amp=_opt(cfg, "test_amp"),
                                           loader=val_loader, failures=failures)
    report = evaluation_report(scores, labels, _opt(cfg, "eval_metrics"))
    val_unexpected = failures.take_unexpected()
    if log:
        listed = dict(skipped_videos=val_skipped) if val_skipped else {}
        if val_unexpected:
            listed["unexpected"] = len(val_unexpected)
        log.write(mode="val", epoch=epoch + 1, skipped=len(val_skipped), **{k: round(v, 3) for k, v in report.items()},
                  **listed)
    line(progress, f"{cfg['name']} epoch {epoch + 1}/{cfg['epochs']}: val " +
         ", ".join(f"{k} {v:.2f}" for k, v in report.items() if isinstance(v, float)) +
         (f", {len(val_skipped)} video(s) skipped" if val_skipped else ""))
    return report


def test_precision(device, amp):
    """What a test on ``device`` computes in: "fp32", or the autocast dtype ("bf16" / "fp16") on CUDA."""
    return autocast_precision(amp, device) or "fp32"


def evaluate_checkpoint(cfg, checkpoint, device=None, progress=True, data_root=None, split="test", trusted=False,
                        strict=True, amp=None, workers=None):
    """Multi-clip x multi-crop test of ``checkpoint``: ``(scores, labels, report, skipped)``.

    ``checkpoint``: a tsnbook or an MMAction2 file (a released zoo checkpoint tests with its row's config); its
    weights must fit the model ``cfg`` describes (`tsnbook.factory.load_weights`). Scores follow the config's
    ``average_clips``; the report has the config's ``eval_metrics``, the ``protocol`` and the ``precision``:
    fp32 unless ``amp`` (or the config's ``test_amp``) asks for bf16 / fp16 autocast on CUDA - the zoo's numbers
    are fp32 tests, and a training run's ``amp`` does not carry over to testing. The videos are decoded by
    ``workers`` DataLoader processes (default: the config's ``num_workers``) while the model scores.

    Launched by torchrun (``WORLD_SIZE > 1``), every process runs this: it joins the process group, scores its
    share of the videos on its own device (``cuda:LOCAL_RANK``), and every process returns the gathered arrays,
    equal to a single process's up to float rounding (each video's views are scored within one process).
    """
    check_config(cfg)
    world = world_from_environment()
    device = resolve_device(device, world.local_rank if world.size > 1 else None)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    amp = amp or _opt(cfg, "test_amp")
    joined = init_process_group(world, device.type, _opt(cfg, "dist_timeout"))
    try:
        model = build_model(dict(cfg, pretrained=None, load_from=None))
        load_weights(model, checkpoint, trusted=trusted, strict=strict)
        model = model.to(device)
        dataset = build_dataset(cfg, split, data_root)
        workers = cfg.get("num_workers", 0) if workers is None else workers
        scores, labels, skipped = evaluate(model, dataset, device, progress and world.is_main,
                                           desc=f"test {cfg['name']}", average_clips=_opt(cfg, "average_clips"),
                                           amp=amp, workers=workers)
    finally:
        if joined:
            destroy_process_group()
    report = evaluation_report(scores, labels, _opt(cfg, "eval_metrics"))
    report.update(protocol=protocol_of(cfg, split if split != "train" else "test"),
                  precision=test_precision(device, amp))
    return scores, labels, report, skipped


evaluate_checkpoint.__test__ = test_precision.__test__ = False  # library functions, not pytest tests
