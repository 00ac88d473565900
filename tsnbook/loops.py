"""The loops: ``train_one_epoch`` (one pass of SGD over a loader) and ``evaluate`` (every video's scores).

What runs them - checkpoints, resume, validation, the DDP world - is `tsnbook.engine`; here are the two loops of
torchvision's reference scripts and what they need: the training order (`TrainOrder`, one loader for a whole run),
the evaluation loader (one video per item, its views together), the skipped-video bookkeeping (`SkippedVideos`)
and autocast on CUDA.
"""
import sys

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from .configs import option as _opt  # a config's value or the optional key's default
from .data import collate_skipping_errors, split_failures
from .distributed import gather_objects
from .optim import set_lr
from .progress import bar
from .schedules import lr_at


class TrainOrder(torch.utils.data.Sampler):
    """The items of each training epoch, in order, as ``(epoch, index)`` pairs (`tsnbook.data.TSNDataset` reads
    the epoch's augmentation from the pair): one DataLoader - and its persistent workers, whose copy of the
    dataset never sees ``set_epoch`` - serves every epoch of a run. Call ``set_epoch`` before each epoch.

    A world of one shuffles as tsnbook always has, so that earlier runs repeat exactly: the permutation
    ``torch.randperm`` draws from a generator seeded ``seed * 1000 + epoch`` after two int64 draws. (Those are
    what the per-epoch DataLoader with ``shuffle=True`` took from that generator before: one worker base seed
    for each of the two iterators it made per epoch, since ``tqdm.auto`` opens a throwaway iterator of what it
    wraps - with workers, a throwaway set of processes too; the loops now hand tqdm an iterator.) Under DDP a
    DistributedSampler (seeded, ``set_epoch``) gives each rank its own share of one permutation.
    """

    LEGACY_DRAWS = 2  # int64 draws before the permutation (see above)

    def __init__(self, size, seed, world=None):
        super().__init__()
        self.size, self.seed, self.epoch = size, seed, 0
        self.shards = None
        if world is not None and world.size > 1:
            self.shards = torch.utils.data.DistributedSampler(range(size), world.size, world.rank, shuffle=True,
                                                              seed=seed)

    def set_epoch(self, epoch):
        self.epoch = epoch
        if self.shards is not None:
            self.shards.set_epoch(epoch)

    def __len__(self):
        return len(self.shards) if self.shards is not None else self.size

    def __iter__(self):
        if self.shards is not None:
            order = list(self.shards)
        else:
            generator = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
            for _ in range(self.LEGACY_DRAWS):  # exactly the old loader's calls
                torch.empty((), dtype=torch.int64).random_(generator=generator)
            order = torch.randperm(self.size, generator=generator).tolist()
        return iter([(self.epoch, index) for index in order])


def _workers_context(workers):
    """Spawned, never forked, worker processes: a forked decord reader hangs and CUDA cannot be forked."""
    return "spawn" if workers else None


def train_loader(dataset, batch_size, workers, seed, device, world=None, collate_fn=collate_skipping_errors,
                  persistent=True):
    """The run's training DataLoader over `TrainOrder` (``set_epoch`` on ``loader.sampler`` before each epoch).

    ``persistent``: keep the worker processes from one epoch to the next instead of spawning new ones (each
    imports torch and tsnbook again: seconds per epoch). The loader's own generator only seeds its workers;
    it is a private one, so iterating never draws from torch's global generator (dropout's stream).
    """
    order = TrainOrder(len(dataset), seed, world)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, sampler=order, num_workers=workers,
        generator=torch.Generator().manual_seed(seed), collate_fn=collate_fn, drop_last=len(order) > batch_size,
        multiprocessing_context=_workers_context(workers), persistent_workers=bool(workers and persistent),
        pin_memory=device.type == "cuda")


def _one_video(item):
    """The evaluation loader's collate: one video per item, passed on as it is (its views stay together)."""
    return item


def evaluation_loader(dataset, workers=0, device="cpu", persistent=False):
    """A DataLoader of one video per item (all its views: TSN averages them), this rank's share under DDP.

    ``workers`` processes decode and transform while the model scores (spawned; pinned memory on CUDA, so the
    copy to the GPU is asynchronous). ``persistent``: keep them for later evaluations (validation every few
    epochs). Under DDP rank r takes the videos r, r + world_size, ...; `evaluate` gathers the rows.
    """
    rank, size = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    return torch.utils.data.DataLoader(
        dataset, batch_size=None, sampler=range(rank, len(dataset), size), num_workers=workers,
        collate_fn=_one_video, pin_memory=torch.device(device).type == "cuda",
        multiprocessing_context=_workers_context(workers), persistent_workers=bool(workers and persistent))


class SkippedVideos:
    """The videos a run could not use: counts, and the first *unexpected* failure reported in full, once.

    A failure record (`tsnbook.data.split_failures`) with a ``"traceback"`` was not a known data failure, so it
    may be a bug: the first of the run is printed to stderr by rank 0 with its traceback and written to
    ``log`` (mode "error"); later ones are only counted (``unexpected`` in the epoch summary). Under DDP every
    rank keeps its own first one, and rank 0 reports the others' when the epoch's results are gathered.
    """

    def __init__(self, log=None, speaks=True):
        self.log, self.speaks = log, speaks
        self.first = None  # this process's first unexpected failure (sent to rank 0 under DDP)
        self.reported = False
        self.unexpected = []  # the unexpected failures ("path: reason") since the last `take_unexpected`

    def add(self, failures, phase):
        """Note a batch's failure records; returns their messages ("path: reason")."""
        for failure in failures:
            if "traceback" in failure:
                self.unexpected.append(failure["error"])
                if self.first is None:
                    self.first = dict(failure, phase=phase)
                self.report(self.first)
        return [failure["error"] for failure in failures]

    def report(self, failure):
        """Print and log ``failure`` (with its traceback) if no unexpected failure was reported yet, on rank 0."""
        if failure is None or self.reported or not self.speaks:
            return
        self.reported = True
        where = f" (the traceback is also in {self.log.path})" if self.log is not None else ""
        print(f"error: an unexpected failure while loading a video in {failure['phase']} - a bug, not a bad file? "
              f"The video is skipped; later unexpected failures are only counted{where}.\n{failure['error']}\n"
              f"{failure['traceback']}", file=sys.stderr, flush=True)
        if self.log is not None:
            self.log.write(mode="error", phase=failure["phase"], video=failure["error"],
                           traceback=failure["traceback"])

    def take_unexpected(self):
        """The unexpected failures since the last call, each video's once ("path: reason"; for one summary)."""
        taken, self.unexpected = list(dict.fromkeys(self.unexpected)), []
        return taken


#: the GPU generation (compute capability) from which CUDA has bf16 tensor cores: Ampere (A100, RTX 30xx) on
BF16_CAPABILITY = (8, 0)


def autocast_precision(amp, device):
    """What autocast computes in on ``device``: "bf16", "fp16", or None (fp32, no autocast) - ``amp`` resolved.

    Autocast runs on CUDA only, never on the CPU, where bf16 is slow and changes results. ``amp="auto"`` (the
    config default) picks bf16 on GPUs of compute capability 8.0 and later (bf16 tensor cores; fp32's range,
    so no loss scaling) and fp16 below - T4 and V100 (7.x, Colab and many clusters) have tensor cores for fp16
    only, and emulate bf16 slowly if at all; fp16 training needs a GradScaler (the engine adds it).
    "bf16" / "fp16" / None are honoured as given.
    """
    if amp not in ("auto", "bf16", "fp16", None):
        raise ValueError(f"amp must be 'auto', 'bf16', 'fp16' or None, got {amp!r}")
    device = torch.device(device)
    if device.type != "cuda" or amp is None:
        return None
    if amp == "auto":
        return "bf16" if torch.cuda.get_device_capability(device) >= BF16_CAPABILITY else "fp16"
    return amp


def training_precision(cfg, device):
    """``(precision, GradScaler or None, the line that says which)``: the config's ``amp`` resolved for a training
    run on ``device`` (`autocast_precision`; fp16 needs the GradScaler). Off CUDA the line is None - unless
    ``amp`` asked for bf16 / fp16 by name, which the CPU ignores: then a note says so."""
    amp = _opt(cfg, "amp")
    precision = autocast_precision(amp, device)
    if device.type != "cuda":
        return None, None, (f"note: amp={amp!r} is for CUDA devices; on {device.type} this run trains in fp32"
                            if amp in ("bf16", "fp16") else None)
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    why = f"amp={amp!r}"
    if amp == "auto" and precision is not None:
        major, minor = torch.cuda.get_device_capability(device)
        why += f": compute capability {major}.{minor}" + (
            "" if precision == "bf16" else ", no bf16 tensor cores below 8.0; amp='bf16' forces bf16")
    said = f"training precision: {precision or 'fp32'}" + (" autocast" if precision else "") + (
        " with a GradScaler" if scaler is not None else "") + f" ({why})"
    return precision, scaler, said


def _autocast(device, precision):
    """The autocast context of a resolved ``precision`` (`autocast_precision`): disabled for None."""
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype, enabled=precision is not None)


def _every_rank_has_a_batch(have_batch, world_size, device):
    """True when this process - and under DDP every process - has at least one decodable video in its batch.

    DDP's backward waits for the gradients of every rank, so one rank skipping a step alone would leave the
    others blocked until ``dist_timeout``; a tiny all-reduce lets all of them skip it together instead.
    """
    if world_size == 1:
        return have_batch
    flag = torch.full((1,), int(have_batch), device=device)  # filled there: no host-to-device copy
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def _step_numbers(loss, logits, labels, multi_label, world_size):
    """A step's ``(mean loss, summed loss, videos, correct top-1 guesses)``, added up over every rank under DDP, read
    from the device in one transfer: on a GPU each ``.item()`` waits for the queued work, once is enough per step.

    The summed loss is the loss times the videos, as a world of one has always logged it (float32 read as a
    double, then multiplied: the same numbers bit for bit). Under DDP the sums go through one all-reduce and the
    mean is the whole step's - MMAction2 averages its logged losses over the GPUs too - not rank 0's share, and a
    rank that lost videos weighs less than the others. Multi-label steps count no top-1 guesses.
    """
    videos = len(labels)
    hits = torch.zeros((), device=loss.device) if multi_label else (logits.argmax(1) == labels).sum()
    if world_size == 1:
        mean, correct = torch.stack([loss.detach().double(), hits.double()]).tolist()
        return mean, mean * videos, videos, int(correct)
    seen = torch.full((), float(videos), dtype=torch.float64, device=loss.device)  # filled there: no host copy
    total = torch.stack([loss.detach().double() * videos, seen, hits.double()])
    dist.all_reduce(total)
    loss_sum, seen, correct = total.tolist()
    return loss_sum / seen, loss_sum, int(seen), int(correct)


def train_one_epoch(model, loader, optimizer, device, epoch, cfg, log, progress=True, scaler=None, world_size=1,
                    gpu_augment=None, failures=None):
    """One pass over ``loader``; returns ``(mean loss, top-1 on the training batches, skipped videos)``: under DDP
    (``world_size`` > 1) the means are over every rank's videos, the same on each rank; the skipped are this rank's.

    The learning rate is set before every iteration from `lr_at` (warmup moves within an epoch). Multi-label
    configs train with binary cross-entropy on the multi-hot labels, times ``loss_weight``. ``device``: a
    torch.device or its name ("cpu", "cuda:0"); autocast follows the config's ``amp`` (`autocast_precision`),
    and ``scaler`` is a GradScaler for fp16 (None otherwise). ``log`` may be None (DDP ranks other than 0).
    ``gpu_augment``: a `tsnbook.gpu_augment.GPUCropFlip` that crops, resizes and flips the batch on ``device``
    (see `tsnbook.engine`'s ``_gpu_augment``).
    ``failures``: the run's `SkippedVideos` (a new one that prints when None). An epoch in which no step could
    run, because every batch lost all its videos (here or on another rank), raises a RuntimeError.
    """
    model.train()
    device = torch.device(device)
    precision = autocast_precision(_opt(cfg, "amp"), device)
    failures = SkippedVideos() if failures is None else failures
    total_loss, correct, seen, skipped, steps = 0.0, 0, 0, [], 0
    multi_label, loss_weight = _opt(cfg, "multi_label"), _opt(cfg, "loss_weight")
    # tqdm gets an iterator: given the loader, tqdm.auto would open (and drop) a second one, with its own workers
    batches = bar(iter(loader), progress, total=len(loader), desc=f"{cfg['name']} epoch {epoch + 1}/{cfg['epochs']}",
                  leave=False)
    for step, batch in enumerate(batches):
        skipped += failures.add(batch["failures"], f"epoch {epoch + 1}")
        if not _every_rank_has_a_batch(batch["imgs"] is not None, world_size, device):
            continue  # a whole batch failed to decode (here or on another rank): every rank skips this step
        steps += 1
        set_lr(optimizer, lr_at(cfg, epoch, step / len(loader), world_size))
        imgs, labels = batch["imgs"].to(device, non_blocking=True), batch["label"].to(device)
        if gpu_augment is not None:  # the loader shipped uncropped uint8 frames and the drawn boxes and flips
            imgs = gpu_augment(imgs, batch["crop_box"], batch["flip"], clip_len=cfg.get("clip_len"))
        with _autocast(device, precision):
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
        step_mean, step_loss, step_seen, step_hits = _step_numbers(loss, logits, labels, multi_label, world_size)
        total_loss, seen, correct = total_loss + step_loss, seen + step_seen, correct + step_hits
        if log is not None:
            log.write(mode="train", epoch=epoch + 1, iter=step + 1, lr=round(optimizer.param_groups[0]["lr"], 10),
                      loss=round(step_mean, 5))
        batches.set_postfix(loss=f"{step_mean:.3f}")
    if not steps and len(loader):  # the step decisions are collective: every rank raises together
        first = f" (first: {skipped[0]})" if skipped else " (on another process)"
        raise RuntimeError(f"epoch {epoch + 1}: no batch could be trained, every one lost all its videos{first}; "
                           f"{len(skipped)} video(s) failed here. Check data_root, data_prefix, the list file and "
                           f"the pipeline (an unexpected failure's traceback is printed above and in log.jsonl)")
    return total_loss / max(seen, 1), correct / max(seen, 1), skipped


@torch.no_grad()
def evaluate(model, dataset, device, progress=True, desc="test", views_per_chunk=64, average_clips=None, amp=None,
             workers=0, loader=None, failures=None):
    """Scores of every video in ``dataset`` (test mode): ``(scores [N, C], labels, skipped)``.

    All views of a video (clips x crops) go through the backbone in chunks and their pooled features are
    averaged before the classifier - TSN's consensus, as MMAction2's ``TSNHead`` does at test time. ``average_clips`` is
    then applied to that video-level output: None or "score" keep the raw logits (the 0.x zoo), "prob" takes
    their softmax - so TSN's "prob" is softmax(fc(mean feature)), not a mean of per-clip softmaxes (multi-label
    models: `TSN.class_scores`). Videos that cannot be used are skipped and listed in ``skipped``
    ("path: reason"); their rows are NaN. If no video at all could be scored, a RuntimeError says so.

    The videos come from a DataLoader with ``workers`` processes (`evaluation_loader`; ``loader``: one made
    already, e.g. persistent across a run's validations), one video per item, so views never mix across videos.
    Under DDP (an initialised process group) each rank scores every world_size-th video and the results are
    gathered, so every rank returns the full arrays. ``device``: where the model is (a torch.device or its
    name). ``amp`` ("bf16" / "fp16" / "auto", CUDA only: `autocast_precision`): autocast the backbone; None
    (the default) tests in fp32, as the zoo's numbers were measured. ``failures``: the run's `SkippedVideos` (a
    new one if None).
    """
    model.eval()
    device, precision = torch.device(device), autocast_precision(amp, device)
    size = dist.get_world_size() if dist.is_initialized() else 1
    speaks = not dist.is_initialized() or dist.get_rank() == 0
    failures = SkippedVideos(speaks=speaks) if failures is None else failures
    loader = evaluation_loader(dataset, workers, device) if loader is None else loader
    mine, errors = {}, []  # this rank's rows {index: scores} and the videos it could not use
    counted = len(failures.unexpected)  # before this evaluation; those it adds are gathered from every rank
    for item in bar(iter(loader), progress, total=len(loader), desc=desc, leave=False):
        bad = split_failures([item])[1]
        if bad:
            errors += failures.add(bad, desc)
            continue
        mine[item["index"]] = model.score_views(item["imgs"], average_clips, views_per_chunk,
                                                autocast=lambda: _autocast(device, precision),
                                                num_clips=dataset.num_segments)  # max/weighted: clips per crop
    scores, skipped = np.full((len(dataset), model.num_classes), np.nan, dtype=np.float32), []
    part = (mine, errors, failures.first, failures.unexpected[counted:])
    parts = gather_objects(part) if size > 1 else [part]
    del failures.unexpected[counted:]
    for rows, rank_errors, first, unexpected in parts:
        for index, row in rows.items():
            scores[index] = row
        skipped += rank_errors
        failures.unexpected += unexpected  # every rank's, for the validation record
        failures.report(first)  # another rank's first unexpected failure, if none was reported yet
    if len(skipped) == len(dataset):
        raise RuntimeError(f"{desc}: none of the {len(dataset)} videos could be scored (first: {skipped[0]}). "
                           f"Check data_root, data_prefix, the list file and the pipeline")
    labels = [record.label for record in dataset.records]
    return scores, labels, skipped
