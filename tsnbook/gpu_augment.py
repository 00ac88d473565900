"""TSN's training crop, resize and flip, batched on the GPU from uint8 frames (issue 4).

On a CPU data loader, the training augmentation (MultiScaleCrop or RandomResizedCrop, Resize to 224, Flip,
FormatShape) costs about a quarter of each item, and its output is 224 x 224 per frame whatever the crop. Here the
loader stops after decoding and `Resize(-1, 256)`: each item carries its uint8 frames as they are ([N, H, W, C],
no channel-first copy) and the crop box and flip *drawn on the CPU* by the very transforms of
`tsnbook.transforms` (`MultiScaleCrop.crop_box`, `RandomResizedCrop.crop_box`, `Flip.draw`), in the same order, so
the random stream and the parameter law are exactly those of the CPU pipeline. The GPU then crops, resizes
(`torch.nn.functional.interpolate`, bilinear, half-pixel centres as cv2) and mirrors a whole batch; the model
normalises the 0..255 floats itself (`tsnbook.models`).

    configs = pipelines.train_pipeline()
    cpu_steps, gpu = split_train_pipeline(configs)       # cpu_steps ends with a DeferredCropFlip
    dataset = TSNDataset(records, cpu_steps, ...)         # items: imgs uint8 [N, H, W, C], crop_box, flip
    loader = DataLoader(dataset, batch_size=..., collate_fn=collate_padded)
    for batch in loader:
        imgs = gpu(batch["imgs"].to(device, non_blocking=True), batch["crop_box"], batch["flip"])
        logits = model(imgs)                              # float [B, V, C, 224, 224] in 0..255

Pixels: not bit-identical to the CPU pipeline, because cv2's INTER_LINEAR rounds its weights to 11 bits and its
result to uint8 while torch interpolates in float32: on 40 draws over real frames and over noise the GPU floats
differ from the CPU pipeline's uint8 by 0.24 on average and 0.80 at most (tests/test_gpu_augment.py checks < 1).
Boxes, flips and labels are identical.
"""
import numpy as np
import torch
import torch.nn.functional as F

from .data import split_failures
from .transforms import Flip, MultiScaleCrop, RandomResizedCrop, Resize, Transform, _check_rng, _frames, _modality
from .transforms import _pair, build_pipeline

CROPS = (MultiScaleCrop, RandomResizedCrop)


class DeferredCropFlip(Transform):
    """The last CPU step when the GPU augments: draw the crop box and the flip, touch no pixel.

    ``crop`` is a MultiScaleCrop or RandomResizedCrop, ``flip`` a Flip (or None: never mirrored, nothing drawn).
    The draws are made in the CPU pipeline's order (crop, then flip), so for the same ``rng`` (or the same global
    seeds with ``rng=None``) the boxes and flips equal those of crop -> Resize -> Flip on the CPU. The frames stay
    uint8 [N, H, W, C] and contiguous; the results gain ``crop_box`` (x1, y1, x2, y2), ``flip`` and
    ``pass_through`` (the keys `TSNDataset` hands to the collate function). A flipped clip's label is remapped
    here with ``flip.flip_label_map``, as Flip does.
    """

    def __init__(self, crop, flip=None, size=(224, 224)):
        if not isinstance(crop, CROPS):
            raise TypeError(f"crop must be a MultiScaleCrop or RandomResizedCrop, got {type(crop).__name__}")
        if flip is not None and not isinstance(flip, Flip):
            raise TypeError(f"flip must be a Flip or None, got {type(flip).__name__}")
        if flip is not None and flip.direction != "horizontal":
            raise ValueError("DeferredCropFlip: only horizontal flips are supported on the GPU")
        self.crop, self.flip, self.size = crop, flip, _pair(size, "size")

    def __call__(self, results, rng=None):
        _check_rng(rng)
        imgs = _frames(results)
        modality = _modality(results, imgs)
        if modality == "flow" and imgs.dtype != np.uint8:
            raise ValueError(f"DeferredCropFlip: flow must be uint8 (255 - v inversion), got {imgs.dtype}")
        img_h, img_w = imgs.shape[1:3]
        box = self.crop.crop_box(img_w, img_h, rng)
        flip = self.flip.draw(rng) if self.flip is not None else False
        label = self.flip.flipped_label(results.get("label")) if flip else results.get("label")
        return {**results, "imgs": np.ascontiguousarray(imgs), "crop_box": box, "flip": flip, "label": label,
                "modality": modality, "pass_through": ("crop_box", "flip")}


def split_train_pipeline(configs):
    """Split a training pipeline (dicts, as `pipelines.train_pipeline`) into the CPU part and the GPU part.

    The pipeline must read: [steps before the crop ...], MultiScaleCrop or RandomResizedCrop, Resize((w, h),
    keep_ratio=False), [Flip], FormatShape. Returns ``(cpu_steps, gpu)``: the steps before the crop followed by a
    `DeferredCropFlip` (for `TSNDataset`), and a `GPUCropFlip` that does the rest on a batch.
    """
    steps = build_pipeline(configs).transforms
    names = [type(step).__name__ for step in steps]
    where = next((k for k, step in enumerate(steps) if isinstance(step, CROPS)), None)
    if where is None:
        raise ValueError(f"split_train_pipeline: no MultiScaleCrop or RandomResizedCrop in {names}")
    tail = steps[where + 1:]
    if (not tail or not isinstance(tail[0], Resize) or tail[0].keep_ratio or type(tail[-1]).__name__ != "FormatShape"
            or any(not isinstance(step, Flip) for step in tail[1:-1]) or len(tail) > 3):
        raise ValueError(f"split_train_pipeline: after the crop expected Resize((w, h), keep_ratio=False), an "
                         f"optional Flip and FormatShape, got {names[where + 1:]}")
    if tail[-1].input_format == "NCHW_Stack":  # GPUCropFlip stacks flow only (it is told clip_len, not frames)
        raise ValueError("split_train_pipeline: stacked RGB frames (FormatShape NCHW_Stack, rgbdiff) are "
                         "augmented on the CPU")
    if tail[0].interpolation != "bilinear":
        raise ValueError(f"split_train_pipeline: the GPU resize is bilinear, got {tail[0].interpolation!r}")
    flip = tail[1] if len(tail) == 3 else None
    deferred = DeferredCropFlip(steps[where], flip, tail[0].scale)
    return steps[:where] + [deferred], GPUCropFlip(tail[0].scale, input_format=tail[-1].input_format)


def collate_padded(batch):
    """Collate items whose frames differ in size: zero-pad imgs to the largest H and W (bottom/right).

    Boxes keep their coordinates, so the padding is never read. Bad items (``"error"``) are dropped and listed
    under ``"errors"`` and ``"failures"``, as `data.collate_skipping_errors` does.
    """
    good, failures = split_failures(batch)
    errors = [failure["error"] for failure in failures]
    if not good:
        return dict(imgs=None, label=None, index=None, crop_box=None, flip=None, errors=errors, failures=failures)
    shapes = {tuple(item["imgs"].shape[:1]) + tuple(item["imgs"].shape[3:]) for item in good}
    if len(shapes) != 1:
        raise ValueError(f"collate_padded: items need the same frame count and channels, got (N, C) in {shapes}")
    height = max(item["imgs"].shape[1] for item in good)
    width = max(item["imgs"].shape[2] for item in good)
    imgs = torch.zeros((len(good), *good[0]["imgs"].shape[:1], height, width, good[0]["imgs"].shape[3]),
                       dtype=good[0]["imgs"].dtype)
    for out, item in zip(imgs, good):
        out[:, :item["imgs"].shape[1], :item["imgs"].shape[2]] = item["imgs"]
    rest = torch.utils.data.default_collate([{k: v for k, v in item.items() if k != "imgs"} for item in good])
    return dict(rest, imgs=imgs, errors=errors, failures=failures)


class GPUCropFlip:
    """Crop, resize and mirror a padded uint8 batch on its device: float32 [B, V, C', h, w] in 0..255.

    ``imgs``: uint8 [B, N, H, W, C] (channel-last, as the loader ships it); ``boxes``: [B, 4] (x1, y1, x2, y2);
    ``flips``: [B] bools. RGB: V = N, C' = 3. Flow (C = 2): N = V * clip_len frames become V images of
    2 * clip_len channels x_t0, y_t0, x_t1, ... (FormatShape's NCHW_Flow), and a mirrored clip has its x channels
    inverted (255 - v), as `transforms.Flip` does. Each video is one `interpolate` call over all its frames and
    channels (the boxes differ between videos); the flip is a `torch.flip`.
    """

    def __init__(self, size=(224, 224), input_format="NCHW"):
        self.size = _pair(size, "size")
        self.stack_flow = input_format == "NCHW_Flow"

    def __repr__(self):
        return f"GPUCropFlip(size={self.size}, stack_flow={self.stack_flow})"

    def __call__(self, imgs, boxes, flips, clip_len=None):
        if imgs.dtype != torch.uint8 or imgs.dim() != 5:
            raise ValueError(f"GPUCropFlip: imgs must be uint8 [B, N, H, W, C], got {imgs.dtype} {tuple(imgs.shape)}")
        boxes = torch.as_tensor(boxes).tolist()
        flips = torch.as_tensor(flips).tolist()
        if len(boxes) != len(imgs) or len(flips) != len(imgs):
            raise ValueError(f"GPUCropFlip: {len(imgs)} videos but {len(boxes)} boxes and {len(flips)} flips")
        batch, frames, _, _, channels = imgs.shape
        flow = channels == 2
        width, height = self.size
        out = torch.empty((batch, frames, channels, height, width), dtype=torch.float32, device=imgs.device)
        for video, (x1, y1, x2, y2), flip, target in zip(imgs, boxes, flips, out):
            crop = video[:, y1:y2, x1:x2].permute(0, 3, 1, 2).float()  # [N, C, h, w]
            if (y2 - y1, x2 - x1) != (height, width):
                crop = F.interpolate(crop, size=(height, width), mode="bilinear", align_corners=False)
            if flip:
                crop = crop.flip(-1)
                if flow:
                    crop[:, 0] = 255 - crop[:, 0]
            target.copy_(crop)
        if flow and self.stack_flow:
            clip_len = clip_len or 5
            if frames % clip_len:
                raise ValueError(f"GPUCropFlip: {frames} flow frames do not split into clips of {clip_len}")
            return out.reshape(batch, frames // clip_len, 2 * clip_len, height, width)
        return out


def benchmark(device=None, batch=32, frames=3, size=(256, 340), repeat=5, seed=0):
    """Videos per second of `GPUCropFlip` on ``device`` (default: CUDA if available, else CPU), for the
    zoo's TSN augmentation on random uint8 frames; the loader-side draw is not included."""
    import time

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    rng = np.random.default_rng(seed)
    crop, flip = MultiScaleCrop(224, scales=(1, 0.875, 0.75, 0.66)), Flip(0.5)
    height, width = size
    imgs = torch.from_numpy(rng.integers(0, 256, (batch, frames, height, width, 3), dtype=np.uint8)).to(device)
    boxes = [crop.crop_box(width, height, rng) for _ in range(batch)]
    flips = [flip.draw(rng) for _ in range(batch)]
    gpu = GPUCropFlip((224, 224))
    gpu(imgs, boxes, flips)  # warm-up
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        gpu(imgs, boxes, flips)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return dict(device=str(device), batch=batch, frames=frames, videos_per_s=round(batch / float(np.median(times)), 1))
