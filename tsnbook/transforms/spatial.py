"""The random spatial transforms of training: Resize, MultiScaleCrop (TSN's corner and scale jittering),
RandomResizedCrop and Flip (with the flow's x-channel inverted and the label map for direction classes).
"""
import math

import cv2
import numpy as np

from ..sampling import UnusableVideo
from .base import (
    INTERPOLATIONS, Transform, as_pair, check_rng, _choice, _crop, frames_of, _invert_x_flow, modality_of,
    _randint, _uniform)


# --------------------------------------------------------------------------------------------------- resize
class Resize(Transform):
    """Resize every frame with cv2.

    - ``scale=(-1, 256)``: short side 256, long side round-half-up(long * 256 / short) (mmcv ``rescale_size``:
      f = min(max(scale)/max(h, w), min(scale)/min(h, w)), new = int(side * f + 0.5); -1 counts as infinity).
    - a tuple without -1 and ``keep_ratio=True``: the largest size that fits inside it; a float: multiply both sides.
    - ``keep_ratio=False``: exactly (w, h) = scale, e.g. (224, 224) after MultiScaleCrop.

    Pixels come from ``cv2.resize`` on the uint8 frames (INTER_LINEAR by default), as MMAction2 does through
    ``mmcv.imresize``; other resizers differ by +-1. A same-size resize returns the input unchanged,
    which is pixel-identical to MMAction2's and costs nothing. ``scale_factor`` accumulates (new_w/w, new_h/h) in
    float32 (only flow ``Normalize(adjust_magnitude=True)`` reads it).
    """

    def __init__(self, scale, keep_ratio=True, interpolation="bilinear"):
        if isinstance(scale, float):
            if not scale > 0:
                raise ValueError(f"scale as a float factor must be > 0, got {scale}")
            if not keep_ratio:
                raise ValueError("a float scale needs keep_ratio=True; give a (w, h) tuple with keep_ratio=False")
        elif isinstance(scale, (tuple, list)) and len(scale) == 2 and all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool) and (s > 0 or s == -1) for s in scale):
            scale = tuple(int(s) for s in scale)
            if -1 in scale and not keep_ratio:
                raise ValueError(f"scale {scale} with -1 needs keep_ratio=True")
            if scale == (-1, -1):
                raise ValueError("scale (-1, -1) leaves no side to fit")
        else:
            raise ValueError(f"scale must be a float factor or a (w, h) pair of positive ints (-1 = free side), "
                             f"got {scale!r}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {sorted(INTERPOLATIONS)}, got {interpolation!r}")
        self.scale = scale
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation

    def output_size(self, img_w, img_h):
        """(new_w, new_h) for a frame of (img_w, img_h), with mmcv's float arithmetic."""
        if not self.keep_ratio:
            return self.scale
        if isinstance(self.scale, float):
            factor = self.scale
        else:
            long_edge = math.inf if -1 in self.scale else max(self.scale)
            short_edge = max(self.scale) if -1 in self.scale else min(self.scale)
            factor = min(long_edge / max(img_h, img_w), short_edge / min(img_h, img_w))
        return int(img_w * factor + 0.5), int(img_h * factor + 0.5)

    def __call__(self, results, rng=None):
        imgs = frames_of(results)
        n, img_h, img_w, channels = imgs.shape
        new_w, new_h = self.output_size(img_w, img_h)
        factor = np.array([new_w / img_w, new_h / img_h], dtype=np.float32)
        scale_factor = np.asarray(results.get("scale_factor", np.ones(2, np.float32)), np.float32) * factor
        if (new_w, new_h) != (img_w, img_h):
            resized = np.empty((n, new_h, new_w, channels), dtype=imgs.dtype)
            for frame, out in zip(imgs, resized):
                cv2.resize(frame, (new_w, new_h), dst=out, interpolation=INTERPOLATIONS[self.interpolation])
            imgs = resized
        return {**results, "imgs": imgs, "img_shape": (new_h, new_w), "scale_factor": scale_factor}


# --------------------------------------------------------------------------------------------------- train crops

class _RandomCrop(Transform):
    """A crop whose box is drawn once per video by ``crop_box(img_w, img_h, rng)`` (MultiScaleCrop,
    RandomResizedCrop); `tsnbook.gpu_augment` calls ``crop_box`` alone and crops on the GPU."""

    def __call__(self, results, rng=None):
        check_rng(rng)
        imgs = frames_of(results)
        img_h, img_w = imgs.shape[1:3]
        return _crop(results, imgs, self.crop_box(img_w, img_h, rng))


class MultiScaleCrop(_RandomCrop):
    """TSN's corner/centre crop with a random size from a few scales of the short side.

    sizes = int(min(h, w) * s) for s in ``scales``; the candidates are [w=sizes[j], h=sizes[i]] for |i - j| <=
    ``max_wh_scale_gap``, one picked at random; then each side within 3 px of ``input_size`` is snapped to it
    (an MMAction2 quirk). With ``random_crop=False`` the offset is one of 5 (or 13) fixed positions built on
    steps (W - w)//4 and (H - h)//4, so the "right" and "bottom" crops use 4 * step and can stop short of the edge
    (also MMAction2's, kept because the checkpoints were trained that way). With ``random_crop=True`` x then y are
    uniform integers (inclusive). MMAction2 draws all of this from Python's ``random`` only (``rng=None``).
    Follow it with ``Resize((224, 224), keep_ratio=False)``.
    """

    def __init__(self, input_size, scales=(1,), max_wh_scale_gap=1, random_crop=False, num_fixed_crops=5):
        self.input_size = as_pair(input_size, "input_size")
        if not isinstance(scales, (tuple, list)) or not scales or not all(
                isinstance(s, (int, float)) and 0 < s <= 1 for s in scales):
            raise ValueError(f"scales must be a non-empty tuple of numbers in (0, 1], got {scales!r}")
        if num_fixed_crops not in (5, 13):
            raise ValueError(f"num_fixed_crops must be 5 or 13, got {num_fixed_crops!r}")
        self.scales = tuple(scales)
        self.max_wh_scale_gap = max_wh_scale_gap
        self.random_crop = random_crop
        self.num_fixed_crops = num_fixed_crops

    def candidate_sizes(self, img_w, img_h):
        """The [w, h] crop sizes MMAction2 chooses from, in its order (crop height outer, width inner)."""
        sizes = [int(min(img_h, img_w) * s) for s in self.scales]
        return [[w, h] for i, h in enumerate(sizes) for j, w in enumerate(sizes)
                if abs(i - j) <= self.max_wh_scale_gap]

    def fixed_offsets(self, img_w, img_h, crop_w, crop_h):
        """The 5 (or 13) (x, y) positions, in MMAction2's order."""
        ws, hs = (img_w - crop_w) // 4, (img_h - crop_h) // 4
        offsets = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)]
        if self.num_fixed_crops == 13:
            offsets += [(0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0),
                        (ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs)]
        return offsets

    def crop_box(self, img_w, img_h, rng=None):
        """(x1, y1, x2, y2) drawn with MMAction2's laws and call order (also used by `tsnbook.gpu_augment`)."""
        crop_w, crop_h = _choice(self.candidate_sizes(img_w, img_h), rng)
        if abs(crop_w - self.input_size[0]) < 3:
            crop_w = self.input_size[0]
        if abs(crop_h - self.input_size[1]) < 3:
            crop_h = self.input_size[1]
        if crop_w > img_w or crop_h > img_h:
            raise UnusableVideo(f"MultiScaleCrop: crop (w, h) = ({crop_w}, {crop_h}) does not fit in the image "
                             f"(w, h) = ({img_w}, {img_h})")
        if self.random_crop:
            x = _randint(0, img_w - crop_w, rng)
            y = _randint(0, img_h - crop_h, rng)
        else:
            x, y = _choice(self.fixed_offsets(img_w, img_h, crop_w, crop_h), rng)
        return x, y, x + crop_w, y + crop_h



class RandomResizedCrop(_RandomCrop):
    """Inception-style crop with a random area and aspect ratio, MMAction2's variant.

    Ten candidates are drawn at once: aspect = exp(uniform(ln r0, ln r1, 10)) and then area = uniform(a0, a1, 10) *
    h * w, both always drawn (20 numpy values), cw = round(sqrt(area * aspect)), ch = round(sqrt(area / aspect))
    with numpy's round-half-even. The first candidate that fits gets x then y from Python's ``random.randint``
    (inclusive). If none fits, the fallback is a centred square of side min(h, w): MMAction2's quirk, not
    torchvision's fallback. Follow it with ``Resize((224, 224), keep_ratio=False)``.
    """

    def __init__(self, area_range=(0.08, 1.0), aspect_ratio_range=(3 / 4, 4 / 3)):
        if not (isinstance(area_range, (tuple, list)) and len(area_range) == 2
                and 0 < area_range[0] <= area_range[1] <= 1):
            raise ValueError(f"area_range must be (low, high) with 0 < low <= high <= 1, got {area_range!r}")
        if not (isinstance(aspect_ratio_range, (tuple, list)) and len(aspect_ratio_range) == 2
                and 0 < aspect_ratio_range[0] <= aspect_ratio_range[1]):
            raise ValueError(f"aspect_ratio_range must be (low, high) with 0 < low <= high, "
                             f"got {aspect_ratio_range!r}")
        self.area_range = tuple(area_range)
        self.aspect_ratio_range = tuple(aspect_ratio_range)

    def crop_box(self, img_w, img_h, rng=None, attempts=10):
        """(x1, y1, x2, y2) drawn with MMAction2's laws and call order."""
        log_low, log_high = np.log(self.aspect_ratio_range[0]), np.log(self.aspect_ratio_range[1])
        aspect_ratios = np.exp(_uniform(log_low, log_high, attempts, rng))
        areas = _uniform(self.area_range[0], self.area_range[1], attempts, rng) * (img_h * img_w)
        widths = np.round(np.sqrt(areas * aspect_ratios)).astype(np.int32)
        heights = np.round(np.sqrt(areas / aspect_ratios)).astype(np.int32)
        for crop_w, crop_h in zip(widths.tolist(), heights.tolist()):
            if crop_h <= img_h and crop_w <= img_w:
                x = _randint(0, img_w - crop_w, rng)
                y = _randint(0, img_h - crop_h, rng)
                return x, y, x + crop_w, y + crop_h
        side = min(img_h, img_w)
        x, y = (img_w - side) // 2, (img_h - side) // 2
        return x, y, x + side, y + side



class Flip(Transform):
    """Mirror the whole clip with probability ``flip_ratio``; flow-aware.

    One draw per video, ``np.random.rand() < flip_ratio`` on numpy's global generator with ``rng=None`` (always
    drawn, even with flip_ratio 0 or 1, as MMAction2 does). The flipped clip is a view (``[:, :, ::-1]``).

    Flow: mirroring reverses horizontal motion, so the x channel is also inverted (v -> 255 - v, on uint8: put
    Flip before Normalize). This is MMAction2 0.x. MMAction2 1.x has a bug with stacked (x, y) frames: it inverts
    both channels of every other frame and nothing in the rest; it is not reproduced. Flow only flips horizontally.

    ``flip_label_map`` ({label: mirrored label}, e.g. "swipe left" <-> "swipe right") remaps an int ``label`` when
    the clip is flipped; labels missing from the map stay unchanged.
    """

    def __init__(self, flip_ratio=0.5, direction="horizontal", flip_label_map=None):
        if not 0 <= flip_ratio <= 1:
            raise ValueError(f"flip_ratio must be in [0, 1], got {flip_ratio!r}")
        if direction not in ("horizontal", "vertical"):
            raise ValueError(f"direction must be 'horizontal' or 'vertical', got {direction!r}")
        if flip_label_map is not None and not isinstance(flip_label_map, dict):
            raise ValueError(f"flip_label_map must be a dict {{label: label}} or None, got {flip_label_map!r}")
        self.flip_ratio = flip_ratio
        self.direction = direction
        self.flip_label_map = flip_label_map

    def draw(self, rng=None):
        """Whether to mirror this video: one draw, with MMAction2's call (also used by `tsnbook.gpu_augment`)."""
        return bool((np.random.rand() if rng is None else rng.random()) < self.flip_ratio)

    def flipped_label(self, label):
        """The label of the mirrored clip: `flip_label_map[label]`, or `label` when the map has no entry."""
        if self.flip_label_map is None or label is None:
            return label
        return self.flip_label_map.get(int(label), label)

    def __call__(self, results, rng=None):
        check_rng(rng)
        imgs = frames_of(results)
        modality = modality_of(results, imgs)
        if modality == "flow" and self.direction != "horizontal":
            raise ValueError("Flip: flow can only be flipped horizontally (direction='horizontal')")
        label = results.get("label")
        remap_label = self.flip_label_map is not None and label is not None
        if remap_label and (not isinstance(label, (int, np.integer)) or isinstance(label, bool)):
            raise ValueError(f"Flip: flip_label_map needs an int results['label'], got {type(label).__name__}")
        flip = self.draw(rng)
        out = {**results, "flip": flip, "flip_direction": self.direction}
        if not flip:
            return out
        if remap_label:
            out["label"] = self.flipped_label(label)
        if self.direction == "vertical":
            out["imgs"] = imgs[:, ::-1]
        elif modality == "rgb":
            out["imgs"] = imgs[:, :, ::-1]
        else:
            if imgs.dtype != np.uint8:
                raise ValueError(f"Flip: flow must still be uint8 (255 - v inversion), got {imgs.dtype}; "
                                 "put Flip before Normalize")
            flipped = imgs[:, :, ::-1].copy()
            _invert_x_flow(flipped)
            out["imgs"] = flipped
        return out
