"""The fixed crops of testing: CenterCrop, and ThreeCrop / TenCrop, which stack their views crop-major.
"""
import cv2
import numpy as np

from ..sampling import UnusableVideo
from .base import Transform, as_pair, _channel_first, _check_fits, _crop, frames_of, modality_of


# --------------------------------------------------------------------------------------------------- test crops
class _FixedCrop(Transform):
    """Shared by the deterministic test-time crops: a (w, h) crop size and the check that it fits."""

    def __init__(self, crop_size):
        self.crop_size = as_pair(crop_size, "crop_size")

    def _fitting_frames(self, results):
        """(imgs, crop_w, crop_h, img_w, img_h), after checking that the crop fits the frames."""
        imgs = frames_of(results)
        crop_w, crop_h = self.crop_size
        _check_fits(crop_w, crop_h, imgs, type(self).__name__)
        img_h, img_w = imgs.shape[1:3]
        return imgs, crop_w, crop_h, img_w, img_h


class CenterCrop(_FixedCrop):
    """The centred crop at ((W - w)//2, (H - h)//2). On 455x256 with 224 this is x = 115."""

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
    """Three crops along the long side, in MMAction2's order left, right, middle.

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
    """Four corners and the centre, each followed by its horizontal mirror: 10 views.

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
        invert = self.invert_flow and modality_of(results, imgs) == "flow"
        if invert and imgs.dtype != np.uint8:
            raise ValueError(f"TenCrop(invert_flow=True) needs uint8 flow, got {imgs.dtype}; crop before Normalize")
        return _multi_crop(results, imgs, boxes, mirrored=True, invert_flow=invert)
