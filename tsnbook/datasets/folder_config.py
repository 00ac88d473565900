"""``ROOT/config.py`` of the folder dataset: a zoo row's recipe on your videos, as plain assignments to read and
edit (`tsnbook.configs.files`: read with ``ast``, never run).

The file sets what differs from its base row (``--base ROW``; default `DEFAULT_BASE`, the zoo's small-data
recipe: a ResNet-50 with 8 segments, Kinetics-400 weights fine-tuned on HMDB51): the data keys (the videos lists
under ``ROOT/videos``), ``num_classes`` and the label map (``classes.txt``), a name of its own, the starting
weights (``--load-from FILE``, else the row's ``load_from``; ``pretrained = None`` then, since those weights
replace every ImageNet one and an offline machine cannot fetch ImageNet's), and a schedule for the dataset's size
(`schedule`, explained in the file's header). `write` keeps a file the user has edited: the new one goes beside
it as ``config.new.py``.
"""
import contextlib
import hashlib
import io
import math
import textwrap
import os
from pathlib import Path

from .files import DatasetError, atomic_write

#: the zoo's own recipe for a small dataset: Kinetics-400 weights fine-tuned (HMDB51's row)
DEFAULT_BASE = "tsn_r50_1x1x8_50e_hmdb51_kinetics400_rgb"
#: what trains in minutes on a CPU: the default's twin (ResNet-18 from scratch, 48-px frames, 40-px crops)
CPU_BASE = DEFAULT_BASE + "_tiny"
#: a run shorter than this many optimizer steps gets more epochs (a tiny dataset's epoch is a few steps)
MIN_STEPS = 200
CONFIG, NEW_CONFIG = "config.py", "config.new.py"


def base_config(base):
    """The base row (or config file) as a dict; a `DatasetError` naming the nearest rows when it is unknown."""
    from ..configs import get_config
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return get_config(base)
    except (KeyError, ValueError, FileNotFoundError) as error:
        raise DatasetError(f"--base {base}: {error.args[0]}") from None


def schedule(base, train_videos):
    """``(keys, lines)``: batch size, epochs, lr steps and validation interval for ``train_videos`` on ``base``'s
    recipe, and the rule in words (for the file's header)."""
    base_batch, base_epochs = base["batch_size"], base["epochs"]
    cap = 2 ** int(math.log2(max(2, train_videos // 4)))
    batch = min(base_batch, cap)
    steps = max(1, train_videos // batch)  # the last partial batch is dropped
    epochs = min(max(base_epochs, math.ceil(MIN_STEPS / steps)), 4 * base_epochs)
    keys = dict(batch_size=batch, epochs=epochs, eval_interval=max(1, round(epochs / 10)))
    if base.get("lr_base_batch") is None:  # the row's lr was written for its own batch: scale it with ours
        keys["lr_base_batch"] = base_batch * (base.get("gpus") or 1)
    if base.get("lr_schedule", "step") == "step" and base.get("lr_steps"):
        keys["lr_steps"] = sorted({max(1, round(s * epochs / base_epochs)) for s in base["lr_steps"]})
    lines = [
        f"The schedule fits {train_videos} training videos (the base's: batch {base_batch}, {base_epochs} epochs):",
        f"  batch_size {batch}: the base's, at most a quarter of the training videos (a power of two, at least 2), so "
        "that an epoch is several steps; the learning rate follows the batch (linear scaling, lr_base_batch);",
        f"  epochs {epochs}: the base's, more when training would take fewer than {MIN_STEPS} optimizer steps (a tiny "
        "dataset's epoch is a few steps), at most 4x the base's;",
        "  lr_steps at the base's fractions of the epochs; eval_interval: about ten validations a run.",
    ]
    return keys, lines


def contents(root, base, classes, lists, train_videos, load_from=None):
    """``(text, load_from)`` of ``ROOT/config.py`` (load_from: the weights it starts from, None: the row's
    own init); ``lists``: {subset: list file name} of the subsets written ("train", "val", "test")."""
    from ..configs import is_config_file, reads_generated_data
    from ..configs.files import GENERATED_SIZED, format_config
    from .folder_source import slug

    root = Path(root)
    row = base_config(base)
    val = lists.get("val") or lists.get("test")
    keys = dict(name=f"{slug(root.resolve().name)}_tsn", data_root=str(root), source="video", data_prefix="videos",
                ann_file_train=lists["train"], ann_file_val=val, ann_file_test=lists.get("test") or val,
                num_classes=len(classes), label_map="classes.txt")
    start = load_from or row.get("load_from")
    if start:
        keys.update(load_from=str(start), pretrained=None)
    if reads_generated_data(row):  # sized for SynthActions' 160x120 clips: set here, flip label maps dropped
        for key in (k for k in GENERATED_SIZED if k in row):
            keys[key] = [dict(s, flip_label_map=None) if s.get("flip_label_map") else s for s in row[key]] \
                if key.endswith("pipeline") else row[key]
    timing, rule = schedule(row, train_videos)
    keys.update(timing)
    written_base = os.path.relpath(Path(base).resolve(), root.resolve()) if is_config_file(base) else base
    header = _header(root, row, base, rule)
    return format_config(keys, base=written_base, header=header), start


def _header(root, row, base, rule):
    """The file's opening comment: how it was made and is used, the schedule's rule, how to go smaller."""
    paragraphs = [
        f"The folder dataset {root} as a TSN config, written by data_scripts/prepare.py folder lists. Train with",
        f"  python -m tsnbook train {root / CONFIG} --validate",
        f"Plain assignments on the base row {base} (read, never run); every other key is the base's: python -m "
        f"tsnbook config show {root / CONFIG}. prepare.py rewrites this file while you have not edited it; an "
        f"edited file is kept, and the new one goes to {NEW_CONFIG}.", ""] + rule + [""]
    if _costlier_than_cpu_base(row):
        paragraphs.append(
            f"Slow on a CPU? The base trains a {row['backbone']} on {_crop(row)}-px crops. Smaller: prepare.py folder "
            f"lists --base {CPU_BASE} (a ResNet-18 from scratch on 40-px crops: minutes), or set backbone = "
            "\"resnet18\", pretrained = \"torchvision:IMAGENET1K_V1\" and load_from = None here (ImageNet weights, "
            "downloaded once).")
    paragraphs.append("Frames instead of videos: prepare.py folder extract --frames rgb, then source = "
                      "\"rawframes\", data_prefix = \"rawframes\" and the *_rawframes.txt lists.")
    return [line for text in paragraphs for line in (textwrap.wrap(
        text, 116, subsequent_indent="    " if text.startswith("  ") else "") or [""])]


def _costlier_than_cpu_base(row):
    """Whether ``row`` costs more than `CPU_BASE` (another backbone, or larger crops): only then is the header's
    "Smaller:" hint smaller (notebook 00's ResNet-18 recipe is already the CPU base's size)."""
    cpu = base_config(CPU_BASE)
    crop, cpu_crop = _crop(row), _crop(cpu)
    same_size = isinstance(crop, int) and isinstance(cpu_crop, int) and crop <= cpu_crop
    return row["backbone"] != cpu["backbone"] or not same_size


def _crop(cfg):
    """The training crop's size, from the last Resize or crop of the train pipeline."""
    sizes = [s.get("scale", (s.get("input_size"),))[-1] for s in cfg["train_pipeline"]
             if s["type"] == "MultiScaleCrop" or (s["type"] == "Resize" and s.get("keep_ratio", True) is False)]
    return sizes[-1] if sizes else "?"


def write(report, root, text, state):
    """Write ``text`` to ``ROOT/config.py`` unless the user edited the one there (its hash differs from the one
    last written, ``state["config_sha256"]``): then to ``config.new.py``, with a note (what you did is no problem
    to report). Returns the path written."""
    root = Path(root)
    path, digest = root / CONFIG, hashlib.sha256(text.encode("utf-8")).hexdigest()
    if path.is_file():
        current = hashlib.sha256(path.read_bytes()).hexdigest()
        if current == digest:
            report.did("config.py kept (up to date)")
            return path
        if current != state.get("config_sha256"):
            atomic_write(root / NEW_CONFIG, text)
            report.note(f"{path}: edited by you, so kept; the config for the videos as they are now went to "
                        f"{NEW_CONFIG}: compare the two (num_classes, the schedule)")
            return root / NEW_CONFIG
    atomic_write(path, text)
    state["config_sha256"] = digest
    report.did("config.py written")
    return path


def check_start(report, state, start):
    """An error when the weights the config starts from (``start``) are not there, saying how to get them: the
    ``--load-from`` given, or the base row's own (its download address)."""
    if not start or Path(start).is_file():
        return
    if state["load_from"]:
        report.problem("missing", start, f"--load-from {start}: no such file; give the path of a TSN checkpoint (the "
                       "zoo's, or one of yours: its classifier is dropped); train stops without it")
        return
    url = (base_config(state["base"]).get("zoo") or {}).get("load_from_url")
    report.problem("missing", start, "load_from: the weights the config starts from are not there" +
                   (f" (download {url} into it)" if url else "") + "; or pass --load-from FILE (a checkpoint of yours "
                   "works too: its classifier is dropped); train stops without them")


def next_step(root, written):
    """The "next:" line: training on ``ROOT/config.py``, also when the user's edited one was kept and ``written`` is
    ``config.new.py`` (what prepare.py would write now, for the user to compare, not to train on unread)."""
    line = f"next: python -m tsnbook train {Path(root) / CONFIG} --validate"
    if Path(written).name == NEW_CONFIG:
        line += (f" (your edited {CONFIG}; {NEW_CONFIG} holds what prepare.py would write now: diff "
                 f"{Path(root) / CONFIG} {written})")
    return line


def check(path):
    """Read the written file back as `train` will; a `DatasetError` when it does not load (a bug, not the data's)."""
    from ..configs import get_config
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return get_config(str(path))
    except (KeyError, ValueError, FileNotFoundError) as error:
        raise DatasetError(f"{path}: the config written does not load ({error}); please report this") from None
