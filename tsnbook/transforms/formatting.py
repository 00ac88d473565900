"""From cropped frames to the network's input: Normalize (mean/std, flow magnitude) and FormatShape (the
channel-first layouts NCHW, NCHW_Flow and NCHW_Stack).
"""
import numpy as np

from .base import Transform, _copy_channel_first, frames_of, modality_of


# --------------------------------------------------------------------------------------------------- formatting
class Normalize(Transform):
    """(x - mean) / std per channel in float32, for numpy users (MMAction2 0.x `Normalize`).

    RGB: mean (123.675, 116.28, 103.53), std (58.395, 57.12, 57.375). Flow: mean = std = (128, 128), so zero motion
    (stored as 127.5) maps to -0.0039, not 0: MMAction2's convention, kept for its checkpoints.
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
        imgs = frames_of(results)
        if imgs.shape[-1] != len(self.mean):
            raise ValueError(f"Normalize: mean/std have {len(self.mean)} values but imgs have {imgs.shape[-1]} "
                             "channels")
        normalised = (imgs[..., ::-1] if self.to_bgr else imgs).astype(np.float32)
        normalised -= self.mean
        normalised /= self.std
        if self.adjust_magnitude and modality_of(results, imgs) == "flow":
            normalised *= np.asarray(results.get("scale_factor", (1, 1)), dtype=np.float32)
        return {**results, "imgs": normalised}


class FormatShape(Transform):
    """Make the network input: a C-contiguous channel-first array (MMAction2's `FormatShape`, in
    `mmaction/datasets/pipelines/formatting.py`). This is where the copy happens.

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
        imgs = frames_of(results)
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
