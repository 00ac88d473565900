"""Training and testing: ``train_one_epoch``, ``evaluate``, ``train``, ``test`` (torchvision references' shape).

What a long run needs, and where it lives:

* **Atomic checkpoints** (`save_checkpoint`): written to a temporary file in the same folder, flushed, then
  renamed; a crash mid-write leaves the previous checkpoint intact.
* **Exact resume**: the learning rate is a function of the epoch, the shuffling order and every augmentation
  draw are seeded from (seed, epoch), and so is torch's generator (dropout) at each epoch start - so resuming from
  the end of epoch k gives the same weights as never stopping.
* **Bad videos** are skipped by the data layer; here they are counted, listed in the log, and the run goes on.
* **Logs**: one JSON object per line in ``log.jsonl`` (train iterations, epoch summaries, validations), which
  the notebooks plot.
"""
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .data import build_dataset, collate_skipping_errors
from .metrics import mean_class_accuracy, top_k_accuracy
from .models import build_model  # lives in models; tsnbook.engine.build_model still works
from .utils import best_device, seed_everything


def lr_at(cfg, epoch):
    """Step schedule: ``lr * lr_gamma ** (number of milestones <= epoch)`` (MMAction2's step policy)."""
    passed = sum(epoch >= step for step in cfg.get("lr_steps", []))
    return cfg["lr"] * cfg.get("lr_gamma", 0.1) ** passed


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
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:
        raise RuntimeError(f"{path} is not a readable checkpoint ({type(err).__name__}: {err}). It may be "
                           f"truncated; delete it, or point to another one (e.g. best.pth).") from None
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


def _loader(dataset, batch_size, shuffle, workers, seed, epoch):
    generator = torch.Generator().manual_seed(seed * 1000 + epoch)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, num_workers=workers, generator=generator,
        collate_fn=collate_skipping_errors, drop_last=shuffle and len(dataset) > batch_size,
        multiprocessing_context="spawn" if workers else None, persistent_workers=False)


def train_one_epoch(model, loader, optimizer, device, epoch, cfg, log, progress=True):
    """One pass over ``loader``; returns ``(mean loss, top-1 on the training batches, skipped videos)``."""
    model.train()
    total_loss, correct, seen, skipped = 0.0, 0, 0, []
    multi_label = cfg.get("multi_label", False)
    bar = tqdm(loader, desc=f"{cfg['name']} epoch {epoch + 1}/{cfg['epochs']}", disable=not progress, leave=False)
    for step, batch in enumerate(bar):
        skipped += batch["errors"]
        if batch["imgs"] is None:
            continue
        imgs, labels = batch["imgs"].to(device, non_blocking=True), batch["label"].to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(imgs)  # bf16 autocast on CUDA only (no loss scaling needed; slow on this CPU type)
        logits = logits.float()
        loss = (F.binary_cross_entropy_with_logits(logits, labels) if multi_label
                else F.cross_entropy(logits, labels))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.get("grad_clip"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        optimizer.step()
        total_loss += loss.item() * len(imgs)
        seen += len(imgs)
        if not multi_label:
            correct += (logits.argmax(1) == labels).sum().item()
        log.write(mode="train", epoch=epoch + 1, iter=step + 1, lr=round(optimizer.param_groups[0]["lr"], 10),
                  loss=round(loss.item(), 5))
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return total_loss / max(seen, 1), correct / max(seen, 1), skipped


@torch.no_grad()
def evaluate(model, dataset, device, progress=True, desc="test", views_per_chunk=64):
    """Scores of every video in ``dataset`` (test mode): ``(scores [N, C] raw logits, labels, skipped)``.

    All views of a video (clips x crops) go through the backbone in chunks and their pooled features are
    averaged before the classifier - TSN's consensus, as MMAction2's test (spec §6.1). Videos that fail to
    decode are skipped and returned in ``skipped``; their rows are NaN.
    """
    model.eval()
    scores = np.full((len(dataset), model.num_classes), np.nan, dtype=np.float32)
    labels, skipped = [], []
    for index in tqdm(range(len(dataset)), desc=desc, disable=not progress, leave=False):
        item = dataset[index]
        labels.append(dataset.records[index].label)
        if "error" in item:
            skipped.append(item["error"])
            continue
        views = item["imgs"].to(device)
        feature_sum = 0
        for chunk in views.split(views_per_chunk):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                feature_sum = feature_sum + model.features(chunk[None]).float() * len(chunk)
        scores[index] = model.fc(feature_sum / len(views)).cpu().numpy()[0]
    return scores, labels, skipped


def accuracy_report(scores, labels):
    """top-1 / top-5 / mean class accuracy over the videos that have scores (in %)."""
    keep = ~np.isnan(scores).any(axis=1)
    scores, labels = scores[keep], np.asarray(labels)[keep]
    top1, top5 = top_k_accuracy(scores, labels, (1, min(5, scores.shape[1])))
    return dict(top1=100 * top1, top5=100 * top5, mean_class_accuracy=100 * mean_class_accuracy(scores, labels),
                num_videos=int(keep.sum()))


def train(cfg, work_dir, resume=True, device=None, progress=True, validate=True, data_root=None):
    """Train ``cfg`` into ``work_dir`` (``latest.pth``, ``best.pth``, ``log.jsonl``, ``config.json``).

    ``resume=True`` continues from ``work_dir/latest.pth`` when it exists (a finished run is not repeated);
    a path resumes from that file; False starts over. Returns the final summary dict.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(device or best_device())
    seed = cfg.get("seed", 0)
    seed_everything(seed)
    model = build_model(cfg).to(device)
    if device.type == "cuda":
        model.channels_last = True
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg.get("momentum", 0.9),
                                weight_decay=cfg.get("weight_decay", 1e-4))
    start_epoch, best = 0, dict(top1=-1.0)
    latest = work_dir / "latest.pth"
    checkpoint = Path(resume) if isinstance(resume, (str, Path)) else latest if resume and latest.exists() else None
    log = JsonLog(work_dir / "log.jsonl")
    if checkpoint is not None:
        state = load_checkpoint(checkpoint, model, optimizer)
        start_epoch, best = state["epoch"], state.get("best", best)
        log.write(mode="resume", epoch=start_epoch, checkpoint=str(checkpoint))
    else:
        log.path.unlink(missing_ok=True)
    (work_dir / "config.json").write_text(json.dumps(cfg, indent=1, default=str))
    train_set = build_dataset(cfg, "train", data_root)
    val_set = build_dataset(cfg, "val", data_root) if validate and cfg.get("ann_file_val") else None
    for epoch in range(start_epoch, cfg["epochs"]):
        torch.manual_seed(seed * 1000 + epoch)  # dropout's stream depends on the epoch alone: exact resume
        train_set.set_epoch(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(cfg, epoch)
        loader = _loader(train_set, cfg["batch_size"], True, cfg.get("num_workers", 0), seed, epoch)
        start = time.time()
        loss, top1, skipped = train_one_epoch(model, loader, optimizer, device, epoch, cfg, log, progress)
        summary = dict(mode="epoch", epoch=epoch + 1, loss=round(loss, 5), train_top1=round(100 * top1, 3),
                       lr=round(lr_at(cfg, epoch), 10), seconds=round(time.time() - start, 2), skipped=len(skipped))
        if skipped:
            summary["skipped_videos"] = skipped
            print(f"warning: skipped {len(skipped)} undecodable video(s) in epoch {epoch + 1}, "
                  f"listed in {log.path}")
        log.write(**summary)
        state = dict(model=model.state_dict(), optimizer=optimizer.state_dict(), epoch=epoch + 1, cfg_name=cfg["name"])
        is_last = epoch + 1 == cfg["epochs"]
        if val_set is not None and ((epoch + 1) % cfg.get("eval_interval", 1) == 0 or is_last):
            scores, labels, val_skipped = evaluate(model, val_set, device, progress, desc="val")
            report = accuracy_report(scores, labels)
            log.write(mode="val", epoch=epoch + 1, skipped=len(val_skipped),
                      **{k: round(v, 3) for k, v in report.items()})
            if report["top1"] > best["top1"]:
                best = dict(top1=report["top1"], epoch=epoch + 1)
                save_checkpoint(work_dir / "best.pth", dict(state, best=best))
        state["best"] = best
        save_checkpoint(latest, state)
    return dict(work_dir=str(work_dir), epochs=cfg["epochs"], best=best)


def test(cfg, checkpoint, device=None, progress=True, data_root=None, split="test"):
    """Multi-clip x multi-crop test of ``checkpoint``: ``(scores, labels, report, skipped)``."""
    device = torch.device(device or best_device())
    model = build_model(dict(cfg, pretrained=None)).to(device)
    load_checkpoint(checkpoint, model)
    dataset = build_dataset(cfg, split, data_root)
    scores, labels, skipped = evaluate(model, dataset, device, progress, desc=f"test {cfg['name']}")
    return scores, labels, accuracy_report(scores, labels), skipped


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
