"""Backbones: an image classification network without its classifier, for TSN to run on every snippet.

Any torchvision classification model by name (``resnet50``, ``densenet161``, ``mobilenet_v3_small``,
...), the mmcls-style ResNeXt variants torchvision lacks (``resnext101_32x4d``: torchvision's ResNet class with
``groups`` and ``width_per_group``), and any timm model as ``"timm/<name>"`` when timm is installed (e.g. the
zoo's ``timm/swin_base_patch4_window7_224``; timm's own pooling gives the token mean after the final LayerNorm,
the feature MMAction2's ``Recognizer2D`` pools).

Pretrained weights: torchvision's or timm's by name, or a state-dict file (`pretrained_source`). A network built
for 3-channel images reads flow or RGB differences after `adapt_first_conv` (TSN's cross-modality
initialisation, `tsnbook.models`).
"""
import re
from pathlib import Path

import torch
import torchvision
from torch import nn


def _first_conv(module):
    """(parent, attribute name, conv) of the first nn.Conv2d in registration order: the stem of any CNN."""
    for name, child in module.named_modules():
        if isinstance(child, nn.Conv2d):
            parent_name, _, attr = name.rpartition(".")
            return module.get_submodule(parent_name) if parent_name else module, attr, child
    raise ValueError(f"{type(module).__name__} has no nn.Conv2d: cannot adapt its input channels")


def _last_linear(module):
    """(parent, attribute name, linear) of the last nn.Linear: the ImageNet classifier of a torchvision model."""
    found = None
    for name, child in module.named_modules():
        if isinstance(child, nn.Linear):
            found = name, child
    if found is None:
        raise ValueError(f"{type(module).__name__} has no nn.Linear classifier to replace")
    parent_name, _, attr = found[0].rpartition(".")
    return module.get_submodule(parent_name) if parent_name else module, attr, found[1]


def adapt_first_conv(backbone, in_channels, mode="average"):
    """Give ``backbone``'s first conv ``in_channels`` inputs (TSN's cross-modality initialisation).

    ``mode="average"``: average the existing filters over their input channels and repeat them
    ``in_channels`` times (tsn-pytorch's ``_construct_flow_model`` and ``_construct_diff_model``).
    ``mode="random"``: a fresh Kaiming init (fan_out, as MMAction2's ConvModule), which is what MMAction2's flow
    ResNet really starts from.
    """
    parent, attr, conv = _first_conv(backbone)
    new = nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, conv.groups, conv.bias is not None)
    with torch.no_grad():
        if mode == "average":
            new.weight.copy_(conv.weight.mean(dim=1, keepdim=True).expand_as(new.weight))
        elif mode == "random":
            nn.init.kaiming_normal_(new.weight, mode="fan_out", nonlinearity="relu")
        else:
            raise ValueError(f"flow_init must be 'average' or 'random', got {mode!r}")
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    setattr(parent, attr, new)
    return backbone


_RESNEXT = re.compile(r"resnext(50|101|152)_(\d+)x(\d+)d$")
_RESNET_LAYERS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}


def _custom_resnext(name):
    """A ResNeXt torchvision does not ship (e.g. mmcls's resnext101_32x4d) from its ResNet class, or None.

    mmcls's ResNeXt has torchvision's layout and key names (conv1/bn1, layerI.J.convK/bnK, downsample.0/.1, stride
    on the 3x3 conv), so torchvision's class with ``groups`` and ``width_per_group`` builds it exactly.
    """
    match = _RESNEXT.match(name)
    if not match:
        return None
    depth, groups, width = (int(g) for g in match.groups())
    block = torchvision.models.resnet.Bottleneck
    return torchvision.models.ResNet(block, _RESNET_LAYERS[depth], groups=groups, width_per_group=width)


def _load_pretrained_file(model, path):
    """Load an ImageNet state-dict file into a backbone; keys of an mmcls/MMAction2 file lose ``backbone.``.

    Strict like every weight loading in tsnbook: a backbone tensor the file lacks, or one of another shape, is an
    error naming it; only the classifier (replaced by TSN's own) may differ.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    if sum(k.startswith("backbone.") for k in state) > len(state) // 2:
        state = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    own = model.state_dict()
    head = {f"{name}.{t}" for name in _classifier_names(model) for t in ("weight", "bias")}
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape and k not in head}
    wrong = sorted(k for k in own if k not in fitting and k not in head)
    extra = sorted(k for k in state if k not in own and k not in head)
    if wrong or extra:
        raise ValueError(f"{path} does not fit the {type(model).__name__} backbone: {len(wrong)} tensor(s) missing "
                         f"or of another shape {wrong[:6]}, {len(extra)} unexpected {extra[:6]}; is it ImageNet "
                         f"weights of this architecture?")
    model.load_state_dict(fitting, strict=False)
    print(f"loaded {path}: {len(fitting)} tensors")


def _classifier_names(model):
    """The module name(s) of a backbone's ImageNet classifier, whose weights a pretrained file may hold and TSN
    replaces: timm names it in the model's ``pretrained_cfg`` (tsnbook builds timm models without it, so it is
    not among the model's own modules); torchvision's is its last Linear."""
    named = (getattr(model, "pretrained_cfg", None) or {}).get("classifier")
    if named:
        return [named] if isinstance(named, str) else list(named)
    parent, attr, _ = _last_linear(model)
    prefix = next(name for name, module in model.named_modules() if module is parent)
    return [f"{prefix}.{attr}".lstrip(".")]


def pretrained_source(pretrained):
    """``(library, weights)`` for a config's ``pretrained``: (None, None) for random init; ("torchvision", enum
    name) for "torchvision" (= IMAGENET1K_V1) or "torchvision:<NAME>"; ("timm", tag or None) for "timm" (timm's
    current default tag: not pinned) or "timm:<tag>"; ("file", path) otherwise.

    "torchvision" means what MMAction2's ``torchvision://resnet50`` loaded: torchvision's original ImageNet weights
    (IMAGENET1K_V1) - not torchvision's "DEFAULT", which is V2 for ResNet-50/101 (a newer recipe: 80.9 % vs
    76.1 % ImageNet top-1) and would start a zoo row from other weights than the zoo's.
    """
    if pretrained is None:
        return None, None
    library, _, weights = str(pretrained).partition(":")
    if library == "torchvision":
        return "torchvision", weights or "IMAGENET1K_V1"
    if library == "timm":
        return "timm", weights or None
    if not Path(pretrained).is_file():  # else torch's bare "No such file or directory: 'imagenet'"
        raise FileNotFoundError(f"pretrained {str(pretrained)!r} is neither 'torchvision:<WEIGHTS>' nor 'timm:<tag>', "
                                f"nor an existing file (a state dict of the backbone's ImageNet weights); None: random "
                                f"init")
    return "file", pretrained


def _timm_backbone(name, pretrained):
    try:
        import timm
    except ImportError:
        raise ValueError(f"backbone 'timm/{name}' needs timm (pip install timm)") from None
    if name not in timm.list_models():
        raise ValueError(f"unknown timm model {name!r} (timm.list_models() lists them)")
    library, tag = pretrained_source(pretrained)
    tag = tag if library == "timm" else None  # a file is loaded after the model is built (build_backbone)
    if library == "torchvision":
        raise ValueError(f"pretrained={pretrained!r} is for torchvision backbones; timm/{name} takes 'timm:<tag>' "
                         f"(one of {', '.join(timm.list_pretrained(name + '.*'))})")
    if library == "timm" and tag and f"{name}.{tag}" not in timm.list_pretrained(name + ".*"):
        raise ValueError(f"timm has no pretrained weights {name}.{tag}; its tags: {timm.list_pretrained(name + '.*')}")
    if library == "timm" and tag is None:
        print(f"note: pretrained='timm' takes timm's current default weights for {name}, which change between timm "
              f"versions; pin them with pretrained='timm:<tag>' ({', '.join(timm.list_pretrained(name + '.*'))})")
    try:  # num_classes=0: timm's own pooling, no classifier -> forward() returns [N, num_features]
        model = timm.create_model(f"{name}.{tag}" if tag else name, num_classes=0, pretrained=library == "timm")
    except Exception as err:
        raise RuntimeError(f"could not load timm's pretrained weights for {name} ({err}). Offline? Put them in the "
                           f"Hugging Face cache, or pass pretrained='path/to/weights.pth'.") from None
    return model, model.num_features


def build_backbone(name, pretrained=None):
    """A classification model without its classifier, and its feature width.

    ``name``: a torchvision model, a ResNeXt "resnext{depth}_{groups}x{width}d", or "timm/<name>".
    ``pretrained`` (`pretrained_source`): None (random init); "torchvision:<WEIGHTS>" (e.g. IMAGENET1K_V1, the
    zoo's), "torchvision" (= IMAGENET1K_V1, what MMAction2's ``torchvision://`` loaded); "timm:<tag>" (e.g.
    "timm:ms_in22k_ft_in1k"); or the path of a state-dict file for that architecture. Weights come from the
    library's cache, else are downloaded.
    """
    library, weights = pretrained_source(pretrained)
    if name.startswith("timm/"):
        model, dim = _timm_backbone(name[len("timm/"):], pretrained)
        if library == "file":
            _load_pretrained_file(model, weights)
        return model, dim
    if library == "timm":
        raise ValueError(f"pretrained={pretrained!r} is for 'timm/<name>' backbones; {name} is a torchvision model "
                         f"(pretrained='torchvision:IMAGENET1K_V1')")
    custom = _custom_resnext(name)
    if custom is None and name not in torchvision.models.list_models(torchvision.models):
        raise ValueError(f"unknown backbone {name!r}; torchvision classification models include "
                         f"resnet18, resnet50, resnet101, resnext50_32x4d, densenet161, mobilenet_v3_small, ...; "
                         f"also resnext101_32x4d and 'timm/<name>'")
    if custom is not None:
        if library == "torchvision":
            raise ValueError(f"torchvision has no ImageNet weights for {name}: pass pretrained='path/to/file.pth' "
                             f"(e.g. mmcls's resnext checkpoint)")
        model = custom
    else:
        if library == "torchvision":
            names = [w.name for w in torchvision.models.get_model_weights(name)]
            if weights not in names:
                raise ValueError(f"torchvision has no weights {weights!r} for {name}; it has {', '.join(names)}")
        try:
            model = torchvision.models.get_model(name, weights=weights if library == "torchvision" else None)
        except Exception as err:  # typically no network: say what to do instead of a urllib traceback
            raise RuntimeError(f"could not load torchvision's ImageNet weights for {name} ({err}). Offline? Put "
                               f"the file in the torch hub cache ({torch.hub.get_dir()}/checkpoints) or pass "
                               f"pretrained='path/to/weights.pth'.") from None
    if library == "file":
        _load_pretrained_file(model, weights)
    parent, attr, fc = _last_linear(model)
    setattr(parent, attr, nn.Identity())
    return model, fc.in_features
