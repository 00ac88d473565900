"""Spatial transforms and formatting for TSN clips, mirroring MMAction2's pipeline transforms.

Reference: MMAction2 0.24.1 `mmaction/datasets/pipelines/augmentations.py` and `formatting.py` (the same crop and
resize logic lives in 1.2.0 `mmaction/datasets/transforms/processing.py`). See spec §4 and §9.

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
import math
import random

import cv2
import numpy as np

from .sampling import UnusableVideo

INTERPOLATIONS = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC,
                  "area": cv2.INTER_AREA, "lanczos": cv2.INTER_LANCZOS4}


# --------------------------------------------------------------------------------------------------- helpers
def _pair(size, name):
    """An int or a (w, h) pair -> (w, h), as MMAction2's crop_size / input_size."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size)):
        raise ValueError(f"{name} must be a positive int or a (w, h) pair of positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def _frames(results):
    """The validated `imgs` array [N, H, W, C] of a results dict."""
    if not isinstance(results, dict):
        raise TypeError(f"results must be a dict, got {type(results).__name__}")
    if "imgs" not in results:
        raise KeyError("results needs the key 'imgs' (an array [N, H, W, C])")
    imgs = results["imgs"]
    if not isinstance(imgs, np.ndarray) or imgs.ndim != 4:
        got = f"shape {imgs.shape}" if isinstance(imgs, np.ndarray) else type(imgs).__name__
        raise ValueError(f"results['imgs'] must be a numpy array [N, H, W, C] (np.stack the frames), got {got}")
    return imgs


def _modality(results, imgs):
    """'rgb' or 'flow': the `modality` key (any case), else inferred from the channel count (3 or 2)."""
    channels = imgs.shape[-1]
    modality = results.get("modality")
    if modality is None:
        modality = {3: "rgb", 2: "flow"}.get(channels)
        if modality is None:
            raise ValueError(f"cannot infer 'modality' from {channels} channels; set it to 'rgb' or 'flow'")
        return modality
    modality = str(modality).lower()
    if modality not in ("rgb", "flow"):
        raise ValueError(f"results['modality'] must be 'rgb' or 'flow', got {results['modality']!r}")
    if modality == "flow" and channels != 2:
        raise ValueError(f"modality 'flow' needs imgs with 2 channels (x, y), got {channels}")
    return modality


def _check_rng(rng):
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be None or a numpy Generator (np.random.default_rng), got {type(rng).__name__}")


def _check_fits(crop_w, crop_h, imgs, name):
    img_h, img_w = imgs.shape[1:3]
    if crop_w > img_w or crop_h > img_h:  # a video smaller than the crop: skipped as one bad item (tsnbook.data)
        raise UnusableVideo(f"{name}: crop (w, h) = ({crop_w}, {crop_h}) does not fit in the image "
                         f"(w, h) = ({img_w}, {img_h})")


def _choice(options, rng):
    """MMAction2's `random.choice`, or a uniform pick from the Generator."""
    return random.choice(options) if rng is None else options[int(rng.integers(len(options)))]


def _randint(low, high, rng):
    """MMAction2's `random.randint`: both bounds inclusive."""
    return random.randint(low, high) if rng is None else int(rng.integers(low, high, endpoint=True))


def _uniform(low, high, size, rng):
    """MMAction2's `np.random.uniform` (legacy global generator), or the Generator's."""
    return np.random.uniform(low, high, size) if rng is None else rng.uniform(low, high, size)


def _crop(results, imgs, box):
    """Slice the box [x1, y1, x2, y2) from every frame: a view, no copy."""
    x1, y1, x2, y2 = box
    cropped = imgs[:, y1:y2, x1:x2]
    return {**results, "imgs": cropped, "img_shape": (y2 - y1, x2 - x1), "crop_box": (x1, y1, x2, y2)}


def _invert_x_flow(imgs):
    """In place: x-flow v -> 255 - v (mmcv `iminvert`), so a mirrored clip's horizontal motion points the other way."""
    np.subtract(255, imgs[..., 0], out=imgs[..., 0])


def _copy_channel_first(frames, out):
    """out[i] = frames[i] as [C, h, w], for frames [n, h, w, C] with any strides (crop or mirror views).

    ``out`` must be C-contiguous [n, C, h, w] (cv2.split writes into its planes).

    numpy's transposing copy moves one byte at a time; OpenCV's ``cv2.split`` de-interleaves a contiguous frame
    several times faster. So each frame is first made contiguous (a row-by-row memcpy; a mirrored view is copied
    un-mirrored and mirrored back by ``cv2.flip``) and then split straight into ``out``. Same bytes either way.
    """
    if frames.dtype not in (np.uint8, np.float32) or frames.shape[-1] not in (2, 3, 4):
        out[...] = frames.transpose(0, 3, 1, 2)
        return
    for frame, planes in zip(frames, out):
        if frame.strides[1] < 0:
            frame = cv2.flip(np.ascontiguousarray(frame[:, ::-1]), 1)
        else:
            frame = np.ascontiguousarray(frame)
        cv2.split(frame, list(planes))


def _channel_first(imgs):
    """A contiguous [N, C, H, W] copy of [N, H, W, C] frames (any strides)."""
    n, h, w, c = imgs.shape
    out = np.empty((n, c, h, w), dtype=imgs.dtype)
    _copy_channel_first(imgs, out)
    return out


class Transform:
    """Base class: only a readable repr (the constructor arguments)."""

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------------------------------- resize
class Resize(Transform):
    """Resize every frame with cv2 (spec §4.1).

    - ``scale=(-1, 256)``: short side 256, long side round-half-up(long * 256 / short) (mmcv ``rescale_size``:
      f = min(max(scale)/max(h, w), min(scale)/min(h, w)), new = int(side * f + 0.5); -1 counts as infinity).
    - a tuple without -1 and ``keep_ratio=True``: the largest size that fits inside it; a float: multiply both sides.
    - ``keep_ratio=False``: exactly (w, h) = scale, e.g. (224, 224) after MultiScaleCrop.

    Pixels come from ``cv2.resize`` on the uint8 frames (INTER_LINEAR by default), as MMAction2 does through
    ``mmcv.imresize``; other resizers differ by +-1 (spec §9.14). A same-size resize returns the input unchanged,
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
        imgs = _frames(results)
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
        _check_rng(rng)
        imgs = _frames(results)
        img_h, img_w = imgs.shape[1:3]
        return _crop(results, imgs, self.crop_box(img_w, img_h, rng))


class MultiScaleCrop(_RandomCrop):
    """TSN's corner/centre crop with a random size from a few scales of the short side (spec §4.3).

    sizes = int(min(h, w) * s) for s in ``scales``; the candidates are [w=sizes[j], h=sizes[i]] for |i - j| <=
    ``max_wh_scale_gap``, one picked at random; then each side within 3 px of ``input_size`` is snapped to it
    (MMAction2 quirk, spec §9.5). With ``random_crop=False`` the offset is one of 5 (or 13) fixed positions built on
    steps (W - w)//4 and (H - h)//4, so the "right" and "bottom" crops use 4 * step and can stop short of the edge
    (also MMAction2's, kept because the checkpoints were trained that way). With ``random_crop=True`` x then y are
    uniform integers (inclusive). MMAction2 draws all of this from Python's ``random`` only (``rng=None``).
    Follow it with ``Resize((224, 224), keep_ratio=False)``.
    """

    def __init__(self, input_size, scales=(1,), max_wh_scale_gap=1, random_crop=False, num_fixed_crops=5):
        self.input_size = _pair(input_size, "input_size")
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
    """Inception-style crop with a random area and aspect ratio (spec §4.2), MMAction2's variant.

    Ten candidates are drawn at once: aspect = exp(uniform(ln r0, ln r1, 10)) and then area = uniform(a0, a1, 10) *
    h * w, both always drawn (20 numpy values), cw = round(sqrt(area * aspect)), ch = round(sqrt(area / aspect))
    with numpy's round-half-even. The first candidate that fits gets x then y from Python's ``random.randint``
    (inclusive). If none fits, the fallback is a centred square of side min(h, w): MMAction2's quirk, not
    torchvision's fallback (spec §9.7). Follow it with ``Resize((224, 224), keep_ratio=False)``.
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
    """Mirror the whole clip with probability ``flip_ratio`` (spec §4.4); flow-aware.

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
        _check_rng(rng)
        imgs = _frames(results)
        modality = _modality(results, imgs)
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


# --------------------------------------------------------------------------------------------------- test crops
class _FixedCrop(Transform):
    """Shared by the deterministic test-time crops: a (w, h) crop size and the check that it fits."""

    def __init__(self, crop_size):
        self.crop_size = _pair(crop_size, "crop_size")

    def _fitting_frames(self, results):
        """(imgs, crop_w, crop_h, img_w, img_h), after checking that the crop fits the frames."""
        imgs = _frames(results)
        crop_w, crop_h = self.crop_size
        _check_fits(crop_w, crop_h, imgs, type(self).__name__)
        img_h, img_w = imgs.shape[1:3]
        return imgs, crop_w, crop_h, img_w, img_h


class CenterCrop(_FixedCrop):
    """The centred crop at ((W - w)//2, (H - h)//2) (spec §4.5). On 455x256 with 224 this is x = 115."""

    def __call__(self, results, rng=None):
        imgs, crop_w, crop_h, img_w, img_h = self._fitting_frames(results)
        x, y = (img_w - crop_w) // 2, (img_h - crop_h) // 2
        return _crop(results, imgs, (x, y, x + crop_w, y + crop_h))


def _multi_crop(results, imgs, boxes, mirrored=False, invert_flow=False):
    """Stack the crops of every box, view-major; with `mirrored`, each crop is followed by its mirror image.

    The frames are turned channel-first once, then every crop is a plain row copy out of them into one
    [V*N, C, h, w] buffer (a mirrored view is its crop's planes flipped by cv2). It is handed back as the
    [V*N, h, w, C] view of that buffer, so that FormatShape('NCHW') finds the bytes already in its order and does
    not copy again.
    """
    n, img_h, img_w, channels = imgs.shape
    frames = _channel_first(imgs)
    views = len(boxes) * (2 if mirrored else 1)
    crop_w, crop_h = boxes[0][2] - boxes[0][0], boxes[0][3] - boxes[0][1]
    stacked = np.empty((views, n, channels, crop_h, crop_w), dtype=imgs.dtype)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        if mirrored:
            stacked[2 * i] = frames[:, :, y1:y2, x1:x2]
            # The mirror of a crop is the crop's planes flipped left-right, i.e. every row of the crop reversed:
            # one cv2.flip over all its rows at once (a [n*C*h, w] matrix), no second full-frame copy.
            rows = stacked[2 * i].reshape(n * channels * crop_h, crop_w)
            cv2.flip(rows, 1, dst=stacked[2 * i + 1].reshape(n * channels * crop_h, crop_w))
            if invert_flow:
                x_flow = stacked[2 * i + 1, :, 0]
                np.subtract(255, x_flow, out=x_flow)
        else:
            stacked[i] = frames[:, :, y1:y2, x1:x2]
    stacked = stacked.reshape(views * n, channels, crop_h, crop_w).transpose(0, 2, 3, 1)
    crop_boxes = [tuple(box) for box in boxes for _ in range(2 if mirrored else 1)]
    return {**results, "imgs": stacked, "img_shape": (crop_h, crop_w), "crop_boxes": crop_boxes,
            "num_views": results.get("num_views", 1) * views}


class ThreeCrop(_FixedCrop):
    """Three crops along the long side, in MMAction2's order left, right, middle (spec §4.5, §9.6).

    One crop side must equal the image's. If the heights match, step = (W - w)//2 and x = 0, 2*step, step;
    otherwise the same along y (top, bottom, middle). A square input gives three identical crops (MMAction2's).
    The output stacks all frames of crop 1, then of crop 2, then of crop 3; ``num_views`` is multiplied by 3.
    """

    def __call__(self, results, rng=None):
        imgs, crop_w, crop_h, img_w, img_h = self._fitting_frames(results)
        if crop_h == img_h:
            step = (img_w - crop_w) // 2
            offsets = [(0, 0), (2 * step, 0), (step, 0)]
        elif crop_w == img_w:
            step = (img_h - crop_h) // 2
            offsets = [(0, 0), (0, 2 * step), (0, step)]
        else:
            raise UnusableVideo(f"ThreeCrop: crop (w, h) = ({crop_w}, {crop_h}) must match the image's width or "
                             f"height, image (w, h) = ({img_w}, {img_h}); resize the short side first")
        boxes = [(x, y, x + crop_w, y + crop_h) for x, y in offsets]
        return _multi_crop(results, imgs, boxes)


class TenCrop(_FixedCrop):
    """Four corners and the centre, each followed by its horizontal mirror (spec §4.5): 10 views.

    Positions use ws = (W - w)//4, hs = (H - h)//4: UL (0, 0), UR (4ws, 0), LL (0, 4hs), LR (4ws, 4hs),
    C (2ws, 2hs). MMAction2 quirks kept: the right/bottom crops can stop short of the edge, and the centre can sit
    1 px left of CenterCrop's (455x256: x = 114, not 115). Views come out as UL, UL-mirror, UR, UR-mirror, ...

    ``invert_flow=False`` reproduces MMAction2 (both versions): mirrored *flow* views keep their x-flow as is,
    which points the wrong way. The 0.x flow checkpoints were tested like that; ``invert_flow=True`` is the fix
    (255 - x on the mirrored views, as Flip does).
    """

    def __init__(self, crop_size, invert_flow=False):
        super().__init__(crop_size)
        self.invert_flow = bool(invert_flow)

    def __call__(self, results, rng=None):
        imgs, crop_w, crop_h, img_w, img_h = self._fitting_frames(results)
        ws, hs = (img_w - crop_w) // 4, (img_h - crop_h) // 4
        offsets = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)]
        boxes = [(x, y, x + crop_w, y + crop_h) for x, y in offsets]
        invert = self.invert_flow and _modality(results, imgs) == "flow"
        if invert and imgs.dtype != np.uint8:
            raise ValueError(f"TenCrop(invert_flow=True) needs uint8 flow, got {imgs.dtype}; crop before Normalize")
        return _multi_crop(results, imgs, boxes, mirrored=True, invert_flow=invert)


# --------------------------------------------------------------------------------------------------- formatting
class Normalize(Transform):
    """(x - mean) / std per channel in float32, for numpy users (spec §4.6).

    RGB: mean (123.675, 116.28, 103.53), std (58.395, 57.12, 57.375). Flow: mean = std = (128, 128), so zero motion
    (stored as 127.5) maps to -0.0039, not 0: MMAction2's convention, kept for its checkpoints (spec §9.9).
    ``to_bgr`` swaps the channels first; ``adjust_magnitude`` (flow) multiplies x and y by ``scale_factor``. Both
    are False in every TSN config. tsnbook's models normalise uint8 tensors themselves, so the standard pipelines
    stop before this transform.
    """

    def __init__(self, mean, std, to_bgr=False, adjust_magnitude=False):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        if self.mean.ndim != 1 or self.mean.shape != self.std.shape:
            raise ValueError(f"mean and std must be 1-D sequences of one value per channel, got {mean!r}, {std!r}")
        if np.any(self.std == 0):
            raise ValueError(f"std must not contain 0, got {std!r}")
        self.to_bgr = to_bgr
        self.adjust_magnitude = adjust_magnitude

    def __call__(self, results, rng=None):
        imgs = _frames(results)
        if imgs.shape[-1] != len(self.mean):
            raise ValueError(f"Normalize: mean/std have {len(self.mean)} values but imgs have {imgs.shape[-1]} "
                             "channels")
        normalised = (imgs[..., ::-1] if self.to_bgr else imgs).astype(np.float32)
        normalised -= self.mean
        normalised /= self.std
        if self.adjust_magnitude and _modality(results, imgs) == "flow":
            normalised *= np.asarray(results.get("scale_factor", (1, 1)), dtype=np.float32)
        return {**results, "imgs": normalised}


class FormatShape(Transform):
    """Make the network input: a C-contiguous channel-first array (spec §4.7). This is where the copy happens.

    - ``"NCHW"``: [N, H, W, C] -> [N, C, H, W], keeping the order of N (views, then clips, then frames).
    - ``"NCHW_Flow"`` (0.x): [N, H, W, 2] -> [N / clip_len, 2 * clip_len, H, W], one image per (view, clip) whose
      channels are x_t0, y_t0, x_t1, y_t1, ... (MMAction2 1.x gets the same from "NCHW" with Flow; here "NCHW"
      on flow gives [N, 2, H, W], as 0.x does).
    - ``"NCHW_Stack"``: the same stacking for frames of any channel count, [N, H, W, C] -> [N / clip_len,
      C * clip_len, H, W] (channels R_t0, G_t0, B_t0, R_t1, ...): the input of an RGB-difference model, which
      subtracts the stacked frames itself (`tsnbook.models.rgb_difference`).
    """

    FORMATS = ("NCHW", "NCHW_Flow", "NCHW_Stack")

    def __init__(self, input_format="NCHW"):
        if input_format not in self.FORMATS:
            raise ValueError(f"input_format must be one of {self.FORMATS}, got {input_format!r}")
        self.input_format = input_format

    def __call__(self, results, rng=None):
        imgs = _frames(results)
        n, h, w, channels = imgs.shape
        stack = self.input_format != "NCHW"
        if stack:
            if self.input_format == "NCHW_Flow" and channels != 2:
                raise ValueError(f"FormatShape('NCHW_Flow') needs flow imgs with 2 channels, got {channels}")
            if "clip_len" not in results:
                raise KeyError(f"FormatShape('{self.input_format}') needs results['clip_len'] (frames per clip)")
            clip_len = results["clip_len"]
            if not isinstance(clip_len, (int, np.integer)) or clip_len < 1 or n % clip_len:
                raise ValueError(f"FormatShape('{self.input_format}'): results['clip_len'] must be a positive int "
                                 f"dividing N = {n}, got {clip_len!r}")
        formatted = imgs.transpose(0, 3, 1, 2)
        if not formatted.flags["C_CONTIGUOUS"]:  # (Three/TenCrop output is channel-first already: no copy)
            formatted = np.empty((n, channels, h, w), dtype=imgs.dtype)
            _copy_channel_first(imgs, formatted)
        if stack:
            # [N, C, H, W] is frame-major then channel in memory, so merging each clip's frames into the channel
            # axis gives x_t0, y_t0, x_t1, y_t1, ... (flow) or R_t0, G_t0, B_t0, R_t1, ... (stacked RGB)
            formatted = formatted.reshape(n // clip_len, channels * clip_len, h, w)
        return {**results, "imgs": formatted, "input_shape": formatted.shape}


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
        _check_rng(rng)
        for transform in self.transforms:
            results = transform(results, rng=rng)
        return results


TRANSFORMS = {cls.__name__: cls for cls in (Resize, MultiScaleCrop, RandomResizedCrop, Flip, CenterCrop,
                                            ThreeCrop, TenCrop, Normalize, FormatShape)}


def build_pipeline(configs, extra_types=None):
    """A Compose from MMAction2-style dicts, e.g. ``[dict(type="Resize", scale=(-1, 256)), ...]``.

    ``extra_types`` ({name: class}) adds other steps such as sampling or decoding; ready-made callables in the
    list are used as they are.
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
            raise ValueError(f"unknown transform type {name!r}; valid types: {', '.join(sorted(registry))}")
        try:
            transforms.append(registry[name](**kwargs))
        except TypeError as error:
            raise TypeError(f"{name}: {error}") from error
    return Compose(transforms)
