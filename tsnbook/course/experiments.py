"""Many short training runs, each with several seeds: the measurements of notebooks 21 and 22.

A good practice is a *difference* between two runs, and a difference means something only next to the spread
that the seed alone gives. So these notebooks train every variant with 2-3 seeds, dozens of runs each, and a
run must take seconds. It does here because nothing but the decoding is left out of the library's own path:

* the videos of a list are decoded once and kept in memory (`FrameCache`: clips of 32x32 px are small); the
  datasets are the library's `TSNDataset` with the config's sampling and pipeline, reading from that cache;
* the model, optimizer, learning-rate schedule, training epoch and test are the library's (`build_model`,
  `build_optimizer`, `train_one_epoch`, `evaluate`), seeded as `tsnbook.train` seeds them;
* nothing is written but the runs asked for as checkpoints (`cached_run`): a pretrained model that another
  notebook fine-tunes.

    cfg = task_config("flash", num_segments=8)               # a TSN config for one of `tsnbook.course.tasks`
    result = train_and_test(cfg, seed=0)                     # dict(top1, class_accuracy, scores, labels, seconds)
    table = run_seeds({"8 segments": cfg, ...}, seeds=(0, 1, 2))   # {name: [top-1 per seed]}
"""
import contextlib
import io
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..checkpoints import plain, save_checkpoint
from ..configs import get_config
from ..data import dataset_from_config, load_annotations
from ..factory import build_model
from ..io import FlowFrames, open_video
from ..loops import evaluate, train_loader, train_one_epoch
from ..metrics import top_k_accuracy
from ..optim import build_optimizer
from ..schedules import base_lr
from ..utils import resolve_device, seed_everything
from . import tasks

FORMAT = dict(type="FormatShape", input_format="NCHW")


class MemoryVideo:
    """A decoded clip held in memory, with the reader interface `TSNDataset` uses (`num_frames`, `get`)."""

    def __init__(self, frames):
        self.frames, self.num_frames = frames, len(frames)

    def get(self, indices):
        return self.frames[np.asarray(indices, dtype=np.int64)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FrameCache:
    """Every clip decoded once per process: ``open(record)`` gives a `MemoryVideo` of its frames (or flow)."""

    def __init__(self):
        self.frames = {}

    def open(self, record, source="video", filename_tmpl=None, start_index=1):
        if record.path not in self.frames:
            reader = (open_video(record.path) if source == "video" else
                      FlowFrames(record.path, record.num_frames, filename_tmpl=filename_tmpl, start_index=start_index))
            with reader:
                self.frames[record.path] = reader.get(np.arange(reader.num_frames))
        return MemoryVideo(self.frames[record.path])


CACHE = FrameCache()


def cached_dataset(cfg, split, cache=CACHE):
    """The config's ``split`` as a `TSNDataset` whose readers come from ``cache`` instead of the disk."""
    root = Path(cfg["data_root"])
    records = load_annotations(root / cfg[f"ann_file_{split}"], root / cfg["data_prefix"], cfg["source"])
    dataset = dataset_from_config(cfg, split, records)
    dataset.open = lambda record: cache.open(record, cfg["source"], dataset.filename_tmpl, dataset.start_index)
    return dataset


def task_config(task, data_root=None, **overrides):
    """A small TSN config for one of `tsnbook.course.tasks` (data under ``data_root``, default
    ``data/tasks/<task>``): timm's 0.4 M-parameter ``test_resnet`` from scratch on 32x32 frames, 3 segments,
    mirrored in training, SGD with a step schedule; any key can be overridden."""
    cfg = get_config("tsn_r18_1x1x3_12e_synthactions_rgb")
    centre = [dict(type="CenterCrop", crop_size=32), FORMAT]
    cfg.update(
        name=f"tsn_{task}", data_root=str(data_root or Path("data/tasks") / task), data_prefix="videos",
        num_classes=len(tasks.TASKS[task][0]) if task in tasks.TASKS else None, ann_file_train="train.txt",
        ann_file_val="test.txt", ann_file_test="test.txt", label_map="classInd.txt", backbone="timm/test_resnet",
        dropout=0.5, train_pipeline=[dict(type="Flip", flip_ratio=0.5), FORMAT], val_pipeline=centre,
        test_pipeline=centre, epochs=10, lr_steps=[7], batch_size=8, lr=0.02, val_clips=3, test_clips=3)
    cfg.update(overrides)
    return cfg


def synthactions_config(modality="rgb", data_root="data/synthactions_32", **overrides):
    """`task_config` on SynthActions at 32 px (`tasks.SYNTHACTIONS_32`: 4 appearance and 4 motion classes, its DIS
    flow from `prepare_synthactions`) for one input: "rgb" (1 frame per segment), "flow" (5 flow fields) or
    "rgbdiff" (the 5 differences of 6 frames). Mirrored clips swap MoveLeft and MoveRight (its label map)."""
    from .synth import FLIP_LABEL_MAP
    videos, flow = "synthactions_{}_split_1_videos.txt", "synthactions_{}_split_1_flow.txt"
    cfg = task_config("synthactions_32", data_root, num_classes=8, ann_file_train=videos.format("train"),
                      ann_file_val=videos.format("val"), ann_file_test=videos.format("val"),
                      train_pipeline=[dict(type="Flip", flip_ratio=0.5, flip_label_map=FLIP_LABEL_MAP), FORMAT])
    cfg.update(name=f"tsn_synthactions_32_{modality}")
    if modality == "flow":
        cfg = stacked(cfg, "flow", 5, source="flow", data_prefix="rawframes", filename_tmpl="flow_{}_{:05d}.jpg",
                      start_index=1, ann_file_train=flow.format("train"), ann_file_val=flow.format("val"),
                      ann_file_test=flow.format("val"))
    elif modality == "rgbdiff":
        cfg = stacked(cfg, "rgbdiff", 5)
    cfg.update(overrides)
    return cfg


def few_clips(cfg, per_class):
    """``cfg`` trained on only the first ``per_class`` clips of each class of its training list (a list file
    ``<list>_<per_class>.txt`` written beside it)."""
    root = Path(cfg["data_root"])
    lines, kept = (root / cfg["ann_file_train"]).read_text().split("\n"), {}
    subset = [line for line in lines if line and kept.setdefault(line.split()[-1], []).append(line) is None
              and len(kept[line.split()[-1]]) <= per_class]
    name = f"{Path(cfg['ann_file_train']).stem}_{per_class}.txt"
    (root / name).write_text("\n".join(subset) + "\n")
    return dict(cfg, ann_file_train=name)


def stacked(cfg, modality, clip_len, source=None, **overrides):
    """``cfg`` for another input: "flow" (clip_len flow fields, NCHW_Flow) or "rgbdiff" (clip_len differences of
    clip_len + 1 frames, NCHW_Stack), with every FormatShape step of its pipelines changed to match."""
    from ..pipelines import format_shape
    new = dict(cfg, modality=modality, clip_len=clip_len, **({"source": source} if source else {}), **overrides)
    for split in ("train", "val", "test"):
        new[f"{split}_pipeline"] = [format_shape(modality=modality) if step["type"] == "FormatShape" else step
                                    for step in cfg[f"{split}_pipeline"]]
    return new


_SAID = set()  # the notes building a model printed already (one per run would bury the notebook's output)


def _build_once_said(cfg):
    """`build_model`, printing each of its notes (e.g. "classifier dropped" under load_from) once per process."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        model = build_model(cfg)
    for line in printed.getvalue().splitlines():
        if line not in _SAID:
            _SAID.add(line)
            print(line)
    return model


def train_model(cfg, seed, cache=CACHE, device="cpu"):
    """Train ``cfg`` with ``seed`` as `tsnbook.train` would (same seeding, schedule and epoch loop), on clips
    from ``cache``; returns the model (on ``device``, in eval mode)."""
    cfg = dict(cfg, seed=seed)
    device = resolve_device(device)
    seed_everything(seed)
    model = _build_once_said(cfg).to(device)
    optimizer = build_optimizer(model, cfg, base_lr(cfg))
    train_set = cached_dataset(cfg, "train", cache)
    loader = train_loader(train_set, cfg["batch_size"], 0, seed, device)
    for epoch in range(cfg["epochs"]):
        torch.manual_seed(seed * 1000 + epoch)  # dropout's stream, as the engine draws it
        loader.sampler.set_epoch(epoch)
        train_one_epoch(model, loader, optimizer, device, epoch, cfg, None, progress=False)
    return model.eval()


def test_model(model, cfg, cache=CACHE, device="cpu"):
    """``dict(top1, class_accuracy, scores, labels)`` of ``model`` on ``cfg``'s test split (its test protocol)."""
    scores, labels, _ = evaluate(model, cached_dataset(cfg, "test", cache), resolve_device(device), progress=False,
                                 average_clips=None)
    labels = np.asarray(labels)
    right = scores.argmax(1) == labels
    class_accuracy = [100 * float(right[labels == c].mean()) for c in range(cfg["num_classes"])]
    return dict(top1=100 * top_k_accuracy(scores, labels, (1,))[0], class_accuracy=class_accuracy, scores=scores,
                labels=labels)


test_model.__test__ = False  # not a pytest test


def train_and_test(cfg, seed, cache=CACHE, device="cpu"):
    """Train and test one config with one seed: `test_model`'s dict plus ``seconds`` (wall time)."""
    start = time.perf_counter()
    model = train_model(cfg, seed, cache, device)
    return dict(test_model(model, cfg, cache, device), seconds=time.perf_counter() - start)


def run_seeds(configs, seeds, cache=CACHE, device="cpu", metric="top1"):
    """``{name: [metric of each seed]}`` for ``configs`` = {name: cfg}; ``metric``: a key of `test_model`'s dict
    or a function of it (e.g. the mean accuracy of some classes). Also returns the seconds each name took."""
    values, seconds = {}, {}
    for name, cfg in configs.items():
        results = [train_and_test(cfg, seed, cache, device) for seed in seeds]
        values[name] = [float(metric(r)) if callable(metric) else float(r[metric]) for r in results]
        seconds[name] = sum(r["seconds"] for r in results)
    return values, seconds


def spread(values):
    """A variant's seeds as "mean (min-max)", for a table: the spread stands next to the number."""
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.1f} ({values.min():.1f}-{values.max():.1f})"


def margin(better, worse):
    """How far the worst seed of ``better`` is above the best seed of ``worse`` (negative: the seeds overlap).
    A claim "A beats B by >= m on every seed" holds when ``margin(A, B) >= m``: no pairing of seeds is needed."""
    return float(np.min(better) - np.max(worse))


def paired_gains(better, worse):
    """``better[i] - worse[i]`` for each seed i: two variants trained with the same seed share their
    initialisation (as far as their architectures allow), data order and augmentation, so the difference of a
    pair is freer of noise than the difference of two unrelated runs."""
    return [float(b - w) for b, w in zip(better, worse)]


def results_table(values, seeds, digits=1):
    """Markdown rows of ``values`` = {name: [a value per seed]}: mean, (min-max) and each seed's value."""
    from .notebook import markdown_table
    rows = [[name, f"{np.mean(v):.{digits}f}", f"{np.min(v):.{digits}f}-{np.max(v):.{digits}f}",
             *[f"{x:.{digits}f}" for x in v]] for name, v in values.items()]
    return markdown_table(["variant", "mean", "range", *[f"seed {s}" for s in seeds]], rows,
                          align="lrr" + "r" * len(seeds))


def cached_run(cfg, seed, work_dir, cache=CACHE, device="cpu"):
    """``work_dir/latest.pth`` of ``cfg`` trained with ``seed`` (a tsnbook checkpoint: `load_from` and
    `load_model` read it), reused when ``work_dir`` holds a run of exactly this config and seed."""
    work_dir = Path(work_dir)
    cfg = dict(cfg, seed=seed)
    checkpoint, stamp = work_dir / "latest.pth", work_dir / "config.json"
    if checkpoint.exists() and stamp.exists() and json.loads(stamp.read_text()) == json.loads(json.dumps(plain(cfg))):
        return checkpoint
    model = train_model(cfg, seed, cache, device)
    work_dir.mkdir(parents=True, exist_ok=True)
    save_checkpoint(checkpoint, dict(model=model.state_dict(), epoch=cfg["epochs"], cfg=plain(cfg),
                                     cfg_name=cfg["name"]))
    stamp.write_text(json.dumps(plain(cfg), indent=1))
    return checkpoint


def backbone_file(checkpoint, path):
    """Save the backbone weights of a TSN checkpoint as a plain state-dict file, the kind ``pretrained=`` reads
    (ImageNet weights are such a file): a model of another modality then gets them with TSN's cross-modality
    initialisation of its first conv."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]
    backbone = {key[len("backbone."):]: value for key, value in state.items() if key.startswith("backbone.")}
    torch.save(backbone, path)
    return Path(path)


#: The pretraining of notebooks 21 and 22: the eight shapes of `tasks.PRETRAIN_SHAPES`, one frame per clip
#: (an image task), 20 epochs at lr 0.1 (without dropout)
PRETRAIN = dict(num_segments=1, val_clips=1, test_clips=1, epochs=20, lr_steps=[16], lr=0.1, dropout=0.0,
                batch_size=16)


def pretrained_shapes(data_dir, work_dir, seed=0, device="cpu", **overrides):
    """``(config, checkpoint)`` of a TSN pretrained on the ``pretrain`` task under ``data_dir/tasks`` (made if
    missing), in ``work_dir`` (reused when it holds this very run): the stand-in for ImageNet weights."""
    root = Path(data_dir) / "tasks" / "pretrain"
    tasks.prepare(root, "pretrain")
    cfg = task_config("pretrain", root, **dict(PRETRAIN, **overrides))
    return cfg, cached_run(cfg, seed, work_dir, device=device)
