"""Training and testing: ``train_one_epoch``, ``evaluate``, ``train``, ``test`` (torchvision references' shape).

What a long run needs, and where it lives:

* **Atomic checkpoints** (`save_checkpoint`): written to a temporary file in the same folder, flushed, then
  renamed; a crash mid-write leaves the previous checkpoint intact.
* **Exact resume**: the learning rate is a function of the epoch, the shuffling order and every augmentation
  draw are seeded from (seed, epoch), and so is torch's generator (dropout) at each epoch start - so resuming from
  the end of epoch k gives the same weights as never stopping.
* **Bad videos** are skipped by the data layer; here they are counted, listed in the log, and the run goes on.
* **Logs**: one JSON object per line in ``log.jsonl`` (the run's world and effective lr, train iterations,
  epoch summaries, validations), which the notebooks plot.
* **Schedules** (`lr_at`): step or cosine, optional linear warmup per iteration, linear scaling of the lr to
  the total batch (`base_lr`); SGD, with MMAction2's TSM parameter groups on request (`build_optimizer`).
* **Several processes** (`tsnbook.distributed`): under torchrun, DistributedDataParallel with a
  DistributedSampler; validation is sharded over the ranks and gathered; rank 0 alone writes and prints.
* **GPU habits**: bf16 (or fp16 with a GradScaler) autocast and channels_last on CUDA only, cuDNN benchmark
  unless deterministic.
"""
import io
import json
import math
import os
import pickle
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm.auto import tqdm

from .checkpoints import read_checkpoint
from .configs import OPTIONAL_KEYS
from .configs import option as _opt  # a config's value or the optional key's default
from .data import build_dataset, collate_skipping_errors
from .distributed import (convert_sync_batchnorm, destroy_process_group, gather_objects, init_process_group,
                          world_from_environment)
from .gpu_augment import collate_padded, split_train_pipeline
from .metrics import mean_average_precision, mean_class_accuracy, mmit_mean_average_precision, top_k_accuracy
from .models import build_model  # lives in models; tsnbook.engine.build_model still works
from .transforms import Compose
from .utils import best_device, seed_everything

METRICS = ("top_k_accuracy", "mean_class_accuracy", "mean_average_precision", "mmit_mean_average_precision")



def base_lr(cfg, world_size=1):
    """The config's ``lr``, scaled linearly to the total batch when ``lr_base_batch`` is set (Goyal et al.).

    ``lr_base_batch`` is the total batch the lr was written for (the zoo: GPUs x videos per GPU); with
    ``auto_scale_lr`` (default True) a run with ``world_size x batch_size`` videos per step uses
    ``lr x world_size x batch_size / lr_base_batch``. Without ``lr_base_batch`` the lr is used as written.
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


def build_optimizer(model, cfg, lr):
    """SGD with momentum and weight decay; each parameter group carries an ``lr_mult`` the schedule multiplies.

    ``fc_lr5=True`` builds the groups of MMAction2's TSMOptimizerConstructor (0.24.1), used by the MMiT row:
    the first conv's weight at (lr, decay) and its bias at (2 lr, no decay); other conv and linear weights at
    (lr, decay), their biases at (2 lr, no decay); normalisation parameters that train at (lr, no decay); the
    classifier (the last Linear) at (5 lr, decay) for the weight and (10 lr, no decay) for the bias.
    """
    decay = cfg.get("weight_decay", 1e-4)
    if not _opt(cfg, "fc_lr5"):
        groups = [dict(params=list(model.parameters()), lr_mult=1.0)]
    else:
        first_conv, weights, biases, norms, linears = [], [], [], [], []
        for module in model.modules():
            params = list(module.parameters(recurse=False))
            if isinstance(module, torch.nn.modules.conv._ConvNd):
                (first_conv if not first_conv else weights).append(module.weight)
                if module.bias is not None:
                    biases.append(module.bias)  # the first conv's bias has the same (2 lr, no decay) as the rest
            elif isinstance(module, torch.nn.Linear):
                linears.append(module)
            elif isinstance(module, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.GroupNorm)):
                norms += [p for p in params if p.requires_grad]
            elif params:
                raise ValueError(f"fc_lr5: no learning-rate rule for a {type(module).__name__} layer (MMAction2's "
                                 f"TSMOptimizerConstructor knows conv, linear and normalisation layers only)")
        if not linears:
            raise ValueError("fc_lr5 needs a Linear classifier, and this model has none")
        *others, fc = linears
        weights += [m.weight for m in others]
        biases += [m.bias for m in others if m.bias is not None]
        groups = [dict(params=first_conv + weights, lr_mult=1.0), dict(params=biases, lr_mult=2.0, weight_decay=0.0),
                  dict(params=norms, lr_mult=1.0, weight_decay=0.0), dict(params=[fc.weight], lr_mult=5.0),
                  dict(params=[fc.bias], lr_mult=10.0, weight_decay=0.0)]
        groups = [g for g in groups if g["params"]]
    optimizer = torch.optim.SGD(groups, lr=lr, momentum=cfg.get("momentum", 0.9), weight_decay=decay)
    set_lr(optimizer, lr)
    return optimizer


def set_lr(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)


def save_checkpoint(path, state):
    """``torch.save`` to ``path`` atomically: a temporary file in the same folder, fsync, rename."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path, model=None, optimizer=None):
    """Load a tsnbook checkpoint (weights only: no arbitrary unpickling) into ``model``/``optimizer``.

    A truncated file or one made for another number of classes raises an error that says so and what to do.
    """
    path = Path(path)
    state = read_checkpoint(path)  # weights_only; a truncated file gets a message that says so
    if model is not None:
        weights = state.get("model", state)
        expected = model.state_dict()
        mismatched = {k: f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
                      for k, v in weights.items() if k in expected and v.shape != expected[k].shape}
        if mismatched:
            hint = ("It was trained for another number of classes. To fine-tune from it, drop the classifier "
                    "first: {k: v for k, v in weights.items() if not k.startswith('fc.')} and load with "
                    "strict=False." if all(k.startswith("fc.") for k in mismatched) else
                    "It was made for another backbone or modality (RGB has 3 input channels, flow 10): check "
                    "the config.")
            raise ValueError(f"{path} does not fit this model: " + "; ".join(mismatched.values()) + ". " + hint)
        model.load_state_dict(weights)
    if optimizer is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    return state


class JsonLog:
    """Append-only JSON-lines log: one ``json.dumps`` per line, flushed on every write, easy to plot."""

    def __init__(self, path):
        self.path = Path(path)

    def write(self, **record):
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


def read_log(path):
    """The records of a ``log.jsonl`` file, as a list of dicts."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _loader(dataset, batch_size, shuffle, workers, seed, epoch, world=None, collate_fn=collate_skipping_errors):
    """One epoch's DataLoader. A world of one shuffles with a generator seeded from (seed, epoch); under DDP a
    DistributedSampler (seeded, ``set_epoch``) gives each rank its own share of the same permutation."""
    sampler, generator = None, torch.Generator().manual_seed(seed * 1000 + epoch)
    if world is not None and world.size > 1:
        sampler = torch.utils.data.DistributedSampler(dataset, world.size, world.rank, shuffle=shuffle, seed=seed)
        sampler.set_epoch(epoch)
    items = len(sampler) if sampler is not None else len(dataset)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
        num_workers=workers, generator=generator, collate_fn=collate_fn,
        drop_last=shuffle and items > batch_size, multiprocessing_context="spawn" if workers else None,
        persistent_workers=False)


def _autocast(device, cfg):
    """bf16 / fp16 autocast on CUDA only (``amp``); never on the CPU, where bf16 is slow and changes results."""
    amp = _opt(cfg, "amp")
    if amp not in (None, "bf16", "fp16"):
        raise ValueError(f"amp must be 'bf16', 'fp16' or None, got {amp!r}")
    dtype = torch.float16 if amp == "fp16" else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype, enabled=device.type == "cuda" and amp is not None)


def _every_rank_has_a_batch(have_batch, world_size, device):
    """True when this process - and under DDP every process - has at least one decodable video in its batch.

    DDP's backward waits for the gradients of every rank, so one rank skipping a step alone would leave the
    others blocked until ``dist_timeout``; a tiny all-reduce lets all of them skip it together instead.
    """
    if world_size == 1:
        return have_batch
    flag = torch.tensor([int(have_batch)], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def train_one_epoch(model, loader, optimizer, device, epoch, cfg, log, progress=True, scaler=None, world_size=1,
                    gpu_augment=None):
    """One pass over ``loader``; returns ``(mean loss, top-1 on the training batches, skipped videos)``.

    The learning rate is set before every iteration from `lr_at` (warmup moves within an epoch). Multi-label
    configs train with binary cross-entropy on the multi-hot labels, times ``loss_weight``. ``scaler``: a
    GradScaler for fp16 (None otherwise). ``log`` may be None (DDP ranks other than 0). ``gpu_augment``: a
    `tsnbook.gpu_augment.GPUCropFlip` that crops, resizes and flips the batch on ``device`` (see `_gpu_augment`).
    """
    model.train()
    total_loss, correct, seen, skipped = 0.0, 0, 0, []
    multi_label, loss_weight = _opt(cfg, "multi_label"), _opt(cfg, "loss_weight")
    bar = tqdm(loader, desc=f"{cfg['name']} epoch {epoch + 1}/{cfg['epochs']}", disable=not progress, leave=False)
    for step, batch in enumerate(bar):
        skipped += batch["errors"]
        if not _every_rank_has_a_batch(batch["imgs"] is not None, world_size, device):
            continue  # a whole batch failed to decode (here or on another rank): every rank skips this step
        set_lr(optimizer, lr_at(cfg, epoch, step / len(loader), world_size))
        imgs, labels = batch["imgs"].to(device, non_blocking=True), batch["label"].to(device)
        if gpu_augment is not None:  # the loader shipped uncropped uint8 frames and the drawn boxes and flips
            imgs = gpu_augment(imgs, batch["crop_box"], batch["flip"], clip_len=cfg.get("clip_len"))
        with _autocast(device, cfg):
            logits = model(imgs)
        logits = logits.float()
        loss = (F.binary_cross_entropy_with_logits(logits, labels) * loss_weight if multi_label
                else F.cross_entropy(logits, labels))
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:  # fp16: scale the loss so small gradients survive, unscale before clipping
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if cfg.get("grad_clip"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        total_loss += loss.item() * len(imgs)
        seen += len(imgs)
        if not multi_label:
            correct += (logits.argmax(1) == labels).sum().item()
        if log is not None:
            log.write(mode="train", epoch=epoch + 1, iter=step + 1, lr=round(optimizer.param_groups[0]["lr"], 10),
                      loss=round(loss.item(), 5))
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return total_loss / max(seen, 1), correct / max(seen, 1), skipped


@torch.no_grad()
def evaluate(model, dataset, device, progress=True, desc="test", views_per_chunk=64, average_clips=None, amp="bf16"):
    """Scores of every video in ``dataset`` (test mode): ``(scores [N, C], labels, skipped)``.

    All views of a video (clips x crops) go through the backbone in chunks and their pooled features are
    averaged before the classifier - TSN's consensus, as MMAction2's test (spec §6.1). ``average_clips`` is
    then applied to that video-level output: None or "score" keep the raw logits (the 0.x zoo), "prob" takes
    their softmax - so TSN's "prob" is softmax(fc(mean feature)), not a mean of per-clip softmaxes. Videos that
    fail to decode are skipped and returned in ``skipped``; their rows are NaN.

    Under DDP (an initialised process group) each rank scores every world_size-th video and the results are
    gathered, so every rank returns the full arrays.
    """
    model.eval()
    rank, size = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    mine, errors = {}, []  # this rank's rows {index: scores} and undecodable videos
    autocast_cfg = dict(amp=amp)
    for index in tqdm(range(rank, len(dataset), size), desc=desc, disable=not progress, leave=False):
        item = dataset[index]
        if "error" in item:
            errors.append(item["error"])
            continue
        mine[index] = model.score_views(item["imgs"], average_clips, views_per_chunk,
                                        autocast=lambda: _autocast(device, autocast_cfg))
    scores, skipped = np.full((len(dataset), model.num_classes), np.nan, dtype=np.float32), []
    for rows, errors in gather_objects((mine, errors)):
        for index, row in rows.items():
            scores[index] = row
        skipped += errors
    labels = [record.label for record in dataset.records]
    return scores, labels, skipped


def accuracy_report(scores, labels):
    """top-1 / top-5 / mean class accuracy over the videos that have scores (in %)."""
    return evaluation_report(scores, labels, ["top_k_accuracy", "mean_class_accuracy"])


def evaluation_report(scores, labels, metrics=OPTIONAL_KEYS["eval_metrics"]):
    """The ``eval_metrics`` of a config (MMAction2's names), in %, over the videos that have scores.

    "top_k_accuracy" gives ``top1`` and ``top5``; "mean_class_accuracy", "mean_average_precision" (HVU: AP per
    class) and "mmit_mean_average_precision" (MMiT: AP per video) give a key of their own name. The last two
    need multi-label lists (``labels`` as lists of class indices).
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"unknown evaluation metric(s) {unknown or metrics}: choose from {', '.join(METRICS)}")
    keep = ~np.isnan(scores).any(axis=1)
    scores = scores[keep]
    labels = [label for label, k in zip(labels, keep) if k]
    report = {}
    for metric in metrics:
        multi_label = metric in ("mean_average_precision", "mmit_mean_average_precision")
        if multi_label != any(isinstance(label, (list, tuple)) for label in labels):
            kind, others = (("multi-label (multi_label=True)", METRICS[:2]) if multi_label else
                            ("single-label", METRICS[2:]))
            raise ValueError(f"eval metric {metric} needs a {kind} dataset; use {' / '.join(others)} for this one")
        if metric == "top_k_accuracy":
            top1, top5 = top_k_accuracy(scores, labels, (1, min(5, scores.shape[1])))
            report.update(top1=100 * top1, top5=100 * top5)
        elif metric == "mean_class_accuracy":
            report[metric] = 100 * mean_class_accuracy(scores, labels)
        else:
            multi_hot = np.zeros(scores.shape, dtype=np.int64)
            for row, label in zip(multi_hot, labels):
                row[list(label)] = 1
            measure = mean_average_precision if metric == "mean_average_precision" else mmit_mean_average_precision
            report[metric] = 100 * measure(scores, multi_hot)
    report["num_videos"] = int(keep.sum())
    return report


def _main_metric(metrics):
    """The report key that chooses best.pth: the first metric (top_k_accuracy -> top1)."""
    return "top1" if metrics[0] == "top_k_accuracy" else metrics[0]


def _configure_backends(device, deterministic):
    """cuDNN autotuning on CUDA for speed; ``deterministic`` trades it for repeatable kernels."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it for deterministic GEMMs
        torch.use_deterministic_algorithms(True, warn_only=True)  # warn (not fail) on ops without such a kernel
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def train(cfg, work_dir, resume=True, device=None, progress=True, validate=True, data_root=None,
          deterministic=False):
    """Train ``cfg`` into ``work_dir`` (``latest.pth``, ``best.pth``, ``log.jsonl``, ``config.json``).

    ``resume=True`` continues from ``work_dir/latest.pth`` when it exists (a finished run is not repeated);
    a path resumes from that file; False starts over. Returns the final summary dict.

    Launched by torchrun (``WORLD_SIZE > 1`` in the environment) every process runs this function: it joins the
    process group (`tsnbook.distributed`), trains its share of each batch under DistributedDataParallel and
    validates its share of the videos; rank 0 alone writes files and prints. ``batch_size`` is per process.
    A step where some rank's whole batch failed to decode is skipped by every rank together (and the videos
    are counted and listed as usual).
    """
    world = world_from_environment()
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(device or best_device())
    if device.type == "cuda" and device.index is None and world.size > 1:
        device = torch.device("cuda", world.local_rank)  # one GPU per process, the one torchrun assigned
    if device.type == "cuda":
        torch.cuda.set_device(device)
    _configure_backends(device, deterministic)
    joined = init_process_group(world, device.type, _opt(cfg, "dist_timeout"))
    try:
        return _train(cfg, work_dir, resume, device, progress and world.is_main, validate, data_root, world)
    finally:
        if joined:
            destroy_process_group()


def _gpu_augment(cfg, train_set, device):
    """Move the training crop, resize and flip to the GPU (``gpu_augment``: "auto" = on CUDA, True, False).

    The loader then stops after decoding and the first Resize, and draws the crop box and flip with the same
    transforms and random stream as the CPU pipeline (`tsnbook.gpu_augment`); the GPU does the pixel work on
    the whole batch. Returns the GPU step (None: everything stays on the CPU) and the collate function.
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
        print(f"note: training augmentation stays on the CPU ({err})")
        return None, collate_skipping_errors
    train_set.pipeline = Compose(cpu_steps)
    return gpu, collate_padded


def _train(cfg, work_dir, resume, device, progress, validate, data_root, world):
    seed = cfg.get("seed", 0)
    seed_everything(seed)
    model = build_model(cfg)
    if _opt(cfg, "sync_bn") and world.size > 1:
        model = convert_sync_batchnorm(model, device.type)
    model = model.to(device)
    if device.type == "cuda" and _opt(cfg, "channels_last"):
        model.channels_last = True
        model.to(memory_format=torch.channels_last)
    lr = base_lr(cfg, world.size)
    optimizer = build_optimizer(model, cfg, lr)
    scaler = torch.amp.GradScaler("cuda") if device.type == "cuda" and _opt(cfg, "amp") == "fp16" else None
    start_epoch, metrics = 0, _opt(cfg, "eval_metrics")
    best = {_main_metric(metrics): -1.0}
    latest = work_dir / "latest.pth"
    checkpoint = Path(resume) if isinstance(resume, (str, Path)) else latest if resume and latest.exists() else None
    log = JsonLog(work_dir / "log.jsonl") if world.is_main else None
    if checkpoint is not None:
        state = load_checkpoint(checkpoint, model, optimizer)
        start_epoch, best = state["epoch"], state.get("best", best)
        if scaler is not None and "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        if log:
            log.write(mode="resume", epoch=start_epoch, checkpoint=str(checkpoint))
    elif log:
        log.path.unlink(missing_ok=True)
    if world.is_main:
        (work_dir / "config.json").write_text(json.dumps(cfg, indent=1, default=str))
        total = world.size * cfg["batch_size"]
        log.write(mode="config", world_size=world.size, batch_size=cfg["batch_size"], total_batch=total,
                  lr=cfg["lr"], effective_lr=lr, lr_base_batch=cfg.get("lr_base_batch"), device=str(device))
        if lr != cfg["lr"]:
            print(f"linear lr scaling: lr {cfg['lr']} x {world.size} process(es) x {cfg['batch_size']} videos / "
                  f"lr_base_batch {cfg['lr_base_batch']} = {lr:g}")
    train_set = build_dataset(cfg, "train", data_root)
    gpu_augment, collate_fn = _gpu_augment(cfg, train_set, device)
    val_set = build_dataset(cfg, "val", data_root) if validate and cfg.get("ann_file_val") else None
    module = model
    if world.size > 1:
        model.train()  # partial_bn freezes its BN parameters in train(): DDP must see that before wrapping
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    for epoch in range(start_epoch, cfg["epochs"]):
        # dropout's stream depends on the epoch (and rank) alone: exact resume; a world of one keeps seed*1000+epoch
        torch.manual_seed((seed * 1000 + epoch) * world.size + world.rank)
        train_set.set_epoch(epoch)
        loader = _loader(train_set, cfg["batch_size"], True, cfg.get("num_workers", 0), seed, epoch, world,
                         collate_fn)
        start = time.time()
        loss, top1, skipped = train_one_epoch(model, loader, optimizer, device, epoch, cfg, log, progress, scaler,
                                              world.size, gpu_augment)
        if world.size > 1:  # every rank's loss and skipped videos, for an epoch summary of the whole world
            parts = gather_objects((loss, top1, skipped))
            loss, top1 = float(np.mean([p[0] for p in parts])), float(np.mean([p[1] for p in parts]))
            skipped = [s for p in parts for s in p[2]]
        summary = dict(mode="epoch", epoch=epoch + 1, loss=round(loss, 5), train_top1=round(100 * top1, 3),
                       lr=round(lr_at(cfg, epoch, 0.0, world.size), 10), seconds=round(time.time() - start, 2),
                       skipped=len(skipped))
        if skipped and world.is_main:
            summary["skipped_videos"] = skipped
            print(f"warning: skipped {len(skipped)} undecodable video(s) in epoch {epoch + 1}, "
                  f"listed in {log.path}")
        if log:
            log.write(**summary)
        state = dict(model=module.state_dict(), optimizer=optimizer.state_dict(), epoch=epoch + 1,
                     cfg_name=cfg["name"])
        if scaler is not None:
            state["scaler"] = scaler.state_dict()
        is_last = epoch + 1 == cfg["epochs"]
        if val_set is not None and ((epoch + 1) % cfg.get("eval_interval", 1) == 0 or is_last):
            scores, labels, val_skipped = evaluate(module, val_set, device, progress, desc="val",
                                                   average_clips=_opt(cfg, "average_clips"), amp=_opt(cfg, "amp"))
            report = evaluation_report(scores, labels, metrics)
            if log:
                log.write(mode="val", epoch=epoch + 1, skipped=len(val_skipped),
                          **{k: round(v, 3) for k, v in report.items()})
            key = _main_metric(metrics)
            if report[key] > best.get(key, -1.0):
                best = {key: report[key], "epoch": epoch + 1}
                if world.is_main:
                    save_checkpoint(work_dir / "best.pth", dict(state, best=best))
        state["best"] = best
        if world.is_main:
            save_checkpoint(latest, state)
    return dict(work_dir=str(work_dir), epochs=cfg["epochs"], best=best, world_size=world.size)


def test(cfg, checkpoint, device=None, progress=True, data_root=None, split="test"):
    """Multi-clip x multi-crop test of ``checkpoint``: ``(scores, labels, report, skipped)``.

    Scores follow the config's ``average_clips``; the report has the config's ``eval_metrics``. One process.
    """
    device = torch.device(device or best_device())
    model = build_model(dict(cfg, pretrained=None, load_from=None)).to(device)
    load_checkpoint(checkpoint, model)
    dataset = build_dataset(cfg, split, data_root)
    scores, labels, skipped = evaluate(model, dataset, device, progress, desc=f"test {cfg['name']}",
                                       average_clips=_opt(cfg, "average_clips"), amp=_opt(cfg, "amp"))
    return scores, labels, evaluation_report(scores, labels, _opt(cfg, "eval_metrics")), skipped


def save_scores(path, scores, labels, names):
    """Per-video scores as ``.npz`` (``scores`` [N, C] float32, ``labels``, ``names``): no pickles needed."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, scores=scores, labels=np.asarray(labels), names=np.asarray(names, dtype=str))
    os.replace(tmp, path)


def load_scores(path):
    """(scores, labels, names) from `save_scores`."""
    with np.load(path, allow_pickle=False) as data:
        return data["scores"], data["labels"], list(data["names"])


def write_scores(path, scores, labels):
    """Per-video scores in the format the suffix names: ``.pkl`` MMAction2's ``--out`` (a pickled list of
    per-video float32 arrays), ``.json`` a list of lists, ``.npz`` `save_scores` (with labels)."""
    path, scores = Path(path), np.asarray(scores, dtype=np.float32)
    if path.suffix == ".npz":
        return save_scores(path, scores, labels, [str(i) for i in range(len(labels))])
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".pkl":
        with open(tmp, "wb") as f:
            pickle.dump(list(scores), f)
    elif path.suffix == ".json":
        tmp.write_text(json.dumps(scores.tolist()))
    else:
        raise ValueError(f"{path}: score files end with .pkl, .json or .npz")
    os.replace(tmp, path)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles lists of numpy arrays and nothing else: a pickle may name any function to call on loading,
    so only numpy's array reconstructors are let through."""
    ALLOWED = {(module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
               for name in ("_reconstruct", "scalar")} | {
              (module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")} | {
              ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a score pickle holds numpy arrays only")


def read_scores(path):
    """``(scores [N, C], labels or None)`` from a ``.npz`` (`save_scores`), ``.json`` (a list of per-video score
    lists) or MMAction2 ``.pkl`` file (its ``tools/test.py --out``: a list of per-video arrays). Pickles are read
    with an unpickler that only rebuilds numpy arrays, never arbitrary objects."""
    path = Path(path)
    if path.suffix == ".npz":
        scores, labels, _ = load_scores(path)
        return scores, labels
    try:
        if path.suffix == ".json":
            rows = json.loads(path.read_text())
        elif path.suffix == ".pkl":
            rows = _ArrayUnpickler(io.BytesIO(path.read_bytes())).load()
        else:
            raise ValueError("unknown suffix")
        scores = np.asarray(rows, dtype=np.float32)
        if scores.ndim != 2:
            raise ValueError(f"expected one score vector per video, got an array of shape {scores.shape}")
    except FileNotFoundError:
        raise
    except Exception as err:
        raise ValueError(f"{path} is not a score file tsnbook can read ({type(err).__name__}: {err}); expected .npz "
                         f"(tsnbook test --out), .json (a list of per-video score lists) or .pkl (MMAction2's "
                         f"tools/test.py --out: a list of numpy arrays)") from None
    return scores, None
