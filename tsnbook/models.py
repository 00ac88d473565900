"""The Temporal Segment Network (Wang et al., ECCV 2016) on any torchvision backbone.

TSN's idea fits in one line: run a 2-D image network on a few snippets spread over the whole video and average
(the "segmental consensus"). Here the snippets are folded into the batch, ``[B, V, C, H, W] -> [B*V, C, H, W]``,
the backbone gives one feature vector per snippet, and the consensus is a mean over V *of the pooled features*, before
the classifier - the order of MMAction2's TSNHead (``mmaction/models/heads/tsn_head.py``). Because the classifier is
linear this equals averaging the snippets' logits, up to float rounding, and it is what makes 'prob' scores match
MMAction2.

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

Backbones (torchvision, timm, pretrained weights, the first conv of flow and rgbdiff): `tsnbook.backbones`.
`build_model(cfg)` turns a config dict into a TSN (and loads ``load_from``).
"""
import contextlib
import numbers

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from .backbones import adapt_first_conv, build_backbone, pretrained_source  # noqa: F401  (tsnbook.models' API)
from .consensus import SegmentalConsensus

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # RGB, in 0..255 units (the zoo configs' img_norm_cfg)
IMAGENET_STD = (58.395, 57.12, 57.375)
FLOW_MEAN, FLOW_STD = 128.0, 128.0
#: modality -> (mean, std) of one frame's channels (flow: x, y; rgbdiff: a difference of two RGB frames)
NORMALISATION = {"rgb": (IMAGENET_MEAN, IMAGENET_STD), "flow": ((FLOW_MEAN,) * 2, (FLOW_STD,) * 2),
                 "rgbdiff": ((0.0,) * 3, IMAGENET_STD)}
MULTI_LABEL_PROBS = ("softmax", "sigmoid")  # a multi-label model's "prob": MMAction2's softmax, or per class


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
    ``densenet_relu``: MMAction2 runs a torchvision DenseNet through ``.features``, which lacks the final ReLU that
    torchvision's own forward applies (``extract_feat`` in ``mmaction/models/recognizers/base.py``). False (default)
    reproduces MMAction2 - the zoo's densenet161 checkpoint was trained that way; True gives torchvision's behaviour.
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
        for name, count in (("num_classes", num_classes), ("num_segments", num_segments), ("clip_len", clip_len)):
            if isinstance(count, (bool, np.bool_)) or not isinstance(count, numbers.Integral) or count < 1:
                raise ValueError(f"{name} must be an int >= 1, got {count!r}")
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
            elif x.dim() == 5 and x.shape[-1] == self.in_channels:
                hint = ": channels last ([H, W, C] frames); end the pipeline with FormatShape, which puts them first"
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
        once - MMAction2's TSNHead order, so "prob" is the softmax of the averaged logits. "max" and
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
    frames = x.unflatten(1, (-1, 3))  # sizes from the tensor, not Python ints: an exported graph keeps N, H, W free
    return (frames[:, 1:] - frames[:, :-1]).flatten(1, 2)


def average_clips(logits, mode=None):
    """MMAction2's test-time score of a video: None = raw logits (the 0.x zoo), 'prob' = softmax, 'score' = logits."""
    if mode == "prob":
        return F.softmax(logits, dim=-1)
    if mode in (None, "score"):
        return logits
    raise ValueError(f"average_clips must be None, 'score' or 'prob', got {mode!r}")
