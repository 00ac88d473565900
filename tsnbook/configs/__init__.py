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
  BCE), ``amp`` ["auto": bf16 autocast on GPUs of compute capability >= 8.0, fp16 with a GradScaler below (T4,
  V100); "bf16" / "fp16" force one, None trains in fp32; CUDA only, the CPU trains in fp32; the choice is
  printed and logged], ``channels_last`` [True, CUDA only], ``num_workers`` (DataLoader processes for
  training, validation and testing) with ``persistent_workers`` [True] (kept from epoch to epoch),
  ``eval_interval``, ``eval_metrics`` (the first one picks best.pth), ``dist_timeout`` [600] (seconds to meet
  the other DDP processes), ``checkpoint_interval`` [1] and ``max_keep_ckpts`` [-1] (``epoch_N.pth`` every N
  epochs and after the last one, the newest K kept; MMAction2's checkpoint_config), ``seed``;
* testing: ``average_clips`` (None = raw logits as the 0.x zoo, "score", "prob"), ``test_amp`` [None = fp32, as
  the zoo tested; "bf16" / "fp16": autocast on CUDA, for validation and test; ``amp`` is training's only],
  ``multi_label_prob`` ["softmax"]: a multi-label model's "prob" - MMAction2's quirk, a softmax over the classes
  although the head was trained with per-class sigmoids (BCE); "sigmoid" gives each class its own probability
  (`tsnbook.TSN`);
* documentation only: ``zoo``, the model-zoo row's published facts (accuracy or mAP, resolution, GPUs,
  pre-training, checkpoint URL, test protocol, notes); the engine never reads it.

Keys a config leaves out take the defaults in brackets (`OPTIONAL_KEYS`; `get_config` accepts them as
overrides for any config). The keys without a default are `REQUIRED_KEYS`: a config built by hand that lacks some
gets one error listing them all (`check_config`), before anything runs.

``get_config`` also takes the path of a config file (`tsnbook.configs.files`): a Python file of plain
assignments on top of a zoo row (``base = "ROW"``) or of another file, or a run's ``config.json``.

Every module in this package contributes its module-level dicts; `get_config` finds them by name. The zoo
modules (``ucf101``, ``kinetics400``, ``hvu``, ...) hold one config per row of MMAction2's TSN model-zoo tables,
each with a ``<name>_tiny`` twin that keeps the row's structure but runs on SynthActions on a CPU
(`tsnbook.configs._zoo.tiny`); `two_stream_recipes` lists the zoo's two-stream "[1: 1]" rows.
"""
import ast
import copy
import importlib
import os
import pkgutil
from pathlib import Path

from ..spelling import did_you_mean
from .checks import check_pipelines, check_values, value_error, warn_schedule

#: Keys every config may set although few do, with the defaults used when a config leaves them out (the
#: list above describes them). `get_config` accepts them as overrides for any config.
OPTIONAL_KEYS = dict(
    sampler="segments", dense_sample_range=64, dense_test_positions=10, twice_sample=False,
    lr_schedule="step", min_lr=0.0, warmup_epochs=0, warmup_ratio=0.1, lr_base_batch=None, auto_scale_lr=True,
    fc_lr5=False, loss_weight=1.0, amp="auto", channels_last=True, sync_bn=False, dist_timeout=600,
    eval_metrics=["top_k_accuracy", "mean_class_accuracy"], average_clips=None, multi_label=False,
    frozen_stages=-1, load_from=None, densenet_relu=False, gpu_augment="auto", gpus=None, zoo=None,
    checkpoint_interval=1, max_keep_ckpts=-1, test_amp=None, multi_label_prob="softmax", persistent_workers=True,
    label_map=None, flow_algorithm="dis", flow_bound=20.0, flow_resolution=None, consensus="avg",
)


#: Keys every config must set (no default), with what each means: a file or a dict built by hand that lacks
#: some gets one error listing them all (`check_config`) instead of a KeyError deep inside a run.
REQUIRED_KEYS = dict(
    name="the run's name (work_dirs/NAME, log lines); a config file's own name is its file name",
    data_root="the dataset's folder: the list files and data_prefix are relative to it",
    source='what the lists point at: "video" (files), "rawframes" (RGB frame folders) or "flow" (flow folders)',
    data_prefix='the folder under data_root the list paths are relative to ("" for data_root itself)',
    ann_file_train="the training list file, relative to data_root",
    ann_file_val="the validation list file (None: no validation)",
    ann_file_test="the test list file",
    num_classes="the number of classes: the classifier's size",
    num_segments="TSN's segments: snippets per video in training",
    train_pipeline="the training augmentation, a list of transform dicts (tsnbook.transforms)",
    val_pipeline="the validation transforms",
    test_pipeline="the test transforms (crops per clip)",
    modality='"rgb", "flow" or "rgbdiff"',
    backbone='a torchvision model name ("resnet50") or "timm/<name>"',
    epochs="training epochs",
    batch_size="videos per GPU / process",
    lr="the learning rate (for lr_base_batch videos when set)",
)


def check_config(cfg, source="the config"):
    """Raise one ValueError that lists every `REQUIRED_KEYS` entry ``cfg`` lacks, with what each means; then one
    naming the first value of a wrong type or out of its choices (`tsnbook.configs.checks.check_values`) and
    the first pipeline step that cannot be built (`check_pipelines`)."""
    missing = [key for key in REQUIRED_KEYS if key not in cfg]
    if missing:
        raise ValueError(f"{source} lacks {len(missing)} key(s) every config needs: {', '.join(missing)}\n" +
                         "".join(f"  {key}: {REQUIRED_KEYS[key]}\n" for key in missing) +
                         "(or start from a zoo row: a config file with base = \"ROW\"; `python -m tsnbook config "
                         "dump ROW` writes one to edit)")
    check_values(cfg, source)
    check_pipelines(cfg, source)


def known_keys():
    """Every key a config may set: those of the zoo's configs, `OPTIONAL_KEYS` and `REQUIRED_KEYS`."""
    return set(OPTIONAL_KEYS) | set(REQUIRED_KEYS) | {key for cfg in all_configs().values() for key in cfg}


def plain(value):
    """``value`` with every object that is not a plain container or scalar turned into a string (a ``Path`` in a
    config), so that a checkpoint storing it loads with ``weights_only=True`` and a config file can hold it."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def reads_generated_data(cfg):
    """Whether ``cfg`` reads SynthActions, the data this project generates (the demo's configs and the zoo's
    ``_tiny`` twins): a ``synthactions`` folder read through SynthActions' own lists."""
    return Path(cfg.get("data_root", "")).name == "synthactions" and \
        str(cfg.get("ann_file_train", "")).startswith("synthactions_")


def stacked_frames(cfg):
    """How many inputs one snippet stacks into the model's channels: ``clip_len`` for flow (x/y field pairs) and
    RGBDiff (differences of ``clip_len + 1`` frames), 1 for RGB, whose ``clip_len`` frames are separate inputs.
    The first conv's shape follows it, so a flow checkpoint fits only a config with its ``clip_len``."""
    return cfg.get("clip_len", 1) if cfg.get("modality") in ("flow", "rgbdiff") else 1


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
    return apply_overrides(cfg, overrides, f"config {name}")


def is_config_file(name):
    """Whether ``name`` names a config file (``.py`` or a run's ``.json``) rather than a config of this package."""
    return str(name).endswith((".py", ".json"))


def get_config(name, overrides=()):
    """A fresh copy of config ``name`` with ``overrides`` applied (``"key=value"`` strings or a dict).

    ``name`` is a config of this package (a zoo row, ``python -m tsnbook configs``) or the path of a config file
    (`tsnbook.configs.files`: ``.py`` plain assignments, or a run's ``config.json``). Unknown config names and
    keys raise a KeyError that lists the nearest valid ones; a config that lacks required keys one ValueError
    listing them all (`check_config`). Values in strings are Python literals (``lr=0.01``, ``lr_steps=[20,40]``,
    ``pretrained=None``; anything else is a string). A dotted key reaches inside a list or dict value:
    ``test_pipeline.1.type=ThreeCrop``, ``train_pipeline.0.scale=(-1,320)``, ``lr_steps.0=30`` (MMAction2's
    ``--cfg-options`` do the same in its nested configs). Overrides that change ``num_classes`` drop the settings
    that name the base's classes (`tsnbook.configs.files.for_other_classes`).
    """
    if is_config_file(name):
        from .files import read_config
        given = overrides if isinstance(overrides, dict) else dict(_split(option) for option in overrides)
        cfg, source = read_config(name, given={key.partition(".")[0] for key in given}), f"config file {name}"
    else:
        configs = all_configs()
        if name not in configs:
            raise KeyError(f"unknown config {name!r}{did_you_mean(name, configs)}: `python -m tsnbook configs` "
                           f"lists all {len(configs)}; a config file's path ends with .py or .json")
        cfg, source = copy.deepcopy(configs[name]), f"config {name}"
        cfg["name"] = name
    cfg = apply_overrides(cfg, overrides, source)
    check_config(cfg, source)
    return cfg


def as_config(cfg):
    """A config dict from what a function's ``cfg=`` was given: a dict as it is (None too), a config's name or a
    config file's path read with `get_config` - as every command takes one, so ``load_model(ckpt,
    cfg="mine.py")`` works rather than failing on a string deep inside."""
    return get_config(os.fspath(cfg)) if isinstance(cfg, (str, os.PathLike)) else cfg


def apply_overrides(cfg, overrides, source="the config"):
    """``cfg`` updated with ``overrides`` (``"key=value"`` strings or a dict): keys of ``cfg``, optional or
    required ones (a config file may leave a required key to the command line).

    An override that changes ``num_classes`` drops what names the old classes (flip label maps, the label map,
    the zoo's facts), with a note (`tsnbook.configs.files.for_other_classes`).
    """
    if isinstance(overrides, dict):
        items = [(key, value, f"{source}: override {key}={value!r}") for key, value in overrides.items()]
    else:  # the command line's --cfg-options
        items = [(*_split(option), f"--cfg-options {option}") for option in overrides]
    changed, dotted, given = {}, [], {}
    for key, value, where in items:
        if key in given:  # on the command line the later one would win unseen
            raise ValueError(f"{where}: {key} is given twice (also {given[key]}); keep one")
        given[key] = where
        key, _, path = key.partition(".")
        if key not in cfg and key not in OPTIONAL_KEYS and key not in REQUIRED_KEYS:
            raise KeyError(f"{source} has no key {key!r}{did_you_mean(key, cfg)}")
        if path:  # applied last, inside what the plain overrides left (another num_classes drops a Flip map first)
            dotted.append((key, path.split("."), value, where))
            continue
        if value_error(key, value):
            raise ValueError(f"{where}: {value_error(key, value)}")
        changed[key] = value
    if "num_classes" in changed and changed["num_classes"] != cfg.get("num_classes"):
        from .files import for_other_classes
        cfg = for_other_classes(cfg, changed, source)
    cfg = dict(cfg)
    cfg.update(changed)
    for key, path, value, where in dotted:
        cfg[key] = changed[key] = _replaced(cfg.get(key), key, path, value, where)
        if value_error(key, cfg[key]):
            raise ValueError(f"{where}: {value_error(key, cfg[key])}")
    if not isinstance(overrides, dict):
        warn_schedule(cfg, changed, "--cfg-options " + " ".join(overrides))
    return cfg


def _replaced(container, name, parts, value, where):
    """A copy of ``container`` (a list, tuple or dict of the config, e.g. a pipeline) with ``value`` at ``parts``,
    the dotted path after the key (``test_pipeline.1.crop_size=256``: step 1's ``crop_size``; MMAction2's
    ``--cfg-options`` reach into its nested configs so). A list index must exist (negative ones count from the
    end); a dict may gain its last key (a transform's argument: the pipeline check names a misspelt one), and a
    number is an int key where the dict has that one (Flip's ``flip_label_map.4``)."""
    head, rest = parts[0], parts[1:]
    if isinstance(container, (list, tuple)):
        try:
            index = int(head)
            container[index]
        except (ValueError, IndexError):
            where_to = f"indices 0-{len(container) - 1} (or -1 for the last)" if container else "no index: it is empty"
            raise KeyError(f"{where}: {name} is a list of {len(container)}: {head!r} is not one of its "
                           f"{where_to}") from None
        items = list(container)
        items[index] = _replaced(items[index], f"{name}.{head}", rest, value, where) if rest else value
        return type(container)(items)
    if isinstance(container, dict):
        if head not in container and _number(head) in container:
            head = _number(head)
        if head not in container and rest:
            raise KeyError(f"{where}: {name} has no key {head!r}{did_you_mean(head, [str(k) for k in container])}")
        return {**container, head: _replaced(container[head], f"{name}.{head}", rest, value, where) if rest else value}
    raise KeyError(f"{where}: {name} is {container!r}, not a list or dict: nothing inside it to set")


def _number(text):
    try:
        return int(text)
    except ValueError:
        return None


def _split(option):
    key, sep, text = option.partition("=")
    if not sep:
        raise ValueError(f"override {option!r} must look like key=value")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    return key.strip(), value
