"""What a config's values must be, checked when the config is read rather than hours into a run.

A config file's ``epochs = "1"`` or ``lr_steps = 4``, or ``--cfg-options epochs=abc``, would otherwise fail as a
TypeError deep inside training; a misspelt transform in the test pipeline only after training ended. So the keys
whose type the engine relies on are checked where a file is parsed and where overrides are applied (`value_error`:
the caller names the file's line or the option), and every pipeline is built once when the config is checked
(`check_pipelines`). A key that names one of a few choices (``average_clips = "probs"``) is checked against them
(`CHOICES`): validation, the first reader of some of them, used to fail only after the first epoch had trained,
before its checkpoint was written. Paths may be strings or ``Path`` objects (a dict built by hand).
"""
import numbers
import os
import sys

import numpy as np

from ..flow import ALGORITHMS, RESOLUTIONS, output_size
from ..io import BACKENDS
from ..pipelines import INPUT_FORMATS
from ..spelling import did_you_mean
from ..transforms import FormatShape, Normalize, build_pipeline

PIPELINES = ("train_pipeline", "val_pipeline", "test_pipeline")


def _is_int(value):  # numbers.Integral: numpy's integers too (a count computed with numpy)
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


_KINDS = {
    "int": (_is_int, "an int"),
    "number": (_is_number, "a number"),
    "bool": (lambda value: isinstance(value, (bool, np.bool_)), "True or False"),
    "ints": (lambda value: isinstance(value, (list, tuple)) and all(map(_is_int, value)), "a list of ints"),
    "list": (lambda value: isinstance(value, (list, tuple)), "a list"),
    "path": (lambda value: isinstance(value, (str, os.PathLike)), "a path (a string)"),
    "text": (lambda value: isinstance(value, str), "a string"),
}
_KEYS = dict(
    int=("epochs", "batch_size", "num_classes", "num_segments", "clip_len", "frame_interval", "val_clips", "test_clips",
         "dense_sample_range", "dense_test_positions", "checkpoint_interval", "max_keep_ckpts",
         "eval_interval", "num_workers", "start_index", "frozen_stages", "seed", "lr_base_batch",
         "gpus"),
    number=("lr", "momentum", "weight_decay", "lr_gamma", "min_lr", "warmup_epochs", "warmup_ratio", "loss_weight",
            "dropout", "init_std", "flow_bound", "grad_clip", "dist_timeout"),
    bool=("twice_sample", "multi_label", "with_offset", "partial_bn", "norm_eval", "sync_bn", "auto_scale_lr", "fc_lr5",
          "channels_last", "persistent_workers", "densenet_relu"),
    ints=("lr_steps",),
    list=PIPELINES,
    path=("data_root", "data_prefix", "data_prefix_val", "ann_file_train", "ann_file_val", "ann_file_test",
          "label_map", "load_from", "pretrained"),
    text=("name",),
)
#: key -> kind; the keys that may also be None (no seed, no clipping, the zoo's GPU count unknown)
_EXPECTED = {key: kind for kind, keys in _KEYS.items() for key in keys}
MAY_BE_NONE = ("seed", "lr_base_batch", "gpus", "grad_clip", "ann_file_val", "label_map", "load_from",
               "pretrained")
#: counts that are meaningless below 1 (``epochs = 0`` would write an empty run that blocks its work dir), and
#: values that cannot be negative; ``dropout`` is a probability below 1
AT_LEAST_ONE = ("epochs", "batch_size", "num_classes", "num_segments", "clip_len", "frame_interval", "val_clips",
                "test_clips", "dense_sample_range", "dense_test_positions", "eval_interval", "lr_base_batch", "gpus")
NOT_NEGATIVE = ("lr", "weight_decay", "min_lr", "warmup_epochs", "num_workers", "checkpoint_interval", "grad_clip",
                "init_std")
#: values that must be above 0 (flow quantised to a bound of 0 is blank; a timeout of 0 fails every collective)
ABOVE_ZERO = ("flow_bound", "dist_timeout")

#: keys whose value is one of a few names, and those names; the modules that read them (models, data, consensus,
#: schedules, loops, metrics, ...) come after this one and keep their own lists, which a test holds equal to these
CHOICES = dict(
    modality=("rgb", "flow", "rgbdiff"), source=("video", "rawframes", "flow"), sampler=("segments", "dense"),
    lr_schedule=("step", "cosine"), average_clips=(None, "score", "prob"), consensus=("avg", "max", "weighted"),
    amp=("auto", "bf16", "fp16", None), test_amp=("auto", "bf16", "fp16", None), gpu_augment=("auto", True, False),
    multi_label_prob=("softmax", "sigmoid"), flow_init=("average", "random"), flow_algorithm=ALGORITHMS,
    decoder=(None, *BACKENDS),
    eval_metrics=("top_k_accuracy", "mean_class_accuracy", "mean_average_precision", "mmit_mean_average_precision"))
#: what the FormatShape input_format each modality's network reads (`tsnbook.pipelines.INPUT_FORMATS`) makes
_STACKS = dict(NCHW="frames, 3 channels each", NCHW_Flow="flow stacks, x and y of clip_len frames",
               NCHW_Stack="RGB frames of a clip stacked, whose differences the model takes")
#: eval_metrics that need multi-label lists (``multi_label``); the others need single-label ones
MULTI_LABEL_METRICS = ("mean_average_precision", "mmit_mean_average_precision")


def _is_choice(value, choices):
    """``value`` is one of ``choices`` (1 is not True, nor "None" None)."""
    return any(value == choice and type(value) is type(choice) for choice in choices)


def _metrics_error(value):
    """Why ``value`` is not a list of `CHOICES` ``eval_metrics``, or None."""
    choices = CHOICES["eval_metrics"]
    if isinstance(value, (list, tuple)) and value and all(_is_choice(item, choices) for item in value):
        return None
    wrong = [item for item in value if not _is_choice(item, choices)] if isinstance(value, (list, tuple)) else []
    return (f"expected a list of {', '.join(choices)} (the first picks best.pth), got {value!r}"
            + (did_you_mean(wrong[0], choices) if wrong else ""))


def _choice_error(key, value):
    """Why ``value`` is not one of ``key``'s `CHOICES`, or None."""
    choices = CHOICES[key]
    if _is_choice(value, choices):
        return None
    off = " (None turns it off)" if value is False and key in ("amp", "test_amp") else ""
    return f"expected one of {', '.join(map(repr, choices))}, got {value!r}{off}{did_you_mean(value, choices)}"


def _resolution_error(value):
    """Why ``value`` is no `tsnbook.flow.output_size` resolution (a short side, [W, H], or a name), or None."""
    forms = (f"a short side S (an int), [W, H], or one of {', '.join(map(repr, RESOLUTIONS))}, 'short<S>', "
             "'<W>x<H>' (None: the video's size)")
    pair = isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_is_int, value))
    if not (pair or _is_int(value) or isinstance(value, str)):
        return f"expected {forms}, got {value!r}"
    try:
        size = output_size(10 ** 6, 10 ** 6, value)
    except ValueError as err:
        return str(err)
    return None if min(size) >= 1 else f"expected sizes of 1 pixel or more, got {value!r}"


def value_error(key, value):
    """Why ``value`` cannot be ``key``'s value ("expected an int, got '1' (a str)"), or None when it can."""
    if key == "eval_metrics":
        return _metrics_error(value)
    if key in CHOICES:
        return _choice_error(key, value)
    if key == "flow_resolution" and value is not None:
        return _resolution_error(value)
    kind = _EXPECTED.get(key)
    if kind is None or (value is None and key in MAY_BE_NONE):
        return None
    fits, what = _KINDS[kind]
    if not fits(value):
        return f"expected {what}{' or None' if key in MAY_BE_NONE else ''}, got {value!r} (a {type(value).__name__})"
    if key in AT_LEAST_ONE and value < 1:
        return f"expected 1 or more, got {value!r}"
    if key in NOT_NEGATIVE and value < 0:
        return f"expected 0 or more, got {value!r}"
    if key in ABOVE_ZERO and value <= 0:
        return f"expected more than 0, got {value!r}"
    if key == "dropout" and not 0 <= value < 1:
        return f"expected a probability from 0 up to (not including) 1, got {value!r}"
    if key == "momentum" and not 0 <= value <= 1:
        return f"expected a momentum from 0 to 1, got {value!r}"
    if key == "lr_steps" and any(later < earlier for earlier, later in zip(value, value[1:])):
        return (f"expected increasing epochs, got {list(value)!r}: tsnbook (as MMAction2 1.x) decays at each step "
                f"passed, MMAction2 0.x only at the first step not yet reached, so the two would differ; sort them")
    if key == "lr_steps" and len(set(value)) < len(value):
        return (f"expected increasing epochs, got {list(value)!r}: a step repeated decays twice there (lr_gamma "
                f"squared); name each epoch once")
    return None


def check_values(cfg, source):
    """`value_error` for every key of ``cfg`` (a dict built by hand is checked as a file is), and the metrics
    against the labels: a ValueError naming ``source`` and the key."""
    for key, value in cfg.items():
        error = value_error(key, value)
        if error:
            raise ValueError(f"{source}: {key} = {value!r}: {error}")
    metrics, multi_label = cfg.get("eval_metrics") or (), bool(cfg.get("multi_label", False))
    other = [metric for metric in metrics if (metric in MULTI_LABEL_METRICS) != multi_label]
    if other:
        wanted, kind = ("single-label", "False") if multi_label else ("multi-label", "True")
        usable = [metric for metric in CHOICES["eval_metrics"] if (metric in MULTI_LABEL_METRICS) == multi_label]
        raise ValueError(f"{source}: eval_metrics {other} need a {wanted} dataset (multi_label = {kind}); this one "
                         f"takes {', '.join(usable)}")


def check_pipelines(cfg, source):
    """Build each step of the three pipelines; a bad one is a ValueError naming ``source``, the pipeline and the
    step ("mine.py: test_pipeline[1] CenterCrop: unknown argument crop_sise (did you mean crop_size?)").

    Two steps MMAction2's configs have are refused here: ``Normalize`` (tsnbook's TSN normalises its uint8 input
    itself, so the frames would be normalised twice, silently), and a pipeline must end with ``FormatShape`` of
    the modality's layout (`INPUT_FORMATS`; without it the views stay [H, W, C] images, and a flow model given
    NCHW gets each flow frame as a view: either is refused by the model only once a test runs). Ready-made
    steps (callables) are used as they are, a FormatShape instance included."""
    for key in PIPELINES:
        steps = cfg.get(key)
        if not isinstance(steps, (list, tuple)):
            continue  # a missing pipeline is check_config's; a wrong type value_error's
        for index, step in enumerate(steps):
            try:
                build_pipeline([step])
            except (ValueError, TypeError) as err:
                raise ValueError(f"{source}: {key}[{index}] {err}") from None
            if isinstance(step, Normalize) or isinstance(step, dict) and step.get("type") == "Normalize":
                raise ValueError(f"{source}: {key}[{index}] Normalize: tsnbook's TSN normalises its uint8 input "
                                 f"itself (tsnbook.models): remove this step, which would normalise the frames twice "
                                 f"(a model trained with it learned doubly normalised frames: train it again)")
        last = steps[-1] if steps else None
        if isinstance(last, dict) and last.get("type") == "FormatShape":
            last = FormatShape(last.get("input_format", "NCHW"))  # built above: its arguments are valid
        if not isinstance(last, FormatShape):
            raise ValueError(f"{source}: {key} must end with FormatShape (its input_format: NCHW for RGB, NCHW_Flow "
                             f"for flow, NCHW_Stack for rgbdiff), which makes the network's channel-first input")
        wanted = INPUT_FORMATS.get(cfg["modality"]) if isinstance(cfg.get("modality"), str) else None
        if wanted and last.input_format != wanted:
            raise ValueError(f"{source}: {key}[{len(steps) - 1}] FormatShape input_format {last.input_format!r}: a "
                             f"{cfg['modality']} model reads {wanted!r} (the {_STACKS[wanted]})")


def warn_schedule(cfg, changed, who):
    """A file or ``--cfg-options`` that shorten training (``changed`` sets ``epochs``) without new ``lr_steps``
    would never decay the learning rate, and ``lr_steps`` set at or past ``epochs`` never come (a typo such as
    ``[4, 20]`` for 8 epochs): say so, on stderr (``config dump`` writes the config alone on stdout)."""
    steps = cfg.get("lr_steps") or []
    if "epochs" in changed and "lr_steps" not in changed and steps and max(steps) >= cfg["epochs"]:
        print(f"note: {who} sets epochs={cfg['epochs']} but keeps lr_steps {steps}: steps from epoch "
              f"{cfg['epochs']} on never come; set lr_steps to fit", file=sys.stderr)
    elif "lr_steps" in changed and steps and max(steps) >= cfg["epochs"]:  # epoch indices run 0..epochs-1
        late = [step for step in steps if step >= cfg["epochs"]]
        which = f"step at epoch {late[0]} never comes" if len(late) == 1 else \
            f"steps at epochs {', '.join(map(str, late))} never come"
        print(f"note: {who}: lr_steps {steps} reach past epochs={cfg['epochs']}: the {which}; set lr_steps below "
              f"epochs", file=sys.stderr)
