"""Config files: plain assignments on top of a zoo row or another file, a run's ``config.json``, and writing them.

A config file is a Python file of ``KEY = VALUE`` lines, MMAction2's habit without its code::

    base = "tsn_r50_1x1x8_50e_hmdb51_kinetics400_rgb"   # a zoo row, or the path of another file (MMAction2's _base_)
    name = "myvideos_tsn"
    data_root = "data/myvideos"
    source = "video"
    ...

It is **read, never run**: parsed with `ast`, every value must be a literal (numbers, strings, None/True/False,
lists, tuples, dicts, also written ``dict(type="Flip")``) or a name assigned above it; names starting with ``_``
are helpers, not keys. Keys override the base's; an unknown key is an error naming the file, the line and the
nearest key. ``base`` may be left out: the file is then a whole config. Paths in values (``data_root``,
``load_from``) are relative to the working directory, as in every config; a base file's path is relative to
the file naming it. Without a ``name`` the file's name (``mine.py`` -> ``mine``) names the config and its runs.

What a file does **not** inherit: a file that points its base at other data (another ``data_root`` or
``num_classes``) must set the keys that say where that data lies (`DATA_KEYS`) and ``num_classes`` (the base's
count would size the classifier for the wrong data; the command line may give it), and when the base reads the
generated SynthActions (the demo's configs and the ``_tiny`` twins) also its pipelines (`GENERATED_SIZED`: sized
for 160x120, 24-frame clips) - an error names each one missing. What described the base's classes or files is
dropped with a printed note (`CLASS_KEYS`, Flip's ``flip_label_map``, `LAYOUT_KEYS`): SynthActions'
``{4: 5, 5: 4}`` would swap two of another dataset's classes on every flipped clip. ``--cfg-options`` that only
change ``num_classes`` drop the class-specific settings the same way (`for_other_classes`); one that only moves
``data_root`` (a copy of the same dataset) keeps everything.

A run's ``config.json`` (written by `tsnbook.train` into its work dir) loads as it is, JSON's string keys of
flip label maps turned back into class ids. `write_config` writes any config dict as such a file of plain
assignments (``python -m tsnbook config dump``; the folder dataset's ``lists`` step writes its ``config.py``).
"""
import ast
import copy
import json
import os
import pprint
import sys
from pathlib import Path

from ..spelling import did_you_mean
from ..texts import read_text, read_text_lines
from . import get_config, is_config_file, known_keys, plain, reads_generated_data
from .checks import value_error, warn_schedule

#: Where a config's data lies: a file that points its base at other data must set each of them.
DATA_KEYS = ("data_root", "source", "data_prefix", "ann_file_train", "ann_file_val", "ann_file_test")
#: How the base's own files are named (MMAction2's data_root_val, frame templates): dropped for other data, so
#: the source's defaults apply (`tsnbook.data.SOURCES`).
LAYOUT_KEYS = ("data_prefix_val", "filename_tmpl", "start_index")
#: What names the base's classes (besides Flip's flip_label_map): its label-map file and the zoo row's facts.
CLASS_KEYS = ("label_map", "zoo")
#: Sized for SynthActions' generated 160x120, 24-frame clips (48-px frames, 40-px crops, a 16-frame dense window).
GENERATED_SIZED = ("train_pipeline", "val_pipeline", "test_pipeline", "dense_sample_range")
PIPELINES = ("train_pipeline", "val_pipeline", "test_pipeline")

# The groups `write_config` writes, in the order of `tsnbook.configs`' key list; other keys come last.
_SECTIONS = (
    ("data", ("name", "data_root", "source", "data_prefix", "data_prefix_val", "ann_file_train", "ann_file_val",
              "ann_file_test", "filename_tmpl", "start_index", "num_classes", "label_map", "multi_label",
              "with_offset", "decoder", "flow_algorithm", "flow_bound", "flow_resolution")),
    ("sampling and augmentation", ("sampler", "dense_sample_range", "dense_test_positions", "twice_sample",
                                   "num_segments", "clip_len", "frame_interval", "val_clips", "test_clips",
                                   "train_pipeline", "val_pipeline", "test_pipeline", "gpu_augment")),
    ("model", ("modality", "backbone", "pretrained", "load_from", "dropout", "init_std", "partial_bn", "norm_eval",
               "sync_bn", "frozen_stages", "flow_init", "densenet_relu", "multi_label_prob")),
    ("optimisation", ("epochs", "batch_size", "lr", "lr_base_batch", "auto_scale_lr", "gpus", "momentum",
                      "weight_decay", "grad_clip", "lr_schedule", "lr_steps", "lr_gamma", "min_lr", "warmup_epochs",
                      "warmup_ratio", "fc_lr5", "loss_weight", "amp", "channels_last", "num_workers",
                      "persistent_workers", "eval_interval", "eval_metrics", "dist_timeout", "checkpoint_interval",
                      "max_keep_ckpts", "seed")),
    ("testing", ("average_clips", "test_amp")),
    ("documentation only: the engine never reads it", ("zoo",)),
)


def read_config(path, _chain=(), given=()):
    """The config a file describes: a ``.py`` file of plain assignments (resolved on its base) or a run's
    ``config.json``. Not yet checked for required keys (`tsnbook.configs.get_config` does that). ``given``: the
    keys that overrides will set (the command line may give ``num_classes`` for a file on new data)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    if path.suffix == ".json":
        return _read_run_config(path)
    if path.resolve() in _chain:
        raise ValueError(f"{path}: its base files form a cycle ({' -> '.join(map(str, _chain + (path.resolve(),)))})")
    keys, lines = _parse(path)
    known = known_keys() | {"base"}
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise KeyError("; ".join(f"{path}:{lines[key]}: unknown config key {key!r}{did_you_mean(key, known)}"
                                 for key in unknown))
    for key, value in keys.items():
        if value_error(key, value):
            raise ValueError(f"{path}:{lines[key]}: {key} = {value!r}: {value_error(key, value)}")
    base = keys.pop("base", None)
    if base is None:
        cfg = {}
    elif not isinstance(base, str):
        raise ValueError(f"{path}:{lines['base']}: base must be a zoo row's name or a config file's path, got {base!r}")
    elif is_config_file(base):
        cfg = for_other_data(read_config(path.parent / base, _chain + (path.resolve(),), set(given) | set(keys)),
                             keys, path, base, given)
    else:
        try:
            cfg = for_other_data(get_config(base), keys, path, base, given)
        except KeyError as err:
            raise KeyError(f"{path}:{lines['base']}: base: {err.args[0]}") from None
    cfg.update(keys)
    cfg["name"] = keys.get("name", path.stem)
    warn_schedule(cfg, keys, path)
    return cfg


def _parse(path):
    """``({key: value}, {key: line})`` of a file of plain assignments, without running it."""
    text = read_text(path, "config file")  # a Windows editor's BOM dropped, another encoding named with its line
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as err:
        raise ValueError(f"{path}:{err.lineno}: not Python syntax ({err.msg})") from None
    values, lines, nodes = {}, {}, {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # a docstring
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ValueError(f"{path}:{node.lineno}: only NAME = VALUE lines are allowed here (a config file is read, "
                             f"never run), got {ast.get_source_segment(text, node)!r}")
        key = node.targets[0].id
        nodes[key] = _PlainValue(nodes).visit(node.value)
        try:
            value = ast.literal_eval(nodes[key])
        except (ValueError, TypeError, SyntaxError, RecursionError):
            raise ValueError(f"{path}:{node.lineno}: {key} = {ast.get_source_segment(text, node.value)} is not a plain "
                             f"value: numbers, strings, None/True/False, lists, tuples, dicts (or dict(k=v)) and "
                             f"names assigned above; a config file is read, never run") from None
        if not key.startswith("_"):  # _helpers only serve the lines below
            values[key], lines[key] = value, node.lineno
    return values, lines


class _PlainValue(ast.NodeTransformer):
    """``dict(k=v)`` calls become ``{"k": v}`` literals and names assigned earlier their values, so that
    `ast.literal_eval` reads the rest (and refuses anything else: calls, attributes, operators)."""

    def __init__(self, earlier):
        self.earlier = earlier

    def visit_Call(self, node):
        node = self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args and \
                all(k.arg is not None for k in node.keywords):
            return ast.Dict(keys=[ast.Constant(k.arg) for k in node.keywords], values=[k.value for k in node.keywords])
        return node

    def visit_Name(self, node):
        return copy.deepcopy(self.earlier[node.id]) if node.id in self.earlier else node


def _read_run_config(path):
    """A run's ``config.json`` as it is; JSON made the flip label maps' class ids strings, they become ints."""
    try:
        cfg = json.loads(read_text(path, "config file"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: not JSON ({err.msg}); a run's config.json is written by train") \
            from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: a config is a JSON object of keys, got a {type(cfg).__name__}")
    for key in PIPELINES:
        for step in cfg.get(key) or []:
            if isinstance(step, dict) and isinstance(step.get("flip_label_map"), dict):
                step["flip_label_map"] = {int(k): v for k, v in step["flip_label_map"].items()}
    cfg.setdefault("name", path.parent.name if path.name == "config.json" else path.stem)
    return cfg


# -------------------------------------------------------------------------- what a derived config keeps
def _drop_class_settings(cfg, keys):
    """``cfg`` without what names its classes (unless ``keys`` sets it), and what was dropped, for a note. The zoo
    row's facts go without a word: documentation that no run reads (a note on every use of a config that moves a
    row to its own data, the folder dataset's among them, was noise)."""
    cfg, dropped = dict(cfg), []
    for key in CLASS_KEYS:
        if cfg.get(key) is not None and key not in keys:
            value = cfg.pop(key)
            if key != "zoo":
                dropped.append(f"{key} {value!r}")
    for key in PIPELINES:
        maps = [step["flip_label_map"] for step in cfg.get(key) or [] if step.get("flip_label_map")]
        if maps and key not in keys:
            cfg[key] = [dict(step, flip_label_map=None) if step.get("flip_label_map") else step for step in cfg[key]]
            dropped.append(f"Flip's flip_label_map {maps[0]} in {key}")
    return cfg, dropped


def _note(what, dropped):
    if dropped:  # on stderr: `config dump NAME > mine.py` must write the config alone
        flip = any("flip_label_map" in item for item in dropped)
        print(f"note: {what}: dropped {'; '.join(dropped)} (they describe the base's data; set them in the config "
              f"if yours needs them" + (", a flip label map only for classes that are each other's mirror image)"
                                        if flip else ")"), file=sys.stderr)


def for_other_classes(cfg, changed, source):
    """``cfg`` for overrides ``changed`` that give it another ``num_classes``: the label map, the zoo's facts and
    Flip's label maps name the old classes, so they are dropped (unless ``changed`` sets them) with a note."""
    cfg, dropped = _drop_class_settings(cfg, changed)
    _note(f"{source} with num_classes {changed['num_classes']} (not {cfg.get('num_classes')})", dropped)
    return cfg


def for_other_data(base, keys, path, base_name, given=()):
    """The base config ``base`` as a file setting ``keys`` may inherit it (see the module docstring).

    The file points the base at other data when it sets another ``data_root`` or ``num_classes``; it must then
    set every `DATA_KEYS` entry (and the `GENERATED_SIZED` ones of a SynthActions base) - one error lists those
    missing - and ``num_classes`` (itself, or in ``given``: the overrides' keys), as the base's class count would
    silently size the classifier for the wrong data; the base's `CLASS_KEYS`, flip label maps and `LAYOUT_KEYS`
    are dropped with a note.
    """
    moved = [key for key in ("data_root", "num_classes") if key in keys and keys[key] != base.get(key)]
    if not moved:
        return dict(base)
    if "num_classes" not in keys and "num_classes" not in given:
        raise ValueError(f"{path}: data_root moves to new data but num_classes is not set (the base row has "
                         f"{base.get('num_classes')}); set num_classes = {_class_count(keys)}")
    why = f"{path} points {base_name} at other data ({', '.join(f'{k} {keys[k]!r}' for k in moved)})"
    unset = [key for key in DATA_KEYS if key not in keys]
    generated = reads_generated_data(base)
    if generated:
        unset += [key for key in GENERATED_SIZED if key in base and key not in keys]
    if unset:
        raise ValueError(f"{why}, so it must set {', '.join(unset)}: the base's describe "
                         f"{base.get('data_root')}" + (" (its pipelines are sized for SynthActions' generated 160x120 "
                                                       "clips: 48-px frames, 40-px crops)" if generated else ""))
    cfg, dropped = _drop_class_settings(base, keys)
    for key in LAYOUT_KEYS:
        if key in cfg and key not in keys:
            value = cfg.pop(key)
            if keys.get("source") != "video":  # a frame layout means nothing to videos: dropped without a word
                dropped.append(f"{key} {value!r}")
    _note(why, dropped)
    return cfg


def _class_count(keys):
    """What to write after ``num_classes =``: the line count of the file's label map when it can be read."""
    label_map = keys.get("label_map") and Path(keys["data_root"]) / keys["label_map"]
    if label_map and label_map.is_file():
        count = sum(1 for line in read_text_lines(label_map, "label map") if line.strip())
        return f"{count} (the lines of {label_map})"
    return "<lines of your classes.txt>"


# ------------------------------------------------------------------------------------------------- writing
def format_config(cfg, base=None, header=()):
    """``cfg`` as the text of a config file: ``header`` comment lines, ``base = ...`` when given, then every key
    as ``KEY = VALUE`` (a Python literal, long ones over several lines) in the groups of `tsnbook.configs`."""
    lines = [f"# {line}" if line else "#" for line in header]
    if base is not None:
        lines += [f"base = {base!r}"]
    listed = [key for _, keys in _SECTIONS for key in keys]
    sections = list(_SECTIONS) + [("other keys", [key for key in cfg if key not in listed])]
    for title, keys in sections:
        present = [key for key in keys if key in cfg]
        if present:
            lines += ["", f"# {title}"] + [_assignment(key, cfg[key]) for key in present]
    return "\n".join(lines).lstrip("\n") + "\n"


def _assignment(key, value):
    indent = " " * (len(key) + 3)
    text = pprint.pformat(plain(value), width=max(40, 120 - len(indent)), sort_dicts=False)
    return f"{key} = " + text.replace("\n", "\n" + indent)


def write_config(path, cfg, base=None, header=()):
    """Write `format_config`'s text to ``path`` (atomically: a temporary file, then a rename); returns the path."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(format_config(cfg, base, header), encoding="utf-8")
    os.replace(tmp, path)
    return path
