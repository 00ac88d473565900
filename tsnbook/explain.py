"""Why a TSN chose its class: each view's share of the score, and where in each view - exactly, no gradients.

A TSN's raw score of class c is linear in its views: the classifier (weights w_c, bias b_c) reads the *mean* of
the views' pooled features, and a pooled feature is the mean of the last convolutional map A over its h x w
positions. So, with V views,

    score_c = w_c . mean_v f_v + b_c = mean_v s_vc,        s_vc = w_c . f_v + b_c = mean_xy (w_c . A_v(x, y) + b_c)

and ``cam_v(x, y) = w_c . A_v(x, y) + b_c`` is the class activation map (Zhou et al., CVPR 2016) of view v. Both
decompositions are exact for this head: the views' contributions ``s_vc / V`` sum to the score, and each map's
mean is its view's ``s_vc`` (`tests/test_explain.py` checks both to float precision). Grad-CAM, MMAction2's
``demo_gradcam.py`` (spec `mmaction2_tools.md` §6), weights the channels by gradients instead - an approximation
that this head does not need; and it explains the top-1 only, normalised over all views, on a named layer.

Summed over the crops of a clip, the contributions say which **segments** decided the prediction; summed over a
crop's clips, which **crops**. The explanation is of the raw score (the logit): the softmax that turns scores into
probabilities is not linear, but it is monotonic, so the class with the largest score is the predicted one.

With the **weighted** consensus (`tsnbook.consensus`) the classifier reads a weighted mean of the views' features,
``sum_v a_v f_v`` with weights ``a_v`` summing to 1, so the same holds with ``a_v s_vc`` as view v's contribution
instead of ``s_vc / V``. A **max** consensus takes each class's best snippet score: one view decides, the others
add nothing, so there is no sum to split - it is refused.

The map is the input of the backbone's global average pooling (torchvision's ``avgpool``, DenseNet's
``features``); a backbone whose feature is not that average (a head after the pooling, a transformer's token mean)
is refused with one line, since the decomposition would not be exact.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .features import consensus_weights


def _hook_point(model):
    """``(module, "input" | "output")`` where the map before the global average pooling passes."""
    if model.densenet_quirk:  # MMAction2's DenseNet: .features, then a functional pooling
        return model.backbone.features, "output"
    pools = [m for m in model.backbone.modules()
             if isinstance(m, nn.AdaptiveAvgPool2d) and m.output_size in (1, (1, 1))]
    if not pools:
        raise ValueError(f"explain needs a backbone whose feature is the global average of a convolutional map "
                         f"(ResNet, ResNeXt, DenseNet, ...); {model.backbone_name} shows none")
    return pools[-1], "input"


@torch.no_grad()
def feature_maps(model, views, views_per_chunk=25):
    """The last convolutional map of every view, ``float64 [V, D, h, w]``, and the pooled features ``[V, D]``."""
    model.eval()
    device = next(model.parameters()).device
    (module, where), maps, pooled = _hook_point(model), [], []
    handle = module.register_forward_hook(
        lambda m, args, out: maps.append((args[0] if where == "input" else out).double().cpu()))
    try:
        for chunk in torch.as_tensor(views).split(views_per_chunk):
            pooled.append(model.snippet_features(chunk[None].to(device))[0].double().cpu())
    finally:
        handle.remove()
    maps, pooled = torch.cat(maps), torch.cat(pooled)
    if maps.shape[1] != pooled.shape[1] or not torch.allclose(maps.mean(dim=(2, 3)), pooled, rtol=1e-4, atol=1e-5):
        raise ValueError(f"explain: {model.backbone_name}'s feature is not the plain average of its last map (a layer "
                         f"follows the pooling), so the class activation map would not be exact")
    return maps.numpy(), pooled.numpy()


def explain_views(model, views, target=None, crops=1, views_per_chunk=25, num_clips=None):
    """Explain the raw score of class ``target`` (default: the top class) from one video's views.

    Returns ``dict(target, score, contributions [V], per_segment [clips], per_crop [crops], maps [V, h, w],
    view_scores [V], scores [num_classes])``: ``contributions`` sum to ``score``; ``maps[v].mean()`` equals
    ``view_scores[v]``, and ``contributions[v] = view_scores[v] / V`` (a weighted TSN: times the view's weight
    instead). ``crops``: views per clip (the views are MMAction2's order, all clips of crop 1 first);
    ``num_clips``: the clips a weighted consensus weighs together (default: all of a crop's).
    """
    view_weights = consensus_weights(model, len(views), num_clips or len(views) // crops,
                                      "explain needs the average or weighted consensus")
    maps, _ = feature_maps(model, views, views_per_chunk)
    weight = model.fc.weight.detach().double().cpu().numpy()
    bias = model.fc.bias.detach().double().cpu().numpy()
    pooled = maps.mean(axis=(2, 3))
    feature = pooled.mean(axis=0) if view_weights is None else view_weights @ pooled
    scores = feature @ weight.T + bias  # float64 throughout: the sums below are exact
    target = int(np.argmax(scores)) if target is None else int(target)
    if not 0 <= target < len(bias):
        raise ValueError(f"class {target} does not exist: the model has {len(bias)} classes (0..{len(bias) - 1})")
    cams = np.einsum("d,vdhw->vhw", weight[target], maps) + bias[target]
    view_scores = cams.mean(axis=(1, 2))
    contributions = view_scores / len(views) if view_weights is None else view_scores * view_weights
    by_crop = contributions.reshape(crops, -1)
    return dict(target=target, score=float(scores[target]), scores=scores, contributions=contributions,
                per_segment=by_crop.sum(axis=0), per_crop=by_crop.sum(axis=1), maps=cams, view_scores=view_scores)


def upsampled(cam, size):
    """A class activation map brought to the view's ``(height, width)`` (bilinear, as the map's positions are the
    centres of the backbone's receptive fields)."""
    tensor = torch.as_tensor(cam, dtype=torch.float64)[None, None]
    return F.interpolate(tensor, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()
