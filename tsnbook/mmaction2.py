"""MMAction2 TSN checkpoints (0.x and 1.x) as tsnbook models: read safely, rename keys, infer the architecture.

    model, report = load_mmaction2_checkpoint("tsn_r50_1x1x3_100e_kinetics400_rgb_20200614-e508be42.pth")

A zoo file is a dict ``{'meta': ..., 'state_dict': ...}`` (mmcv's ``save_checkpoint``, trimmed by MMAction2's
``tools/deployment/publish_model.py``). Its tensors are named after MMAction2's modules; tsnbook's TSN keeps the
backbone's own names under ``backbone.`` and the classifier as ``fc``:

* MMAction2's ResNet wraps every conv+BN in an mmcv ConvModule, so its names carry a ``.conv`` / ``.bn`` level
  (``layer1.0.conv2.bn.weight``, ``mmaction/models/backbones/resnet.py``); they map onto torchvision's ResNet
  names (``layer1.0.bn2.weight``);
* torchvision backbones (DenseNet: ``backbone.features.*``), timm backbones (Swin) and mmcls's ResNeXt already
  use the names of the module tsnbook builds, so they keep them;
* ``cls_head.fc_cls`` becomes ``fc``; 1.x's ``data_preprocessor.mean/std`` are dropped (tsnbook's TSN
  normalises with the same constants, as non-persistent buffers; other values are named in a note);
* DataParallel's ``module.`` prefix is stripped, as MMAction2's ``load_checkpoint`` strips it.

A file's stored config that names another recognizer (TSM, TIN, I3D, ...) is refused: TSM's ResNet has exactly
TSN's tensors, so its weights would load into a TSN and score without the temporal shifts they were trained with.

The architecture comes from the weights themselves: ResNet depth from the block counts, Basic vs Bottleneck
blocks, ResNeXt groups from the 3x3 conv's shape, DenseNet variant from its layer counts, flow (with clip_len)
from a first conv with 10 input channels, the class count from the classifier. A timm backbone's name cannot be
read off its tensors: it comes from the config text stored in ``meta`` (``timm.<name>``) or the ``backbone``
argument.

Files are read with ``torch.load(weights_only=True)``, which unpickles nothing but tensors and plain containers.
Some files also pickle Python objects in ``meta`` (numpy scalars, mmengine types); those are refused with an error
that names the refused global, and read only when the caller passes ``trusted=True``.
"""
import re
from pathlib import Path

import torch
import torchvision

from .checkpoints import fit_weights, read_checkpoint
from .models import TSN

_RESNET_DEPTHS = {("basic", (2, 2, 2, 2)): 18, ("basic", (3, 4, 6, 3)): 34, ("bottleneck", (3, 4, 6, 3)): 50,
                  ("bottleneck", (3, 4, 23, 3)): 101, ("bottleneck", (3, 8, 36, 3)): 152}
_DENSENETS = {(6, 12, 24, 16): "densenet121", (6, 12, 36, 24): "densenet161", (6, 12, 32, 32): "densenet169",
              (6, 12, 48, 32): "densenet201"}


def is_mmaction2_checkpoint(state):
    """True for an MMAction2 file (``state_dict`` with ``backbone.``/``cls_head.`` keys, or such a bare dict; the
    keys may carry DataParallel's ``module.`` prefix)."""
    weights = state.get("state_dict", state) if isinstance(state, dict) else {}
    return isinstance(weights, dict) and any(_unwrapped(str(k)).startswith(("backbone.", "cls_head."))
                                             for k in weights)


def _unwrapped(key):
    """A key without the ``module.`` that (Distributed)DataParallel puts before every name of a model saved
    through it; MMAction2's load_checkpoint strips it the same way (``revise_keys=[(r'^module\.', '')]``)."""
    return key[len("module."):] if key.startswith("module.") else key


# ------------------------------------------------------------------------------------------------ key names
_CONVMODULE = re.compile(r"^backbone\.(?P<block>layer\d+\.\d+\.)?(?P<name>conv\d|downsample)\.(?P<part>conv|bn)\."
                         r"(?P<tensor>\w+)$")


def _rename(key):
    """One MMAction2 key -> tsnbook's name (None to drop it); tests/test_checkpoints.py pins the ConvModule ResNet's
    renaming rules."""
    if key.startswith("data_preprocessor."):
        return None
    if key.startswith("cls_head.fc_cls."):
        return "fc." + key[len("cls_head.fc_cls."):]
    match = _CONVMODULE.match(key)
    if not match:
        return key  # torchvision / timm / mmcls backbones: already the names tsnbook's backbone uses
    block, name, part, tensor = (match.group(g) for g in ("block", "name", "part", "tensor"))
    block = block or ""
    if name == "downsample":
        return f"backbone.{block}downsample.{0 if part == 'conv' else 1}.{tensor}"
    if part == "conv":
        return f"backbone.{block}{name}.{tensor}"
    return f"backbone.{block}{name.replace('conv', 'bn')}.{tensor}"


def mmaction2_to_tsnbook(state_dict):
    """``(renamed state dict, dropped keys)``: MMAction2 TSN keys renamed to tsnbook's TSN keys."""
    renamed, dropped = {}, []
    for key, value in state_dict.items():
        new = _rename(_unwrapped(key))
        if new is None:
            dropped.append(key)
        else:
            renamed[new] = value
    return renamed, dropped


_TORCHVISION_RESNET = re.compile(r"^backbone\.(?P<block>layer\d+\.\d+\.)?(?P<name>conv\d|bn\d|downsample\.[01])\."
                                 r"(?P<tensor>\w+)$")


def tsnbook_to_mmaction2(state_dict):
    """The inverse renaming: a tsnbook TSN state dict with MMAction2's key names (ResNet backbones as their
    ConvModules name them; other backbones keep their names under ``backbone.``; ``fc`` becomes ``cls_head.fc_cls``)."""
    renamed = {}
    for key, value in state_dict.items():
        match = _TORCHVISION_RESNET.match(key)
        if key.startswith("fc."):
            key = "cls_head.fc_cls." + key[len("fc."):]
        elif match:
            block, name, tensor = match.group("block") or "", match.group("name"), match.group("tensor")
            if name.startswith("downsample."):
                key = f"backbone.{block}downsample.{'conv' if name.endswith('0') else 'bn'}.{tensor}"
            elif name.startswith("conv"):
                key = f"backbone.{block}{name}.conv.{tensor}"
            else:
                key = f"backbone.{block}{name.replace('bn', 'conv')}.bn.{tensor}"
        renamed[key] = value
    return renamed


def export_mmaction2_checkpoint(model, path, meta=None):
    """Save a tsnbook TSN as an MMAction2-style checkpoint ``{'meta': ..., 'state_dict': ...}``.

    Useful to hand a model to MMAction2 tools, and to make an MMAction2-format file offline (notebook 03, tests).
    Only torchvision ResNet backbones (MMAction2's ResNet, in its ConvModule names) are exported; other backbones
    and rgbdiff or non-average consensus are refused. The file holds tensors only.
    """
    if not isinstance(model.backbone, torchvision.models.ResNet):
        kind = type(model.backbone)
        raise ValueError(f"export_mmaction2_checkpoint: MMAction2 key names are defined for torchvision's ResNet "
                         f"backbones, not {kind.__module__}.{kind.__qualname__} ({model.backbone_name})")
    if model.modality == "rgbdiff" or model.consensus.kind != "avg":
        raise ValueError(f"export_mmaction2_checkpoint: MMAction2's TSN has RGB and flow inputs and the average "
                         f"consensus only, not {model.modality} with {model.consensus.kind} consensus")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"meta": dict(meta or {}, exported_by="tsnbook"), "state_dict": tsnbook_to_mmaction2(state)}, path)
    return Path(path)


# ------------------------------------------------------------------------------------------------ architecture
def _config_text(meta):
    text = (meta or {}).get("config") or (meta or {}).get("cfg") or ""
    return text if isinstance(text, str) else str(text)


def segments_from_config(text):
    """The training ``num_clips`` of SampleFrames in a config text (TSN's num_segments), or None."""
    start = text.find("train_pipeline")
    found = re.search(r"num_clips\s*=\s*(\d+)", text[start:]) if start >= 0 else None
    return int(found.group(1)) if found else None


def infer_architecture(weights, config_text="", backbone=None):
    """``dict(backbone, modality, clip_len, num_classes)`` read off renamed weights (`mmaction2_to_tsnbook`)."""
    if "fc.weight" not in weights:
        raise ValueError("the checkpoint has no classifier (cls_head.fc_cls.weight): is it a TSN recognizer?")
    convs = [v for k, v in weights.items() if k.startswith("backbone.") and v.dim() == 4]
    if not convs:
        raise ValueError("the checkpoint has no backbone convolution weights (backbone.*)")
    in_channels = convs[0].shape[1]  # the stem comes first in state-dict order
    arch = dict(num_classes=weights["fc.weight"].shape[0], modality="rgb" if in_channels == 3 else "flow",
                clip_len=1 if in_channels == 3 else in_channels // 2)
    if backbone:
        return dict(arch, backbone=backbone)
    if "backbone.layer1.0.conv1.weight" in weights:  # ResNet / ResNeXt (MMAction2 after renaming, mmcls, torchvision)
        blocks = tuple(len({k.split(".")[2] for k in weights if k.startswith(f"backbone.layer{i}.")})
                       for i in range(1, 5))
        kind = "bottleneck" if "backbone.layer1.0.conv3.weight" in weights else "basic"
        if (kind, blocks) not in _RESNET_DEPTHS:
            raise ValueError(f"unknown ResNet layout: {kind} blocks {blocks}; pass backbone='...'")
        depth = _RESNET_DEPTHS[kind, blocks]
        conv2 = weights["backbone.layer1.0.conv2.weight"]
        groups = conv2.shape[0] // conv2.shape[1]
        if groups > 1:
            return dict(arch, backbone=f"resnext{depth}_{groups}x{conv2.shape[1]}d")
        if kind == "bottleneck" and conv2.shape[0] != 64:
            return dict(arch, backbone=f"wide_resnet{depth}_{conv2.shape[0] // 64}")
        return dict(arch, backbone=f"resnet{depth}")
    if "backbone.features.conv0.weight" in weights:  # torchvision DenseNet
        layers = tuple(len({k.split(".")[3] for k in weights if k.startswith(f"backbone.features.denseblock{i}.")})
                       for i in range(1, 5))
        if layers not in _DENSENETS:
            raise ValueError(f"unknown DenseNet layout {layers}; pass backbone='...'")
        return dict(arch, backbone=_DENSENETS[layers])
    named = re.search(r"timm\.([A-Za-z0-9_.]+)'", config_text) or re.search(r"torchvision\.(\w+)'", config_text)
    if named:
        prefix = "timm/" if named.group(0).startswith("timm") else ""
        return dict(arch, backbone=prefix + named.group(1))
    raise ValueError("cannot tell the backbone from the weights, and the checkpoint's meta has no config naming "
                     "it: pass backbone='timm/<name>' or a torchvision model name")


# ------------------------------------------------------------------------------------------------ loading
def _timm_filter(model, weights):
    """Weights of an older timm layout through timm's own checkpoint filter, when that fits the model better.

    0.x-era Swin files keep ``relative_position_index`` / ``attn_mask`` buffers and put each ``downsample`` at the
    end of a stage; timm >= 0.9 moved it to the start of the next one. The model's module-level
    ``checkpoint_filter_fn`` converts; it is used only if it reduces the number of keys that do not match.
    """
    import sys
    backbone = model.backbone
    filter_fn = getattr(sys.modules.get(type(backbone).__module__), "checkpoint_filter_fn", None)
    inner = {k[len("backbone."):]: v for k, v in weights.items() if k.startswith("backbone.")}
    own = set(backbone.state_dict())
    if filter_fn is None or set(inner) == own:
        return weights
    try:
        filtered = filter_fn(dict(inner), backbone)
    except Exception:  # the filter expects another layout: keep the names as they are
        return weights
    if len(set(filtered) ^ own) >= len(set(inner) ^ own):
        return weights
    print(f"note: converted the timm weights from an older layout with timm's {type(backbone).__name__} filter")
    return {**{k: v for k, v in weights.items() if not k.startswith("backbone.")},
            **{"backbone." + k: v for k, v in filtered.items()}}


_OTHER_RECOGNIZERS = re.compile(r"""type\s*=\s*['"](\w+Head|ResNet(?:TSM|TIN|3d\w*)|\w+3D\w*)['"]""")


def _check_recognizer(config_text, path, strict):
    """Refuse a file whose stored config names another recognizer's head or backbone (TSM, TIN, TPN, I3D, ...):
    TSM's ResNet has exactly TSN's tensors - its temporal shift has none - so the weights alone would load into a
    TSN and score without the shifts they were trained with. A config naming TSNHead (or none) passes."""
    found = list(dict.fromkeys(_OTHER_RECOGNIZERS.findall(config_text)))
    others = [name for name in found if name != "TSNHead"]
    if not others or "TSNHead" in found:
        return
    message = (f"{path} is a {' / '.join(others)} recognizer (its meta's config), not a TSN: tsnbook's TSN would "
               f"score its weights without what that model does between them")
    if strict:
        raise ValueError(message + "; strict=False (CLI: --no-strict) loads the weights into a TSN anyway")
    print(f"note: {message} (strict=False: loaded anyway)")


def _configured_normalisation(config_text):
    """``{"mean": tensor, "std": tensor}`` that the ``data_preprocessor=dict(...)`` of a 1.x config text gives (the
    parts it names): MMAction2 1.2 keeps them in non-persistent buffers, so its own checkpoints hold them only there."""
    opening = re.search(r"\bdata_preprocessor\s*=\s*dict\(", config_text)  # in model=dict(...), or a top-level name
    if not opening:
        return {}
    start = end = opening.start()
    depth = 0
    for end in range(opening.end() - 1, len(config_text)):  # to the dict's closing bracket
        depth += {"(": 1, ")": -1}.get(config_text[end], 0)
        if depth == 0:
            break
    block = config_text[start:end]
    found = {part: re.search(rf"\b{part}\s*=\s*[\[(]([-+.\d\s,e]+)[\])](?!\s*[*+])", block) for part in ("mean", "std")}
    return {part: torch.tensor([float(v) for v in match.group(1).split(",") if v.strip()])
            for part, match in found.items() if match}  # numbers only: an expression is no value to compare


def _check_normalisation(state_dict, model, path, config_text=""):
    """Name a 1.x file's ``data_preprocessor.mean/std`` that differ from the constants tsnbook's TSN normalises its
    input with (a printed note; the differing values, else None): those tensors are dropped, and weights trained
    on inputs normalised otherwise score wrongly. They are read from the state dict where it holds them, else from
    the stored config. A shorter vector (a flow mean per x, y) is compared repeated."""
    found = {part: state_dict[key] for key in state_dict for part in ("mean", "std")
             if _unwrapped(str(key)) == f"data_preprocessor.{part}"}
    found = {**_configured_normalisation(config_text), **found}
    ours = {"mean": model.mean.flatten(), "std": model.std.flatten()}
    theirs = {part: value.flatten().float().repeat(len(ours[part]))[:len(ours[part])] for part, value in found.items()}
    if all(torch.allclose(theirs[part], ours[part], atol=1e-3) for part in theirs):
        return None
    differing = {part: [round(float(v), 3) for v in found[part].flatten()] for part in ("mean", "std") if part in found}
    print(f"note: {path}: its data_preprocessor normalises with " +
          " ".join(f"{part} {values}" for part, values in differing.items()) +
          f", but tsnbook's {model.modality} TSN uses mean {[round(float(v), 3) for v in ours['mean']]} std "
          f"{[round(float(v), 3) for v in ours['std']]}: its weights expect other inputs and will score wrongly")
    return differing


def check_mmaction2_file(state, model, path, strict=True):
    """The checks the weights alone cannot make, for an MMAction2 file read into ``model`` (by
    `load_mmaction2_checkpoint`, or into a config's model): another recognizer in its stored config (an error
    unless ``strict`` is off), a 1.x data_preprocessor that normalises otherwise (a note). Returns the differing
    normalisation, or None."""
    config_text = _config_text(state.get("meta") if isinstance(state.get("meta"), dict) else {})
    _check_recognizer(config_text, path, strict)
    return _check_normalisation(state.get("state_dict", state), model, path, config_text)


def load_mmaction2_checkpoint(path, num_segments=None, backbone=None, trusted=False, strict=True, **tsn_options):
    """A tsnbook TSN with the weights of an MMAction2 (0.x or 1.x) TSN checkpoint, and a report dict.

    ``num_segments``: TSN's training segment count (only training uses it; every test view is averaged anyway);
    None reads it from the config text in the file's meta, else 3. ``backbone`` overrides the inferred
    architecture (needed for timm models when meta has no config). ``tsn_options`` go to `TSN` (dropout,
    densenet_relu, multi_label, ...). The report lists the inferred architecture, the file's format, the
    dropped, missing and unexpected keys, and ``other_normalisation`` (a 1.x data_preprocessor's mean/std where
    they differ from tsnbook's, else None; `check_mmaction2_file`). Missing or unexpected keys are an error that
    lists them (a partly random network must not pass for the released one), and so is a stored config of another
    recognizer (TSM's weights fit a TSN exactly); ``strict=False`` loads what fits and prints them.
    The model is in eval mode.
    """
    state = read_checkpoint(path, trusted)
    if not is_mmaction2_checkpoint(state):
        raise ValueError(f"{path} is not an MMAction2 recognizer checkpoint (no 'state_dict' with backbone./cls_head. "
                         f"keys); a tsnbook checkpoint loads with tsnbook.load_model")
    meta = state.get("meta") if isinstance(state.get("meta"), dict) else {}
    version = ("1.x" if "mmengine_version" in meta or "cfg" in meta else
               "0.x" if "mmcv_version" in meta or "config" in meta else "bare state dict" if "state_dict" not in state
               else "unknown")
    weights, dropped = mmaction2_to_tsnbook(state.get("state_dict", state))
    text = _config_text(meta)
    arch = infer_architecture(weights, text, backbone)
    from_config = segments_from_config(text)
    segments = num_segments or from_config or 3
    source = "argument" if num_segments else "meta config" if from_config else "default"
    model = TSN(arch["backbone"], arch["num_classes"], segments, arch["modality"], clip_len=arch["clip_len"],
                pretrained=None, **tsn_options)
    normalisation = check_mmaction2_file(state, model, path, strict)
    if arch["backbone"].startswith("timm/"):
        weights = _timm_filter(model, weights)
    missing, unexpected = fit_weights(model, weights, path, strict=strict)
    report = dict(arch, num_segments=segments, num_segments_from=source, format=version, dropped=dropped,
                  missing=missing, unexpected=unexpected, other_normalisation=normalisation)
    return model.eval(), report
