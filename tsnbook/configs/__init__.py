"""Configs: plain Python dicts of literals, one per experiment, named like MMAction2's model-zoo rows.

A config is a flat dict (nanoGPT style): you can read every setting of a run in one screen and change any of
them with ``key=value`` overrides. Keys missing from a config take the defaults in brackets. The keys, grouped:

* data: ``data_root``, ``source`` ("video" | "rawframes" | "flow"), ``data_prefix``, ``ann_file_train`` /
  ``_val`` / ``_test`` (relative to data_root), ``filename_tmpl``, ``start_index``, ``num_classes``,
  ``multi_label`` [False] (list lines carry several labels: MMiT, HVU), ``with_offset`` [False] (clip lists
  ``dir offset frames label``: ActivityNet), ``decoder``, ``label_map`` [None] (a file of class names relative
  to data_root, one per line or classInd.txt's "ID NAME": `train` stores the names in its checkpoints, and
  ``predict`` prints them); flow sources also say how their flow was computed, which ``predict`` repeats on a
  raw video: ``flow_algorithm`` ["dis"], ``flow_bound`` [20.0] (denseflow's quantisation bound),
  ``flow_resolution`` [None: the video's own size; "340x256", "short256", ... as `tsnbook.flow.output_size`];
  zoo configs also record ``data_prefix_val``, the folder MMAction2 reads val/test from when it is not the
  training one (its ``data_root_val``);
* sampling and augmentation: ``sampler`` ["segments"] ("segments" = SampleFrames, "dense" = DenseSampleFrames
  with ``dense_sample_range`` [64] and ``dense_test_positions`` [10]), ``twice_sample`` [False],
  ``num_segments``, ``clip_len``, ``frame_interval``, ``val_clips``, ``test_clips``, ``train_pipeline``,
  ``val_pipeline``, ``test_pipeline`` (lists of transform dicts, `tsnbook.transforms`);
* model: ``modality`` ("rgb" | "flow" | "rgbdiff": RGB difference, the ``clip_len`` differences of
  ``clip_len + 1`` consecutive frames, with a FormatShape "NCHW_Stack" pipeline; `tsnbook.models`),
  ``backbone`` (a torchvision name, or "timm/<name>"), ``pretrained`` (None |
  "torchvision:<WEIGHTS>", the zoo's "torchvision:IMAGENET1K_V1" | "timm:<tag>" | a file), ``load_from``
  [None] (a whole TSN checkpoint; a classifier of another size is dropped), ``dropout``, ``init_std``,
  ``partial_bn``, ``norm_eval`` [False], ``sync_bn`` [False], ``frozen_stages`` [-1], ``flow_init``
  ("average" | "random": the first conv of flow and rgbdiff models), ``consensus`` ["avg"] (TSN's segmental
  consensus: "avg", MMAction2's only one, | "max" | "weighted"; `tsnbook.consensus`);
* optimisation: ``epochs``, ``batch_size`` (videos per GPU / process), ``lr``, ``momentum``, ``weight_decay``,
  ``grad_clip``, ``lr_schedule`` ["step"] (``lr_steps``, ``lr_gamma``) or "cosine" (``min_lr`` [0]),
  ``warmup_epochs`` [0], ``warmup_ratio`` [0.1], ``lr_base_batch`` [None] (the total batch ``lr`` was written
  for; with ``auto_scale_lr`` [True] the lr is scaled linearly to the batch used), ``gpus`` (the zoo's GPU count,
  informational), ``fc_lr5`` [False] (MMAction2's TSM optimizer groups), ``loss_weight`` [1.0] (multi-label
  BCE), ``amp`` ["bf16", CUDA only], ``channels_last`` [True, CUDA only], ``num_workers`` (DataLoader
  processes for training, validation and testing) with ``persistent_workers`` [True] (kept from epoch to
  epoch), ``eval_interval``,
  ``eval_metrics`` (the first one picks best.pth), ``dist_timeout`` [600] (seconds to meet the other DDP
  processes), ``checkpoint_interval`` [1] and ``max_keep_ckpts`` [-1] (``epoch_N.pth`` every N epochs, the
  newest K kept; MMAction2's checkpoint_config), ``seed``;
* testing: ``average_clips`` (None = raw logits as the 0.x zoo, "score", "prob"), ``test_amp`` [None = fp32, as
  the zoo tested; "bf16" / "fp16": autocast on CUDA, for validation and test; ``amp`` is training's only],
  ``multi_label_prob`` ["softmax"]: a multi-label model's "prob" - MMAction2's quirk, a softmax over the classes
  although the head was trained with per-class sigmoids (BCE); "sigmoid" gives each class its own probability
  (`tsnbook.TSN`);
* documentation only: ``zoo``, the model-zoo row's published facts (accuracy or mAP, resolution, GPUs,
  pre-training, checkpoint URL, test protocol, notes); the engine never reads it.

Keys a config leaves out take the defaults in brackets (`OPTIONAL_KEYS`; `get_config` accepts them as
overrides for any config).

Every module in this package contributes its module-level dicts; `get_config` finds them by name. The zoo
modules (``ucf101``, ``kinetics400``, ``hvu``, ...) hold one config per row of MMAction2's TSN model-zoo tables,
each with a ``<name>_tiny`` twin that keeps the row's structure but runs on SynthActions on a CPU
(`tsnbook.configs._zoo.tiny`); `two_stream_recipes` lists the zoo's two-stream "[1: 1]" rows.
"""
import ast
import copy
import difflib
import importlib
import pkgutil


#: Keys every config may set although few do, with the defaults used when a config leaves them out (the
#: list above describes them). `get_config` accepts them as overrides for any config.
OPTIONAL_KEYS = dict(
    sampler="segments", dense_sample_range=64, dense_test_positions=10, twice_sample=False,
    lr_schedule="step", min_lr=0.0, warmup_epochs=0, warmup_ratio=0.1, lr_base_batch=None, auto_scale_lr=True,
    fc_lr5=False, loss_weight=1.0, amp="bf16", channels_last=True, sync_bn=False, dist_timeout=600,
    eval_metrics=["top_k_accuracy", "mean_class_accuracy"], average_clips=None, multi_label=False,
    frozen_stages=-1, load_from=None, densenet_relu=False, gpu_augment="auto", gpus=None, zoo=None,
    checkpoint_interval=1, max_keep_ckpts=-1, test_amp=None, multi_label_prob="softmax", persistent_workers=True,
    label_map=None, flow_algorithm="dis", flow_bound=20.0, flow_resolution=None, consensus="avg",
)


def option(cfg, key):
    """``cfg[key]``, or the default of an optional key the config leaves out (`OPTIONAL_KEYS`)."""
    return cfg.get(key, OPTIONAL_KEYS[key])


def all_configs():
    """{name: config dict} for every config module in this package."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, dict) and not name.startswith("_") and "num_classes" in value:
                found[name] = value
    return found


def two_stream_recipes():
    """The zoo's two-stream rows: {name: dict(rgb=config, flow=config, coefficients=(1, 1), top1, top5)}.

    They are not configs (nothing is trained): the raw scores of the two named configs' test runs are summed
    with these coefficients (`tsnbook.metrics.fuse_scores`, ``python -m tsnbook fuse``).
    """
    from .kinetics400 import TWO_STREAM
    return copy.deepcopy(TWO_STREAM)


def replica_twin(name, data_root, num_classes, **overrides):
    """Row ``name`` at CPU size (`_zoo.cpu_sized`) on a dataset's replica or any small copy under ``data_root``.

    The data keys stay the row's own (``data_prefix``, ``ann_file_*``, ``filename_tmpl``, ``start_index``): the
    lists `tsnbook.datasets`' ``prepare.py`` writes into the replica are the ones the row reads. Only the class
    count (a replica has a few classes) and the sizes change, so a dataset notebook trains "the row" in seconds.
    """
    from ._zoo import cpu_sized
    cfg = cpu_sized(get_config(name))
    cfg.update(data_root=str(data_root), num_classes=num_classes, name=f"{name}_replica",
               zoo=dict(replica_of=name, notes="CPU twin on the dataset's replica; see configs.replica_twin"))
    for key, value in overrides.items():
        if key not in cfg and key not in OPTIONAL_KEYS:
            raise KeyError(f"config {name} has no key {key!r}.{_nearest(key, list(cfg))}")
        cfg[key] = value
    return cfg


def _nearest(word, choices):
    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.5)
    return f" Did you mean {', '.join(close)}?" if close else ""


def get_config(name, overrides=()):
    """A fresh copy of config ``name`` with ``overrides`` applied (``"key=value"`` strings or a dict).

    Unknown config names and keys raise a KeyError that lists the nearest valid ones. Values in strings are
    Python literals (``lr=0.01``, ``lr_steps=[20,40]``, ``pretrained=None``; anything else is a string).
    """
    configs = all_configs()
    if name not in configs:
        raise KeyError(f"unknown config {name!r}.{_nearest(name, list(configs))} "
                       f"(`python -m tsnbook configs` lists all {len(configs)})")
    cfg = copy.deepcopy(configs[name])
    cfg["name"] = name
    items = overrides.items() if isinstance(overrides, dict) else (_split(o) for o in overrides)
    for key, value in items:
        if key not in cfg and key not in OPTIONAL_KEYS:
            raise KeyError(f"config {name} has no key {key!r}.{_nearest(key, list(cfg))}")
        cfg[key] = value
    return cfg


def _split(option):
    key, sep, text = option.partition("=")
    if not sep:
        raise ValueError(f"override {option!r} must look like key=value")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    return key.strip(), value
