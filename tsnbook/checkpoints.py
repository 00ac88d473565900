"""tsnbook's checkpoint files: read safely, write atomically, load weights with errors that say what to do.

A training checkpoint is a plain dict: ``model`` (state dict), ``optimizer``, ``epoch``, ``best``, ``cfg`` (the
resolved config the run trained with, so a checkpoint rebuilds its own model), ``cfg_name``, ``lists`` (the
digests of its list files), ``world_size`` (its processes: a resume by another number is another run),
``validating`` (whether the run validates and keeps best.pth),
``validation_due`` (saved before its validation ran: a resume validates it first) and, when
the dataset's label map was known, ``classes`` (the class names in label order, so predictions carry names).
Files are read with ``torch.load(weights_only=True)``, which unpickles nothing but tensors and plain containers;
MMAction2's files go through the same reader (`tsnbook.mmaction2`).
"""
import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from .configs import option, stacked_frames
from .configs import plain  # noqa: F401  (a config in a checkpoint: plain values)
from .io import VIDEO_EXTENSIONS


def _numpy_globals():
    """numpy's pickled building blocks (scalars, dtypes, arrays) for torch's weights-only allow-list."""
    core = getattr(np, "_core", None) or np.core
    allowed = [(core.multiarray.scalar, "numpy.core.multiarray.scalar"),
               (core.multiarray.scalar, "numpy._core.multiarray.scalar"),
               (core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
               (core.multiarray._reconstruct, "numpy._core.multiarray._reconstruct"), np.ndarray, np.dtype]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        allowed += [cls for cls in vars(dtypes).values() if isinstance(cls, type) and issubclass(cls, np.dtype)]
    return allowed


def read_checkpoint(path, trusted=False, mapped=False):
    """``torch.load`` a checkpoint without unpickling arbitrary objects (unless ``trusted``).

    ``mapped``: map a zip checkpoint's tensors from the file (``torch.load(mmap=True)``) instead of reading them -
    for a look at its records (its epoch) that should not cost the weights and optimizer in memory; the zip's
    directory and its pickled records are still read and checked, so a truncated file is still refused.

    ``trusted=True`` retries a refused file with numpy's types allow-listed, and each other refused global (the
    mmengine objects of an unpublished 1.x file: ``message_hub``) read as an inert placeholder (`_placeholder`),
    so mmengine need not be installed; only if that fails too is it read with ``weights_only=False`` - which runs
    whatever code the file's pickle names, so pass it only for files from a source you trust.
    """
    if re.match(r"^[a-z][a-z0-9+.-]*://", str(path)):  # Path() would turn https:// into https:/
        raise FileNotFoundError(f"checkpoint {path} is a URL: tsnbook reads local files only; download it (e.g. "
                                f"wget -P checkpoints/ {path}) and give the file")
    path = Path(path)
    if path.is_dir():
        inside = [name for name in ("latest.pth", "best.pth") if (path / name).is_file()]
        raise ValueError(f"checkpoint {path} is a folder, not a checkpoint: give the file" +
                         (f", e.g. {path / inside[0]}" if inside else " (a run's work dir holds latest.pth)"))
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    refusal = _not_a_checkpoint(path)
    if refusal:
        raise RuntimeError(f"{path} {refusal}")
    try:
        return _torch_load(path, weights_only=True, mmap=mapped and zipfile.is_zipfile(path))
    except pickle.UnpicklingError as err:
        if not trusted:
            raise RuntimeError(
                f"{path}: torch.load(weights_only=True) refused the pickled global {_refused_global(err)} - the file "
                f"stores Python objects besides its tensors (typically in 'meta'). Nothing was unpickled. If you "
                f"trust the file, pass trusted=True (CLI: --trusted): numpy types are then allow-listed, and other "
                f"objects read as inert placeholders (weights_only=False only where that fails).") from None
    placeholders = {}
    while len(placeholders) <= MAX_PLACEHOLDERS:
        try:
            state = _torch_load(path, weights_only=True, safe=_numpy_globals() + list(placeholders.values()))
        except pickle.UnpicklingError as err:
            name = _refused_global(err)
            if name in placeholders:
                break
            placeholders[name] = (_placeholder(name), name)
            continue
        except RuntimeError:  # an unreadable file, or a placeholder where the pickle needs the real class (a dict
            if not placeholders:  # subclass filled item by item): only weights_only=False can tell which
                raise
            break
        if placeholders:
            _placeholders_outside_weights(state, path, placeholders)
            print(f"note: {path} pickles {', '.join(placeholders)} besides its tensors; they were read as inert "
                  f"placeholders (no code of theirs ran; only the weights and plain meta are used)")
        return state
    print(f"note: {path} pickles objects its weights-only reading cannot stand in for; trusted=True, so it is read "
          f"with weights_only=False")
    try:
        return _torch_load(path, weights_only=False)
    except ModuleNotFoundError as err:
        raise RuntimeError(f"{path} pickles objects of the module {err.name!r}, which is not installed; load it "
                           f"once where it is and re-save torch.save({{'state_dict': ckpt['state_dict']}})") from None


def _torch_load(path, weights_only, safe=(), mmap=False):
    """``torch.load`` onto the CPU (``safe``: globals allow-listed for it; ``mmap``: tensors mapped from the file,
    a zip checkpoint only). A file torch cannot read - cut short (zip or the legacy format), not a .pth - is a
    RuntimeError that names it; a weights-only refusal of a pickled global stays a pickle.UnpicklingError
    (`_refused_global` names the global)."""
    try:
        with torch.serialization.safe_globals(list(safe)):
            return torch.load(path, map_location="cpu", weights_only=weights_only, mmap=mmap)
    except (RuntimeError, EOFError, KeyError, IndexError) as err:  # not a torch file, truncated; a text file's bytes
        # read as pickle opcodes fail inside torch's weights-only unpickler ("KeyError: 101" for an "e")
        raise RuntimeError(f"{path} is not a readable checkpoint ({type(err).__name__}: {str(err)[:200]}); it may "
                           f"be truncated or not a .pth file") from None
    except pickle.UnpicklingError as err:
        if not weights_only or _refused_global(err) is None:  # not a refusal: bytes no pickle reader can read
            reason = re.search(r"Unpickler error:\s*(.+)", str(err))
            reason = reason.group(1) if reason else str(err).splitlines()[0]
            raise RuntimeError(f"{path} is not a readable checkpoint ({reason[:200]}); it may be truncated or not a "
                               f".pth file") from None
        raise


def _refused_global(err):
    """The global a weights-only ``torch.load`` refused, as ``module.name`` (None when ``err`` is no refusal);
    torch's message names builtins without their module."""
    found = re.search(r"GLOBAL ([\w.]+)", str(err))
    return found and (found.group(1) if "." in found.group(1) else "builtins." + found.group(1))


MAX_PLACEHOLDERS = 64  # distinct refused globals read as placeholders before weights_only=False is tried


def _placeholder(qualified_name):
    """An inert class that a weights-only ``torch.load`` may build in place of the refused global
    ``qualified_name``: a 1.x runner's ``epoch_N.pth`` pickles mmengine objects (``message_hub``'s HistoryBuffer)
    beside its weights, and mmengine need not be installed to read the weights - nor may its code run."""
    def absorb(self, *args, **kwargs):
        self.pickled = (args, kwargs)

    def keep_state(self, state):
        self.state = state
    module, _, name = qualified_name.rpartition(".")
    return type(name, (), dict(__module__=module, __qualname__=name, __init__=absorb, __setstate__=keep_state,
                               __repr__=lambda self: f"<unpickled {qualified_name}>"))


def _placeholders_outside_weights(state, path, placeholders):
    """Refuse a file whose weights themselves came out as placeholders: only what surrounds them may. A bare state
    dict (no ``state_dict`` around it, which MMAction2 reads too) holds its weights beside whatever else it holds."""
    weights = state.get("state_dict", state.get("model")) if isinstance(state, dict) else None
    odd = [key for key, value in (weights.items() if isinstance(weights, dict) else ())
           if not isinstance(value, torch.Tensor)]
    if weights is None and isinstance(state, dict):
        standins = tuple(cls for cls, _ in placeholders.values())
        odd = [key for key, value in state.items() if isinstance(value, standins)]
    if odd:
        raise RuntimeError(f"{path}: its weights {odd[:3]} are objects of {', '.join(placeholders)}, not tensors; "
                           f"load it where that code is installed and re-save its state_dict's tensors")


def _not_a_checkpoint(path):
    """What ``path`` is instead of a checkpoint, when that can be told before torch reads it (else None): a
    TorchScript or ONNX export (tsnbook export), a config file, or a video (predict's arguments swapped) - files
    torch.load would turn into a warning and a pickle error that name neither."""
    if zipfile.is_zipfile(path):  # first: export writes TorchScript as .pt or .ts, and .ts is a video suffix too
        with zipfile.ZipFile(path) as archive:
            entries = [name.split("/", 1)[-1] for name in archive.namelist()]
        if "constants.pkl" in entries or any(entry.startswith("code/") for entry in entries):
            return "is a TorchScript export (tsnbook export), not a training checkpoint; run it with torch.jit.load"
        return None
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        return "is not a checkpoint (a video? the checkpoint comes first: predict CHECKPOINT VIDEO)"
    if path.suffix.lower() == ".onnx":
        return "is an ONNX export (tsnbook export), not a training checkpoint; run it with onnxruntime"
    if path.suffix.lower() in (".py", ".json", ".yaml", ".yml"):
        return ("is a config file, not a checkpoint: give the trained weights (a run's latest.pth or best.pth); "
                "a config goes with --config")
    return None


def save_checkpoint(path, state):
    """``torch.save`` to ``path`` atomically: a temporary file in the same folder, fsync, rename, fsync the folder.

    A crash at any point leaves either the previous file or the new one, never a half-written one; the folder's
    fsync makes the rename itself survive a power cut.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_folder(path.parent)


def fsync_folder(folder):
    """Flush a folder's entries (a rename) to disk; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fit_weights(model, weights, source, strict=True, drop_classifier=False):
    """Load ``weights`` into ``model``; returns ``(missing, unexpected)`` key lists.

    Every mismatch is an error that says what it means: tensors of another shape (another class count, backbone
    or modality), and - with ``strict`` (the default) - keys the model has but the file lacks, or the reverse,
    listed by name: a network that is partly random must not pass for the file's. ``strict=False`` loads what
    fits and prints the rest. ``drop_classifier`` is the one exception made on purpose (``load_from``:
    fine-tuning Kinetics weights on HMDB51): a classifier of another size is dropped with a note and the model
    keeps its fresh one.
    """
    own = model.state_dict()
    mismatched = [k for k, v in weights.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    classifier_only = bool(mismatched) and all(k.startswith("fc.") for k in mismatched)
    if drop_classifier and classifier_only:
        print(f"note: {source}: classifier {tuple(weights['fc.weight'].shape)} does not fit this model's "
              f"{tuple(own['fc.weight'].shape)}; it is dropped and the model's fresh classifier kept")
        weights = {k: v for k, v in weights.items() if not k.startswith("fc.")}
        mismatched = []
    absent = [k for k in own if k not in weights and not (drop_classifier and k.startswith("fc."))]
    keys_differ = _key_difference([k for k in weights if k not in own], absent)
    if mismatched:
        if keys_differ:  # the shapes that differ are a symptom (the classifier's too): the backbone is another
            hint = (f"It was made for another backbone: {keys_differ}. Set the config's backbone to the file's "
                    f"(and check its modality).")
        elif classifier_only:
            classes = weights["fc.weight"].shape[0]
            hint = (f"It was trained for another number of classes ({classes}). To test it, set num_classes = "
                    f"{classes} (CLI: --cfg-options num_classes={classes}). To fine-tune from it, drop the classifier: "
                    f"set load_from to this file (the backbone is loaded, the classifier starts afresh).")
        else:
            hint = ("It was made for another backbone or modality (RGB has 3 input channels, flow 2 x clip_len): "
                    "check the config." + _input_channels(weights, own))
        raise ValueError(f"{source} does not fit this model: " + "; ".join(
            f"{k}: checkpoint {tuple(weights[k].shape)} vs model {tuple(own[k].shape)}" for k in mismatched) +
            ". " + hint)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if not (drop_classifier and k.startswith("fc."))]
    if missing or unexpected:
        listing = (f"{len(missing)} missing key(s)" + (f" {missing[:8]}" if missing else "") +
                   f", {len(unexpected)} unexpected key(s)" + (f" {unexpected[:8]}" if unexpected else ""))
        remedy = ("load_from must fit the config's backbone and modality: set them to the file's (train loads it "
                  "strictly; in Python, tsnbook.factory.load_weights(..., strict=False) loads what fits)"
                  if drop_classifier else
                  "To load what fits anyway, pass strict=False (CLI: --no-strict); the missing tensors then keep "
                  "their initial values")
        if strict:
            raise ValueError(f"{source} does not match this model: {listing}. It is another backbone or "
                             f"architecture ({keys_differ}), or its keys are named differently. {remedy}.")
        print(f"note: {source}: {listing} (strict=False: loaded what fits)")
    return missing, unexpected


def _input_channels(weights, own):
    """What the first convolutions' input channels say (`` The file takes 10 ...``), or "" where they agree: a flow
    file in an RGB config is the commonest mix-up, and a bare (64, 10, 7, 7) does not name it."""
    stem = next((k for k, v in own.items() if k.startswith("backbone.") and v.dim() == 4), None)
    if stem is None or stem not in weights or weights[stem].dim() != 4 or weights[stem].shape[1] == own[stem].shape[1]:
        return ""
    def kind(channels):
        return "rgb" if channels == 3 else f"flow with clip_len {channels // 2}" if channels % 2 == 0 else "?"
    theirs, ours = weights[stem].shape[1], own[stem].shape[1]
    return (f" The file takes {theirs} input channels ({kind(theirs)}), this model {ours} ({kind(ours)}): use a "
            f"config of the file's modality (modality, clip_len).")


def _key_difference(extra, absent):
    """The keys that only one side has, summed up by the blocks they belong to (``backbone.layer3.6``, ...): a
    ResNet-101 file in a ResNet-50 model has 17 blocks more in layer3, which a list of 8 tensor names hides."""
    def blocks(keys):
        names = list(dict.fromkeys(".".join(k.split(".")[:3]) if k.startswith("backbone.") else k.rsplit(".", 1)[0]
                                   for k in keys))
        return ", ".join(names) if len(names) <= 4 else f"{', '.join(names[:3])}, ..., {names[-1]} ({len(names)})"
    parts = ([f"the file has {len(extra)} tensor(s) in blocks this model lacks: {blocks(extra)}"] if extra else []) + \
        ([f"it lacks {len(absent)} of this model's, in {blocks(absent)}"] if absent else [])
    return "; ".join(parts)


def _shapes(cfg):
    """What a TSN's tensor shapes follow, in words: a checkpoint fits a config only when they agree. ``clip_len``
    where it sizes the first conv (flow, RGBDiff), ``num_segments`` where the consensus learns one weight each."""
    frames = stacked_frames(cfg)
    words = f"{cfg.get('num_classes')} classes, {cfg.get('modality')}, {cfg.get('backbone')}"
    if frames > 1:
        words += f", clip_len {frames}"
    if option(cfg, "consensus") == "weighted":
        words += f", weighted consensus of {cfg.get('num_segments')} segments"
    return words


def check_architecture(stored, cfg, path, what_to_do):
    """Refuse a tsnbook checkpoint whose stored config (``stored``; not a dict - None, or only a name - nothing to
    compare) describes another architecture than ``cfg``, naming both: the key lists `fit_weights` would print end
    by offering ``strict=False``, which loads random layers (and ``train`` has no such option)."""
    if not isinstance(stored, dict) or not stored:
        return
    theirs, mine = _shapes(stored), _shapes(cfg)
    if theirs != mine:
        raise ValueError(f"{path} was trained by {stored.get('name')} ({theirs}) but the config given "
                         f"({cfg.get('name')}) describes ({mine}): its weights cannot fit; {what_to_do}")


def load_checkpoint(path, model=None, optimizer=None, strict=True, cfg=None):
    """Load a tsnbook checkpoint into ``model`` / ``optimizer`` (resume) and return the whole checkpoint dict.

    Weights only (no arbitrary unpickling); a truncated file, or one made for another model, raises an error
    that says so and what to do (`fit_weights`; with ``cfg``, the resuming run's config, another architecture is
    named as such: `check_architecture`). To turn any checkpoint into a model, see `tsnbook.load_model`.
    """
    state = read_checkpoint(path)  # weights_only; a truncated file gets a message that says so
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise ValueError(f"{path} is not a tsnbook training checkpoint (a dict with 'model'); an MMAction2 file "
                         f"loads with tsnbook.load_model")
    if model is not None and cfg is not None and strict:
        run = Path(path).parent
        check_architecture(state.get("cfg"), cfg, path, "resume it with the config it was trained with: python -m "
                           f"tsnbook train {run / 'config.json'} --work-dir {run} --resume; or train this config in "
                           "another --work-dir")
    if model is not None:
        fit_weights(model, state["model"], path, strict=strict)
    if optimizer is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    return state
