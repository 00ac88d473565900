"""What every transform shares: the Transform base class, the results dict's accessors, the checks on sizes and
generators, and the two ways of drawing random numbers (MMAction2's global generators, or a numpy Generator).
"""
import random

import cv2
import numpy as np

from ..sampling import UnusableVideo


INTERPOLATIONS = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC,
                  "area": cv2.INTER_AREA, "lanczos": cv2.INTER_LANCZOS4}


# --------------------------------------------------------------------------------------------------- helpers
def as_pair(size, name):
    """An int or a (w, h) pair -> (w, h), as MMAction2's crop_size / input_size."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size)):
        raise ValueError(f"{name} must be a positive int or a (w, h) pair of positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def frames_of(results):
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


def modality_of(results, imgs):
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


def check_rng(rng):
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
