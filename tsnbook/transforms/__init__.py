"""Spatial transforms and formatting for TSN clips, mirroring MMAction2's pipeline transforms.

Reference: MMAction2 0.24.1 `mmaction/datasets/pipelines/augmentations.py` and `formatting.py` (the same crop and
resize logic lives in 1.2.0 `mmaction/datasets/transforms/processing.py`); tests/test_transforms.py compares every
transform with MMAction2's.

A clip travels through the pipeline as a *results dict*, as in MMAction2:

- ``imgs``: ``np.ndarray [N, H, W, C]``; C = 3 for RGB (RGB order), C = 2 for flow (channel 0 = x-flow,
  channel 1 = y-flow, uint8 where 127.5 means no motion). N = views x clips x clip_len, crop-major.
- ``modality``: ``"rgb"`` or ``"flow"`` (inferred from C when absent); ``label``; ``num_clips``; ``clip_len``.
- transforms add ``img_shape`` (h, w), ``crop_box`` (x1, y1, x2, y2), ``crop_boxes`` (one per view),
  ``flip``, ``scale_factor`` and ``num_views``.

Each transform is a small class called as ``transform(results, rng=None)``; it returns a new dict and leaves the
input dict alone. Random transforms draw once per call (per video) and apply the draw to every frame:

- ``rng=None`` makes exactly MMAction2's calls on the global generators (numpy's legacy ``np.random`` and Python's
  ``random``), so after seeding both the same way the output equals MMAction2's training stream bit for bit;
- ``rng=np.random.default_rng(seed)`` draws the same distributions from that Generator instead.

Speed: crops and flips are numpy views (no per-frame copies); Resize calls cv2 only when the size changes; the
copy into the network's channel-first layout happens once, in ``FormatShape``, with ``cv2.split`` (Three/TenCrop
must copy anyway to stack their views, so they write channel-first memory and ``FormatShape`` has nothing to do).
"""
import inspect

from ..spelling import did_you_mean
from .base import INTERPOLATIONS, Transform, check_rng
from .crops import CenterCrop, TenCrop, ThreeCrop
from .formatting import FormatShape, Normalize
from .spatial import Flip, MultiScaleCrop, RandomResizedCrop, Resize

__all__ = ["INTERPOLATIONS", "Transform", "Resize", "MultiScaleCrop", "RandomResizedCrop", "Flip", "CenterCrop",
           "ThreeCrop", "TenCrop", "Normalize", "FormatShape", "Compose", "TRANSFORMS", "build_pipeline"]


# --------------------------------------------------------------------------------------------------- pipelines
class Compose(Transform):
    """Run transforms in order, passing the same ``rng`` to each."""

    def __init__(self, transforms):
        transforms = list(transforms)
        for t in transforms:
            if not callable(t):
                raise TypeError(f"Compose needs callables, got {t!r} (use build_pipeline for config dicts)")
        self.transforms = transforms

    def __call__(self, results, rng=None):
        check_rng(rng)
        for transform in self.transforms:
            results = transform(results, rng=rng)
        return results


TRANSFORMS = {cls.__name__: cls for cls in (Resize, MultiScaleCrop, RandomResizedCrop, Flip, CenterCrop,
                                            ThreeCrop, TenCrop, Normalize, FormatShape)}


def build_pipeline(configs, extra_types=None):
    """A Compose from MMAction2-style dicts, e.g. ``[dict(type="Resize", scale=(-1, 256)), ...]``.

    ``extra_types`` ({name: class}) adds other steps such as sampling or decoding; ready-made callables in the
    list are used as they are. A step of an unknown type, or with an unknown or missing argument, is a one-line
    ValueError naming the step and the nearest valid name (a config is checked before a run, not at its test).
    """
    registry = {**TRANSFORMS, **(extra_types or {})}
    transforms = []
    for config in configs:
        if callable(config):
            transforms.append(config)
            continue
        if not isinstance(config, dict) or "type" not in config:
            raise ValueError(f"each pipeline step must be a dict with a 'type' key, got {config!r}")
        kwargs = dict(config)
        name = kwargs.pop("type")
        if name not in registry:
            raise ValueError(f"{name!r}: unknown transform type{did_you_mean(name, registry)}; valid types: "
                             f"{', '.join(sorted(registry))}")
        _check_arguments(name, registry[name], kwargs)
        try:
            transforms.append(registry[name](**kwargs))
        except TypeError as error:
            raise TypeError(f"{name}: {error}") from error
    return Compose(transforms)


def _check_arguments(name, cls, kwargs):
    """Refuse, naming the nearest valid one, an argument the step does not take or a required one left out."""
    parameters = inspect.signature(cls).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return
    for argument in kwargs:
        if argument not in parameters:
            hint = did_you_mean(argument, parameters) or f" (it takes {', '.join(parameters) or 'none'})"
            raise ValueError(f"{name}: unknown argument {argument}{hint}")
    missing = [p.name for p in parameters.values() if p.default is p.empty and p.name not in kwargs and
               p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if missing:
        raise ValueError(f"{name}: missing argument {', '.join(missing)}")
