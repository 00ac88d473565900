"""Shared pieces of the model-zoo configs: pipelines, the common recipe, the checkpoint URLs, tiny variants.

Every zoo config is written like timm's per-model dicts: a base dict per dataset family plus the few keys in which a row
differs, so that the differences *are* the config. The facts come from MMAction2 0.24.1's config files
(`configs/recognition/tsn`, resolved through their ``_base_`` inheritance) and the zoo README's tables
(`configs/recognition/tsn/README.md`); the published numbers of a row live in its ``zoo`` dict, which the engine never
reads.

`tiny` turns a zoo config into a ``_tiny`` twin that keeps the row's *structure* (source kind, modality,
sampler, segments, clip length, multi-label, with_offset, frame templates, flip or not, test crop type) but
trains a ResNet-18 from scratch on SynthActions and its generated replicas (`tsnbook.demo.prepare_zoo_replicas`)
in seconds on a CPU. `add_tiny_variants` derives every twin of a module, so the twins cannot drift.
"""
from ..pipelines import eval_pipeline, train_pipeline  # noqa: F401  (the zoo modules import them from here)
from .synthactions import FLIP_LABEL_MAP

CKPT = "https://download.openmmlab.com/mmaction/recognition/tsn/"  # the zoo's checkpoint / log host

# -------------------------------------------------------------------------------------------- common recipe
# MMAction2 0.x defaults shared by every TSN row (what they inherit from configs/_base_/models/tsn_r50.py and
# configs/_base_/schedules/sgd_*.py unless a row overrides it): ImageNet ResNet-50 from torchvision (its original
# IMAGENET1K_V1 weights, what MMAction2's torchvision:// loads; not torchvision's V2), BN2d trained, SGD momentum
# 0.9 with a step schedule (gamma 0.1, no warmup), L2 gradient clipping, raw logits averaged over views at test
# time (average_clips None).
COMMON = dict(
    modality="rgb", source="rawframes", clip_len=1, frame_interval=1, sampler="segments",
    backbone="resnet50", pretrained="torchvision:IMAGENET1K_V1", load_from=None, dropout=0.4, init_std=0.01,
    partial_bn=False, norm_eval=False, sync_bn=False, frozen_stages=-1,
    momentum=0.9, weight_decay=1e-4, grad_clip=40.0, lr_schedule="step", lr_gamma=0.1, warmup_epochs=0,
    auto_scale_lr=True, multi_label=False, with_offset=False, loss_weight=1.0, fc_lr5=False,
    eval_metrics=["top_k_accuracy", "mean_class_accuracy"], average_clips=None,
    num_workers=2, seed=0, decoder=None,
)


def row(base, gpus, batch_size, **keys):
    """A zoo row: ``base`` updated with ``keys``.

    ``batch_size`` is MMAction2's videos_per_gpu and ``gpus`` the README's GPU count for the row. The lr written
    in every 0.x TSN config is "the lr for 8 GPUs" (the files say so; e.g. 0.00375 = 0.01 x 8 x 12 / 256), even
    for rows the README reports as trained on 16, 24 or 32 GPUs, so ``lr_base_batch`` = 8 x videos_per_gpu:
    with auto_scale_lr the engine rescales the lr linearly to the batch actually used.
    """
    return dict(base, gpus=gpus, batch_size=batch_size, lr_base_batch=8 * batch_size, **keys)


def zoo(dataset, top1=None, top5=None, checkpoint=None, **facts):
    """The row's published facts (documentation only). ``checkpoint`` is a path under `CKPT` or a full URL."""
    if checkpoint and not checkpoint.startswith("http"):
        checkpoint = CKPT + checkpoint
    return dict(dict(dataset=dataset, top1=top1, top5=top5, checkpoint=checkpoint), **facts)


# ----------------------------------------------------------------------------------------------- tiny twins
TINY_ROOT = "data/synthactions"
_SIZES = {256: 48, 224: 40}  # short side 256 -> 48, crops 224 -> 40 (the demo's 160x120 videos)


def _shrink(step, flip_label_map=None):
    step = dict(step)
    if step["type"] == "Resize":
        step["scale"] = tuple(_SIZES.get(s, s) for s in step["scale"])
    elif step["type"] == "MultiScaleCrop":
        step["input_size"] = _SIZES[step["input_size"]]
    elif step["type"] in ("CenterCrop", "ThreeCrop", "TenCrop"):
        step["crop_size"] = _SIZES[step["crop_size"]]
    elif step["type"] == "Flip" and flip_label_map is not None:
        step["flip_label_map"] = dict(flip_label_map)
    return step


def cpu_sized(cfg, flip_label_map=None):
    """The row's recipe at CPU size: frames resized to a short side of 48 and 40-px crops (the zoo: 256 and 224),
    a ResNet-18 from scratch, 2 epochs of batch 4, evaluation every epoch, lr 0.01 for a batch of 4. Everything
    else - source kind, modality, sampler, segments, clip length, multi-label, offsets, frame templates, flip or
    not, the test crop type - stays the row's. ``flip_label_map`` replaces Flip's label map (None keeps it)."""
    out = dict(cfg)
    out.update(
        train_pipeline=[_shrink(s, flip_label_map) for s in cfg["train_pipeline"]],
        val_pipeline=[_shrink(s, flip_label_map) for s in cfg["val_pipeline"]],
        test_pipeline=[_shrink(s, flip_label_map) for s in cfg["test_pipeline"]],
        backbone="resnet18", pretrained=None, load_from=None, gpus=1, batch_size=4, lr=0.01, lr_base_batch=4,
        epochs=2, lr_steps=[1], warmup_epochs=0, eval_interval=1, num_workers=0, sync_bn=False,
        checkpoint_interval=0,  # latest.pth and best.pth only: the tests train hundreds of these
    )
    return out


def tiny(cfg):
    """The ``_tiny`` twin of a zoo config (see the module docstring): `cpu_sized` on SynthActions.

    Data: SynthActions under `TINY_ROOT`, written by `tsnbook.course.demo.prepare_zoo_replicas`: the demo's videos
    (``videos/``) and 1-based ``flow_{}_{:05d}.jpg`` flow (``rawframes/``), plus ``zoo_frames/`` holding every
    other frame naming the zoo uses (``img_{:05d}.jpg`` / ``{:05d}.jpg`` from 1, ``image_{:05d}.jpg`` from 0,
    ``{}_{:05d}.jpg`` flow from 1, ``flow_{}_{:05d}.jpg`` flow from 0) and the list files: frame lists,
    ``with_offset`` clip lists (two clips per video) and a multi-label list (class + "appearance"/"motion" tag,
    10 classes). Flip gets SynthActions' left/right label map on single-label data.
    """
    source, multi = cfg["source"], cfg.get("multi_label", False)
    offset = cfg.get("with_offset", False)
    if source == "video":
        kind, prefix = ("multilabel_videos" if multi else "videos"), "videos"
    elif source == "rawframes":
        kind, prefix = ("rawframes_clips" if offset else "rawframes"), "zoo_frames"
    else:
        kind = "flow_clips" if offset else "flow"
        default = cfg.get("filename_tmpl", "flow_{}_{:05d}.jpg") == "flow_{}_{:05d}.jpg" and \
            cfg.get("start_index", 1) == 1
        prefix = "rawframes" if default else "zoo_frames"
    out = cpu_sized(cfg, None if multi else FLIP_LABEL_MAP)  # a mirrored MoveLeft is MoveRight
    out.update(
        data_root=TINY_ROOT, data_prefix=prefix, num_classes=10 if multi else 8,
        ann_file_train=f"synthactions_train_split_1_{kind}.txt", ann_file_val=f"synthactions_val_split_1_{kind}.txt",
        ann_file_test=f"synthactions_val_split_1_{kind}.txt",
        label_map=None if multi else "classInd.txt",  # the 10-label replica (8 classes + 2 tags) has no file
        zoo=dict(tiny_of=cfg.get("zoo", {}).get("name"), notes="CPU twin on SynthActions; see configs._zoo.tiny"),
    )
    out.pop("data_prefix_val", None)
    if cfg.get("sampler") == "dense":
        out["dense_sample_range"] = 16  # 24-frame videos: the zoo's 64 would always start at frame 0
    return out


def add_tiny_variants(namespace):
    """Add ``<name>_tiny = tiny(<name>)`` for every zoo config defined in a module's ``namespace``."""
    rows = {name: cfg for name, cfg in namespace.items()
            if isinstance(cfg, dict) and "num_classes" in cfg and not name.startswith("_")
            and not name.endswith("_tiny")}
    for name, cfg in rows.items():
        cfg.setdefault("zoo", {})["name"] = name
        namespace[f"{name}_tiny"] = tiny(cfg)
