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

Flow input has ``2 * clip_len`` channels (x/y pairs of 5 consecutive flow frames = 10). Its first conv is
built by TSN's *cross-modality initialisation*: the RGB filters averaged over their 3 input channels and
repeated, so ImageNet features still fire on flow images. (MMAction2's 2-D ResNet does not do this - its
10-channel conv1 keeps a random init; ``flow_init="random"`` reproduces that.)
"""
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # RGB, in 0..255 units (spec §4.6)
IMAGENET_STD = (58.395, 57.12, 57.375)
FLOW_MEAN, FLOW_STD = 128.0, 128.0


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
    ``in_channels`` times (tsn-pytorch's ``_construct_flow_model``). ``mode="random"``: a fresh Kaiming init
    (fan_out, as MMAction2's ConvModule), which is what MMAction2's flow ResNet really starts from.
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


def build_backbone(name, pretrained=None):
    """A torchvision classification model without its classifier, and its feature width.

    ``pretrained``: None (random init), ``"torchvision"`` (the default ImageNet weights, from the torch hub
    cache or downloaded), or the path of a state-dict file for that architecture.
    """
    if name not in torchvision.models.list_models(torchvision.models):
        raise ValueError(f"unknown backbone {name!r}; torchvision classification models include "
                         f"resnet18, resnet50, resnet101, resnext50_32x4d, densenet161, mobilenet_v3_small, ...")
    weights = "DEFAULT" if pretrained == "torchvision" else None
    try:
        model = torchvision.models.get_model(name, weights=weights)
    except Exception as err:  # typically no network: say what to do instead of a urllib traceback
        raise RuntimeError(f"could not load torchvision's ImageNet weights for {name} ({err}). Offline? Put the "
                           f"file in the torch hub cache ({torch.hub.get_dir()}/checkpoints) or pass "
                           f"pretrained='path/to/weights.pth'.") from None
    if pretrained not in (None, "torchvision"):
        state = torch.load(pretrained, map_location="cpu", weights_only=True)
        missing, unexpected = model.load_state_dict(state.get("state_dict", state), strict=False)
        print(f"loaded {pretrained}: {len(missing)} missing, {len(unexpected)} unexpected keys")
    parent, attr, fc = _last_linear(model)
    setattr(parent, attr, nn.Identity())
    return model, fc.in_features


class TSN(nn.Module):
    """TSN: a 2-D backbone applied to every snippet, average consensus, dropout, one linear classifier.

    Input ``x``: uint8 (or float in 0..255 units) ``[B, V, C, H, W]`` with V snippets (segments x crops at test
    time), C = 3 for RGB or 2 * clip_len for flow. Output: logits ``[B, num_classes]``.

    ``partial_bn``: TSN's partial BatchNorm - in training, every BN layer but the first is frozen (running
    statistics and affine parameters), which regularises fine-tuning on small datasets. ``norm_eval``:
    MMAction2's option that keeps every BN's running statistics frozen (affine parameters still train).
    """

    def __init__(self, backbone="resnet50", num_classes=400, num_segments=3, modality="rgb", clip_len=5,
                 dropout=0.4, init_std=0.01, partial_bn=False, norm_eval=False, pretrained=None,
                 flow_init="average"):
        super().__init__()
        if modality not in ("rgb", "flow"):
            raise ValueError(f"modality must be 'rgb' or 'flow', got {modality!r}")
        self.num_classes, self.num_segments, self.modality = num_classes, num_segments, modality
        self.partial_bn, self.norm_eval = partial_bn, norm_eval
        self.channels_last = False
        self.backbone, self.feature_dim = build_backbone(backbone, pretrained)
        self.in_channels = 3 if modality == "rgb" else 2 * clip_len
        if modality == "flow":
            adapt_first_conv(self.backbone, self.in_channels, flow_init)
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if modality == "rgb" else ((FLOW_MEAN,) * 2, (FLOW_STD,) * 2)
        # Flow channels alternate x, y; mean/std are per channel, repeated to the channel count.
        repeat = self.in_channels // len(mean)
        self.register_buffer("mean", torch.tensor(mean * repeat).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std * repeat).view(1, -1, 1, 1), persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.feature_dim, num_classes)
        nn.init.normal_(self.fc.weight, 0, init_std)
        nn.init.zeros_(self.fc.bias)

    def features(self, x):
        """Snippet features averaged over the view axis: ``[B, V, C, H, W] -> [B, feature_dim]``."""
        if x.dim() != 5 or x.shape[2] != self.in_channels:
            raise ValueError(f"TSN({self.modality}) expects input [B, V, {self.in_channels}, H, W], "
                             f"got {tuple(x.shape)}")
        batch, views = x.shape[:2]
        x = x.flatten(0, 1).float()
        x = (x - self.mean) / self.std
        if self.channels_last:  # set by the engine on CUDA, where NHWC convolutions are faster
            x = x.contiguous(memory_format=torch.channels_last)
        snippet_features = self.backbone(x)  # [B*V, D]: torchvision's own global average pooling
        return snippet_features.view(batch, views, -1).mean(dim=1)  # average consensus

    def forward(self, x):
        return self.fc(self.dropout(self.features(x)))

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
        return self


def average_clips(logits, mode=None):
    """MMAction2's test-time score of a video: None = raw logits (the 0.x zoo), 'prob' = softmax, 'score' = logits."""
    if mode == "prob":
        return F.softmax(logits, dim=-1)
    if mode in (None, "score"):
        return logits
    raise ValueError(f"average_clips must be None, 'score' or 'prob', got {mode!r}")
