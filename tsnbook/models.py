"""The Temporal Segment Network (Wang et al., ECCV 2016) on any torchvision backbone.

TSN's idea fits in one line: run a 2-D image network on a few snippets spread over the whole video and average
(the "segmental consensus"). Here the snippets are folded into the batch, ``[B, V, C, H, W] -> [B*V, C, H, W]``,
the backbone gives one feature vector per snippet, and the consensus is a mean over V *of the pooled features*,
before the classifier - MMAction2's TSNHead order (spec §6.1). Because the classifier is linear this equals
averaging the snippets' logits, up to float rounding, and it is what makes 'prob' scores match MMAction2.

The model takes **uint8 frames** (values 0..255, as the data pipeline delivers them) and normalises them itself,
as MMAction2 1.x's data preprocessor does: RGB with the ImageNet mean/std, flow with mean = std = 128 (zero
motion is stored as 127.5, an MMAction2 quirk kept on purpose). This way the loaders ship compact uint8
tensors and normalisation runs wherever the model runs, on the GPU when there is one.

Flow input has ``2 * clip_len`` channels (x/y pairs of 5 consecutive flow frames = 10). RGB difference
(``modality="rgbdiff"``, TSN paper §3.2, tsn-pytorch's RGBDiff) reads ``clip_len + 1`` consecutive RGB frames
stacked in the channels (FormatShape's NCHW_Stack) and feeds the network their ``clip_len`` differences
(`rgb_difference`, ``3 * clip_len`` channels): a cheap stand-in for flow. They are taken here, on float frames:
the loader keeps shipping uint8 frames (a uint8 difference would wrap), the RGB crops and flips apply unchanged,
and the mean cancels in a difference - so rgbdiff is normalised with mean 0 and the ImageNet std, and a still
video gives an all-zero input. The first conv of flow and rgbdiff is built by TSN's *cross-modality
initialisation*: the RGB filters averaged over their 3 input channels and repeated, so ImageNet features still
fire on flow and difference images. (MMAction2's 2-D ResNet does not do this - its 10-channel conv1 keeps a
random init; ``flow_init="random"`` reproduces that.) The consensus ("avg", MMAction2's only one, "max",
"weighted") is `tsnbook.consensus`, which says why avg and weighted pool features and max pools class scores.

Backbones: any torchvision classification model by name (``resnet50``, ``densenet161``, ``mobilenet_v3_small``,
...), the mmcls-style ResNeXt variants torchvision lacks (``resnext101_32x4d``: torchvision's ResNet class with
``groups`` and ``width_per_group``), and any timm model as ``"timm/<name>"`` when timm is installed (e.g. the
zoo's ``timm/swin_base_patch4_window7_224``; timm's own pooling gives the token mean after the final LayerNorm,
spec §6.1). `build_model(cfg)` turns a config dict into a TSN (and loads ``load_from``).
"""
import contextlib
import re

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from .consensus import SegmentalConsensus

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # RGB, in 0..255 units (spec §4.6)
IMAGENET_STD = (58.395, 57.12, 57.375)
FLOW_MEAN, FLOW_STD = 128.0, 128.0
#: modality -> (mean, std) of one frame's channels (flow: x, y; rgbdiff: a difference of two RGB frames)
NORMALISATION = {"rgb": (IMAGENET_MEAN, IMAGENET_STD), "flow": ((FLOW_MEAN,) * 2, (FLOW_STD,) * 2),
                 "rgbdiff": ((0.0,) * 3, IMAGENET_STD)}
MULTI_LABEL_PROBS = ("softmax", "sigmoid")  # a multi-label model's "prob": MMAction2's softmax, or per class


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
    parent, attr, _ = _last_linear(model)
    prefix = next(name for name, module in model.named_modules() if module is parent)
    head = {f"{prefix}.{attr}.{t}".lstrip(".") for t in ("weight", "bias")}
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape and k not in head}
    wrong = sorted(k for k in own if k not in fitting and k not in head)
    extra = sorted(k for k in state if k not in own and k not in head)
    if wrong or extra:
        raise ValueError(f"{path} does not fit the {type(model).__name__} backbone: {len(wrong)} tensor(s) missing "
                         f"or of another shape {wrong[:6]}, {len(extra)} unexpected {extra[:6]}; is it ImageNet "
                         f"weights of this architecture?")
    model.load_state_dict(fitting, strict=False)
    print(f"loaded {path}: {len(fitting)} tensors")


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
    return "file", pretrained


def _timm_backbone(name, pretrained):
    try:
        import timm
    except ImportError:
        raise ValueError(f"backbone 'timm/{name}' needs timm (pip install timm)") from None
    if name not in timm.list_models():
        raise ValueError(f"unknown timm model {name!r} (timm.list_models() lists them)")
    library, tag = pretrained_source(pretrained)
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


class TSN(nn.Module):
    """TSN: a 2-D backbone applied to every snippet, a segmental consensus, dropout, one linear classifier.

    Input ``x``: uint8 (or float in 0..255 units) ``[B, V, C, H, W]`` with V snippets (segments x crops at test
    time), C = 3 for RGB, 2 * clip_len for flow, 3 * (clip_len + 1) for rgbdiff. Output: logits
    ``[B, num_classes]``. ``consensus`` (`tsnbook.consensus`): "avg" (MMAction2's), "max" or "weighted".

    ``partial_bn``: TSN's partial BatchNorm - in training, every BN layer but the first is frozen (running
    statistics and affine parameters), which regularises fine-tuning on small datasets. ``norm_eval``:
    MMAction2's option that keeps every BN's running statistics frozen (affine parameters still train).
    ``frozen_stages=k`` (ResNet-style backbones): the stem (conv1, bn1) and layer1..k stay in eval mode without
    gradients, re-applied on every ``train()`` as in MMAction2 (-1: nothing frozen).
    ``densenet_relu``: MMAction2 runs a torchvision DenseNet through ``.features``, which lacks the final ReLU
    that torchvision's own forward applies (spec §9 quirk 13). False (default) reproduces MMAction2 - the zoo's
    densenet161 checkpoint was trained that way; True gives torchvision's behaviour.
    ``multi_label``: the classes are not exclusive (MMiT, HVU). ``multi_label_prob``: how `class_scores` turns
    such a model's logits into "prob" scores - "softmax" (default), MMAction2's quirk: its ``average_clip``
    (0.x and 1.x alike) takes a softmax over the classes even for multi-label heads, although they are trained
    with a per-class sigmoid (BCE), so the classes' probabilities compete and sum to 1; "sigmoid" gives each
    class its own probability, the one the BCE loss trained. Single-label models ignore it.
    """

    def __init__(self, backbone="resnet50", num_classes=400, num_segments=3, modality="rgb", clip_len=5,
                 dropout=0.4, init_std=0.01, partial_bn=False, norm_eval=False, pretrained=None,
                 flow_init="average", frozen_stages=-1, densenet_relu=False, multi_label=False,
                 multi_label_prob="softmax", consensus="avg"):
        super().__init__()
        if modality not in NORMALISATION:
            raise ValueError(f"modality must be 'rgb', 'flow' or 'rgbdiff', got {modality!r}")
        if multi_label_prob not in MULTI_LABEL_PROBS:
            raise ValueError(f"multi_label_prob must be 'softmax' (MMAction2) or 'sigmoid', got {multi_label_prob!r}")
        self.multi_label_prob = multi_label_prob
        self.num_classes, self.num_segments, self.modality = num_classes, num_segments, modality
        self.partial_bn, self.norm_eval, self.frozen_stages = partial_bn, norm_eval, frozen_stages
        self.multi_label, self.backbone_name = multi_label, backbone
        self.channels_last = False
        self.backbone, self.feature_dim = build_backbone(backbone, pretrained)
        self.densenet_quirk = isinstance(self.backbone, torchvision.models.DenseNet) and not densenet_relu
        if frozen_stages >= 0:
            self._frozen_modules()  # fail now, not at the first train()
        mean, std = NORMALISATION[modality]
        stacked = 1 if modality == "rgb" else clip_len  # flow fields or frame differences per snippet
        conv_channels = len(mean) * stacked
        self.in_channels = conv_channels + (3 if modality == "rgbdiff" else 0)  # rgbdiff: clip_len + 1 frames in
        if modality != "rgb":
            adapt_first_conv(self.backbone, conv_channels, flow_init)
        # Flow channels alternate x, y; mean/std are per channel, repeated to the channel count.
        self.register_buffer("mean", torch.tensor(mean * stacked).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std * stacked).view(1, -1, 1, 1), persistent=False)
        self.consensus = SegmentalConsensus(consensus, num_segments)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.feature_dim, num_classes)
        nn.init.normal_(self.fc.weight, 0, init_std)
        nn.init.zeros_(self.fc.bias)
        if frozen_stages >= 0:
            self.train()  # frozen from the start, not only after the first train()

    def _frozen_modules(self):
        """The modules ``frozen_stages`` freezes: conv1, bn1, layer1..k (ResNet naming: torchvision, timm)."""
        names = ["conv1", "bn1"] + [f"layer{i}" for i in range(1, self.frozen_stages + 1)]
        missing = [n for n in names if not hasattr(self.backbone, n)]
        if missing:
            raise ValueError(f"frozen_stages={self.frozen_stages} needs a ResNet-style backbone (conv1, bn1, "
                             f"layer1..4); {self.backbone_name} has no {', '.join(missing)}. Use frozen_stages=-1.")
        return [getattr(self.backbone, n) for n in names]

    def backbone_features(self, x):
        """Pooled features of a batch of images ``[N, C, H, W] -> [N, feature_dim]``."""
        if self.densenet_quirk:  # MMAction2: .features (no final ReLU), then average pooling
            return F.adaptive_avg_pool2d(self.backbone.features(x), 1).flatten(1)
        return self.backbone(x)  # torchvision's / timm's own global average pooling

    def snippet_features(self, x):
        """Pooled features of every snippet: ``[B, V, C, H, W] -> [B, V, feature_dim]``."""
        if x.dim() != 5 or x.shape[2] != self.in_channels:
            hint = ""
            if x.dim() == 5 and self.modality == "flow" and x.shape[2] == 3:
                hint = (": these are RGB frames, and a flow model reads stacks of optical flow - give "
                        "tsnbook.predict_video the video's path (its flow is computed) or a FlowFrames reader")
            elif x.dim() == 5 and self.modality == "rgb" and x.shape[2] != 3:
                hint = ": an RGB model reads 3-channel frames, not optical flow"
            elif x.dim() == 5 and self.modality == "rgbdiff":
                hint = ": an rgbdiff model reads clip_len + 1 RGB frames stacked (FormatShape NCHW_Stack)"
            raise ValueError(f"TSN({self.modality}) expects input [B, V, {self.in_channels}, H, W], "
                             f"got {tuple(x.shape)}{hint}")
        batch, views = x.shape[:2]
        x = x.flatten(0, 1).float()
        if self.modality == "rgbdiff":
            x = rgb_difference(x)
        x = (x - self.mean) / self.std
        if self.channels_last:  # set by the engine on CUDA, where NHWC convolutions are faster
            x = x.contiguous(memory_format=torch.channels_last)
        return self.backbone_features(x).view(batch, views, -1)  # [B, V, D]

    def features(self, x):
        """The consensus of the snippet features: ``[B, V, C, H, W] -> [B, feature_dim]`` (avg, weighted)."""
        if self.consensus.on_scores:
            raise ValueError("a max-consensus TSN pools class scores, not features: use snippet_features")
        return self.consensus(self.snippet_features(x))

    def forward(self, x):
        if self.consensus.on_scores:  # max: the classifier on every snippet, then each class's best score
            return self.consensus(self.fc(self.dropout(self.snippet_features(x))))
        return self.fc(self.dropout(self.features(x)))

    @torch.no_grad()
    def score_views(self, views, average_clips=None, views_per_chunk=64, autocast=None, num_clips=None):
        """One video's scores from all its test views ``[V, C, H, W]``: a numpy vector [num_classes].

        The views go through the backbone in chunks (250 views of a 25x10 test need not fit at once). Average
        consensus: the pooled features are summed in float64 and averaged over all V before the classifier runs
        once - MMAction2's TSNHead order (spec §6.1), so "prob" is the softmax of the averaged logits. "max" and
        "weighted" run over the clips of each crop, ``num_clips`` of them (None: all V views are clips of one
        crop), and average over the crops (`tsnbook.consensus`). ``autocast``: a callable returning the context
        for each chunk's forward (the engine's bf16 on CUDA). The model is put in eval mode.
        """
        self.eval()
        device = next(self.parameters()).device
        views = torch.as_tensor(views)
        feature_sum, per_view = 0, []
        for chunk in views.split(views_per_chunk):
            with autocast() if autocast else contextlib.nullcontext():
                # non_blocking: a pinned chunk (the evaluation loader pins on CUDA) is copied asynchronously
                snippets = chunk[None].to(device, non_blocking=True)
                if self.consensus.kind == "avg":  # a running sum: the views' features need not be kept
                    feature_sum = feature_sum + self.features(snippets).double() * len(chunk)
                else:
                    per_view.append(self.snippet_features(snippets)[0].double())
        if self.consensus.kind == "avg":
            logits = self.fc((feature_sum / len(views)).float())
        elif self.consensus.on_scores:
            logits = self.consensus.pool_view_scores(self.fc(torch.cat(per_view).float()), num_clips)[None]
        else:
            weights = self.consensus.view_weights(len(views), num_clips).to(device)
            logits = self.fc((torch.cat(per_view) * weights[:, None]).sum(dim=0, keepdim=True).float())
        return self.class_scores(logits, average_clips)[0].cpu().numpy()

    def class_scores(self, logits, mode="prob"):
        """Logits -> scores: ``"prob"`` = softmax, ``"score"``/None = logits.

        A multi-label model's "prob" is a softmax too, as MMAction2 computes it (a quirk, see the class
        docstring); with ``multi_label_prob="sigmoid"`` it is the per-class sigmoid.
        """
        if mode == "prob" and self.multi_label and self.multi_label_prob == "sigmoid":
            return torch.sigmoid(logits)
        return average_clips(logits, mode)

    def train(self, mode=True):
        super().train(mode)
        if mode and (self.partial_bn or self.norm_eval):
            bns = [m for m in self.backbone.modules() if isinstance(m, (nn.BatchNorm2d, nn.SyncBatchNorm))]
            for i, bn in enumerate(bns):
                if self.norm_eval or i > 0:  # partial BN keeps the first BN (after conv1) training
                    bn.eval()
                    if self.partial_bn and i > 0:
                        bn.weight.requires_grad_(False)
                        bn.bias.requires_grad_(False)
        if self.frozen_stages >= 0:
            for module in self._frozen_modules():
                module.eval()
                for param in module.parameters():
                    param.requires_grad_(False)
        return self


def rgb_difference(x):
    """RGB-difference snippets: ``[N, 3 (L + 1), H, W]`` stacked frames -> ``[N, 3 L, H, W]``, each frame minus
    the one before it (channels: frame 1 - frame 0 in R, G, B, then frame 2 - frame 1, ...)."""
    frames = x.view(len(x), -1, 3, *x.shape[2:])
    return (frames[:, 1:] - frames[:, :-1]).flatten(1, 2)


def average_clips(logits, mode=None):
    """MMAction2's test-time score of a video: None = raw logits (the 0.x zoo), 'prob' = softmax, 'score' = logits."""
    if mode == "prob":
        return F.softmax(logits, dim=-1)
    if mode in (None, "score"):
        return logits
    raise ValueError(f"average_clips must be None, 'score' or 'prob', got {mode!r}")
