"""Configs: plain Python dicts of literals, one per experiment, named like MMAction2's model-zoo rows.

A config is a flat dict (nanoGPT style): you can read every setting of a run in one screen and change any of
them with ``key=value`` overrides. The keys, grouped:

* data: ``data_root``, ``source`` ("video" | "rawframes" | "flow"), ``data_prefix``, ``ann_file_train`` /
  ``_val`` / ``_test`` (relative to data_root), ``filename_tmpl``, ``start_index``, ``num_classes``,
  ``multi_label`` (False; list lines carry several labels, trained with BCE), ``with_offset``, ``decoder``;
* sampling and augmentation: ``num_segments``, ``clip_len``, ``frame_interval``, ``val_clips``,
  ``test_clips``, ``sampler`` ("segments" = SampleFrames, default | "dense" = DenseSampleFrames, with
  ``dense_sample_range`` 64 and ``dense_test_positions`` 10), ``twice_sample`` (False), ``train_pipeline``,
  ``val_pipeline``, ``test_pipeline`` (lists of transform dicts, `tsnbook.transforms`);
* model: ``modality``, ``backbone``, ``pretrained``, ``dropout``, ``init_std``, ``partial_bn``, ``norm_eval``,
  ``flow_init``, ``sync_bn`` (False; SyncBatchNorm across DDP processes, CUDA only);
* optimisation: ``epochs``, ``batch_size`` (videos per process), ``lr``, ``momentum``, ``weight_decay``,
  ``lr_schedule`` ("step" with ``lr_steps``, ``lr_gamma`` | "cosine" down to ``min_lr`` 0.0),
  ``warmup_epochs`` (0; linear warmup per iteration from ``warmup_ratio`` 0.1 x the lr), ``lr_base_batch``
  (None; the total batch ``lr`` was written for) with ``auto_scale_lr`` (True: lr x processes x batch_size /
  lr_base_batch), ``gpus`` (informational), ``fc_lr5`` (False; MMAction2's TSMOptimizerConstructor groups),
  ``loss_weight`` (1.0; multiplies the multi-label BCE), ``grad_clip``, ``amp`` ("bf16" | "fp16" | None; CUDA
  only), ``channels_last`` (True; CUDA only), ``num_workers``, ``eval_interval``, ``eval_metrics``
  (["top_k_accuracy", "mean_class_accuracy"]; or "mean_average_precision" / "mmit_mean_average_precision";
  the first one chooses best.pth), ``dist_timeout`` (600 s to meet the other DDP processes), ``seed``;
* testing: ``average_clips`` (None = raw logits as the 0.x zoo, "score", "prob" = softmax of the video's logits).

Keys a config leaves out take the defaults above (`tsnbook.engine.OPTIONAL_KEYS`).

Every module in this package contributes its module-level dicts; `get_config` finds them by name.
"""
import ast
import copy
import difflib
import importlib
import pkgutil


def all_configs():
    """{name: config dict} for every config module in this package."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, dict) and not name.startswith("_") and "num_classes" in value:
                found[name] = value
    return found


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
        if key not in cfg:
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
