"""Optical flow for the temporal stream: compute, quantise to JPEG, read back.

TSN's flow stream does not see flow vectors, it sees *images* of them: each frame pair gives an x and a y
grayscale JPEG, ``flow_x_00001.jpg`` and ``flow_y_00001.jpg`` (1-based), holding the displacement clipped to
+-``bound`` pixels and mapped linearly onto 0..255, exactly as denseflow and MMAction2's
``tools/misc/flow_extraction.py`` store it (spec §3): value = (clip(f, -20, 20) + 20) * 255 / 40, so zero
motion is 127.5 and the models later normalise with (v - 128) / 128 (an MMAction2 quirk kept on purpose).

Algorithms (all OpenCV): ``"dis"`` (DIS, medium preset: the default, about 140 pairs/s on one core at
340x256), ``"farneback"`` (about 46 pairs/s) and ``"tvl1"`` (TV-L1, what TSN's published numbers use; about
1.3 pairs/s on one core, and only in ``opencv-contrib-python-headless``). A video of N frames gives N - 1
flow frames.
"""
import os
from pathlib import Path

import cv2
import numpy as np

from .io import open_video

ALGORITHMS = ("dis", "farneback", "tvl1")


def make_flow_fn(algorithm="dis"):
    """Return ``fn(prev_gray, next_gray) -> float32 [H, W, 2]`` (x, y displacement in pixels)."""
    if algorithm == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return lambda prev, nxt: dis.calc(prev, nxt, None)
    if algorithm == "farneback":
        return lambda prev, nxt: cv2.calcOpticalFlowFarneback(prev, nxt, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    if algorithm == "tvl1":
        if not hasattr(cv2, "optflow"):
            raise RuntimeError("TV-L1 flow needs OpenCV's contrib modules: "
                               "pip install opencv-contrib-python-headless (instead of opencv-python-headless)")
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
        return lambda prev, nxt: tvl1.calc(prev, nxt, None)
    raise ValueError(f"unknown flow algorithm {algorithm!r}; choose one of {ALGORITHMS}")


def quantize_flow(flow, bound=20.0):
    """float [..., 2] displacement -> uint8 [..., 2]: clip to +-bound, map linearly onto 0..255, round."""
    scaled = (np.clip(flow, -bound, bound) + bound) * (255.0 / (2 * bound))
    return np.round(scaled).astype(np.uint8)


def dequantize_flow(quantized, bound=20.0):
    """uint8 [..., 2] -> float32 displacement in pixels (the inverse of `quantize_flow`, up to rounding)."""
    return quantized.astype(np.float32) * (2 * bound / 255.0) - bound


def compute_flow(frames, algorithm="dis"):
    """Flow between consecutive RGB frames ``[T, H, W, 3]`` -> float32 ``[T - 1, H, W, 2]``."""
    flow_fn = make_flow_fn(algorithm)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    return np.stack([flow_fn(a, b) for a, b in zip(gray[:-1], gray[1:])]) if len(gray) > 1 else \
        np.zeros((0, *frames.shape[1:3], 2), np.float32)


def extract_video_flow(video_path, out_dir, algorithm="dis", bound=20.0,
                       filename_tmpl="flow_{}_{:05d}.jpg", start_index=1, rgb_tmpl=None):
    """Decode ``video_path``, write its flow JPEGs (and RGB JPEGs if ``rgb_tmpl``) into ``out_dir``.

    Returns the number of flow frames written. Files are written under temporary names and renamed, so an
    interrupted run never leaves a half-written JPEG behind a valid name.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open_video(video_path) as video:
        frames = video.get(np.arange(video.num_frames))
    flow = quantize_flow(compute_flow(frames, algorithm), bound)
    images = []
    for i, pair in enumerate(flow):
        images.append((filename_tmpl.format("x", i + start_index), pair[..., 0]))
        images.append((filename_tmpl.format("y", i + start_index), pair[..., 1]))
    if rgb_tmpl:
        images += [(rgb_tmpl.format(i + start_index), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
                   for i, f in enumerate(frames)]
    for name, image in images:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise RuntimeError(f"could not encode {out_dir / name}")
        tmp = out_dir / (name + ".tmp")
        buf.tofile(tmp)
        os.replace(tmp, out_dir / name)
    return len(flow)


def _extract_one(job):
    video_path, out_dir, kwargs = job
    cv2.setNumThreads(1)  # parallelism comes from the pool's processes
    try:
        return video_path, extract_video_flow(video_path, out_dir, **kwargs), None
    except Exception as err:  # reported by the caller; one bad video must not stop a dataset
        return video_path, 0, f"{type(err).__name__}: {err}"


def extract_flow_dataset(jobs, workers=None, progress=True, **kwargs):
    """Run `extract_video_flow` over ``jobs`` = [(video_path, out_dir), ...] in a process pool.

    Returns ``(counts, failures)``: flow-frame counts by video path, and a list of (path, reason) for videos
    that failed (they are skipped, not fatal). ``kwargs`` go to `extract_video_flow`.
    """
    from multiprocessing import get_context

    from tqdm.auto import tqdm

    work = [(str(v), str(o), kwargs) for v, o in jobs]
    workers = workers or min(len(work), os.cpu_count() or 1) or 1
    counts, failures = {}, []
    # "spawn": decoders and OpenCV thread pools must never cross a fork (see tsnbook.io).
    with get_context("spawn").Pool(workers) as pool:
        results = pool.imap_unordered(_extract_one, work, chunksize=4)
        for path, count, error in tqdm(results, total=len(work), desc="optical flow", disable=not progress):
            if error:
                failures.append((path, error))
            else:
                counts[path] = count
    return counts, failures
