"""Optical flow for the temporal stream: compute, quantise to JPEG, read back; frame extraction for datasets.

TSN's flow stream does not see flow vectors, it sees *images* of them: each frame pair gives an x and a y
grayscale JPEG, ``flow_x_00001.jpg`` and ``flow_y_00001.jpg`` (1-based), holding the displacement clipped to
+-``bound`` pixels and mapped linearly onto 0..255, exactly as denseflow and MMAction2's
``tools/misc/flow_extraction.py`` store it: value = (clip(f, -20, 20) + 20) * 255 / 40, so zero
motion is 127.5 and the models later normalise with (v - 128) / 128 (an MMAction2 quirk kept on purpose).

Algorithms (all OpenCV): ``"tvl1"`` (TV-L1, `ZOO_ALGORITHM`: what denseflow's ``-a=tvl1`` and so the zoo's
published flow numbers use; about 1.3 pairs/s on one core, and only in ``opencv-contrib-python-headless``),
``"dis"`` (DIS, medium preset, `FAST_ALGORITHM` and the default: about 140 pairs/s on one core at 340x256) and
``"farneback"`` (about 46 pairs/s). A video of N frames gives N - 1 flow frames.

Extraction streams: `extract_video_frames` decodes one frame at a time (PyAV, in order) and keeps only the
previous grey frame, so memory is constant per video whatever its length (an untrimmed ActivityNet video used
to need tens of GB when all its frames and float flow were held). It resizes like denseflow (`RESOLUTIONS`,
`output_size`), writes the names the zoo's configs read (`FLOW_TEMPLATES`; any template and index base), and
builds each video's folder under a hidden temporary name that is renamed only when the video is complete, so a
folder under its real name is always whole. `is_extracted` is the matching completion check (every expected
file present, first image of the expected size), used to skip finished videos when a run resumes.
"""
import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np

from .io import DecodeError, FlowFrames, frame_to_rgb

ALGORITHMS = ("dis", "farneback", "tvl1")
ZOO_ALGORITHM = "tvl1"  # denseflow -a=tvl1: the algorithm behind the zoo's flow rows
FAST_ALGORITHM = "dis"  # the default: about 100 times faster than TV-L1 on a CPU

#: The flow file names of the zoo's configs: ``{}`` is the axis ("x" / "y"), then the frame number.
FLOW_TEMPLATES = {
    "flow": "flow_{}_{:05d}.jpg",  # denseflow and MMAction2's RawframeDataset default (flow_x_00001.jpg)
    "kinetics": "{}_{:05d}.jpg",  # the K400 flow rows and tools/misc/flow_extraction.py (x_00001.jpg)
}
RGB_TEMPLATE = "img_{:05d}.jpg"

#: MMAction2's frame resolutions (build_rawframes.py options): None keeps the size, (W, H) resizes to exactly
#: that size (--new-width/--new-height), an int S makes the short side S, only if it is longer (--new-short).
RESOLUTIONS = {"original": None, "340x256": (340, 256), "short320": 320, "short256": 256}


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
    """Flow between consecutive RGB frames ``[T, H, W, 3]`` -> float32 ``[T - 1, H, W, 2]`` (all in memory:
    for short clips and figures; datasets go through `extract_video_frames`, which streams)."""
    flow_fn = make_flow_fn(algorithm)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    return np.stack([flow_fn(a, b) for a, b in zip(gray[:-1], gray[1:])]) if len(gray) > 1 else \
        np.zeros((0, *frames.shape[1:3], 2), np.float32)


def output_size(width, height, resolution=None):
    """(width, height) of extracted frames, by denseflow's rule: ``resolution`` None keeps the size, a
    (W, H) pair is the exact size, an int S scales the short side to S only when it is longer than S (denseflow
    never enlarges: HMDB51's 240-px videos stay 240 under short side 256); the long side is truncated to an int,
    as MMAction2's build_rawframes.py does. Names: those of `RESOLUTIONS`, ``"short<S>"``, ``"<W>x<H>"``."""
    if isinstance(resolution, str):
        name = resolution
        resolution = RESOLUTIONS[name] if name in RESOLUTIONS else \
            int(name[5:]) if name.startswith("short") and name[5:].isdigit() else \
            tuple(int(v) for v in name.split("x")) if re.fullmatch(r"\d+x\d+", name) else name
        if isinstance(resolution, str):
            raise ValueError(f"resolution {name!r}: use one of {list(RESOLUTIONS)}, 'short<N>' or '<W>x<H>'")
    if resolution is None:
        return width, height
    if isinstance(resolution, (tuple, list)):
        return int(resolution[0]), int(resolution[1])
    short = int(resolution)
    if min(width, height) <= short:
        return width, height
    if height <= width:
        return int(width * short / height), short
    return short, int(height * short / width)


def iter_frames(video_path, resolution=None):
    """Decode ``video_path`` in order, one RGB uint8 frame at a time, resized by `output_size`. Constant memory.
    A file that breaks halfway raises `tsnbook.io.DecodeError` after the frames it gave."""
    path, decoded = str(video_path), 0
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise DecodeError(path, "the file has no video stream")
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1  # parallelism comes from the pool's processes
            size = None
            for frame in container.decode(stream):
                image = frame_to_rgb(frame)  # upright, as the display matrix asks (tsnbook.io.videos.upright)
                if size is None:
                    size = output_size(image.shape[1], image.shape[0], resolution)
                if size != (image.shape[1], image.shape[0]):
                    image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
                decoded += 1
                yield image
    except av.FFmpegError as error:
        raise DecodeError(path, f"PyAV failed after {decoded} frames ({error})") from error


def _write_jpeg(path, image):
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    buf.tofile(path)


def staging_dir(out_dir):
    """Where `extract_video_frames` builds ``out_dir`` before renaming it: a hidden sibling, so that neither
    tsnbook nor MMAction2's globbing tools ever take a half-written folder for a video."""
    out_dir = Path(out_dir)
    return out_dir.with_name(f".{out_dir.name}.partial")


def extract_video_frames(video_path, out_dir, flow_tmpl=FLOW_TEMPLATES["flow"], rgb_tmpl=None, algorithm="dis",
                         bound=20.0, start_index=1, resolution=None):
    """Stream ``video_path`` once and write its flow JPEGs (``flow_tmpl``, None for none) and RGB JPEGs
    (``rgb_tmpl``, None for none) into ``out_dir``, numbered from ``start_index``. Returns ``dict(rgb=, flow=)``.

    The files are written into `staging_dir` (emptied first: a crashed run's leftovers are not trusted), which
    becomes ``out_dir`` by one rename when the video is complete. If ``out_dir`` already exists (RGB extracted
    before, flow now), the new files are moved into it one by one and the old ones kept.
    """
    if flow_tmpl is None and rgb_tmpl is None:
        raise ValueError("nothing to extract: give flow_tmpl and/or rgb_tmpl")
    out_dir = Path(out_dir)
    stage = staging_dir(out_dir)
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    flow_fn = make_flow_fn(algorithm) if flow_tmpl else None
    counts, previous, decoded = dict(rgb=0, flow=0), None, 0
    try:
        for i, frame in enumerate(iter_frames(video_path, resolution)):
            decoded += 1
            if rgb_tmpl:
                _write_jpeg(stage / rgb_tmpl.format(i + start_index), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                counts["rgb"] += 1
            if flow_fn is not None:
                gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
                if previous is not None:
                    pair = quantize_flow(flow_fn(previous, gray), bound)
                    number = counts["flow"] + start_index
                    _write_jpeg(stage / flow_tmpl.format("x", number), pair[..., 0])
                    _write_jpeg(stage / flow_tmpl.format("y", number), pair[..., 1])
                    counts["flow"] += 1
                previous = gray
        if decoded == 0:
            raise DecodeError(str(video_path), "it contains no decodable video frames")
        if out_dir.exists():
            for name in os.listdir(stage):
                os.replace(stage / name, out_dir / name)
            stage.rmdir()
        else:
            os.replace(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return counts


def is_extracted(video_path, out_dir, flow_tmpl=FLOW_TEMPLATES["flow"], rgb_tmpl=None, start_index=1,
                 resolution=None, num_frames=None):
    """True when ``out_dir`` holds every file `extract_video_frames` would write for ``video_path`` with these
    settings: N RGB and N - 1 flow pairs numbered from ``start_index`` (N = ``num_frames``, else
    `tsnbook.io.probe_video`'s count), the first image of the size ``resolution`` gives. The algorithm cannot
    be seen in the files: a folder made with another one counts as done."""
    from .io import probe_video

    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return False
    try:
        if num_frames is None:
            num_frames = probe_video(video_path)[0]
        with av.open(str(video_path)) as container:
            first = frame_to_rgb(next(container.decode(video=0)))  # its size as extracted: upright
            height, width = first.shape[:2]
    except (DecodeError, av.FFmpegError, IndexError, OSError, StopIteration):
        return False
    names = set(os.listdir(out_dir))
    wanted = []
    if rgb_tmpl:
        wanted += [rgb_tmpl.format(i + start_index) for i in range(num_frames)]
    if flow_tmpl:
        wanted += [flow_tmpl.format(axis, i + start_index) for i in range(num_frames - 1) for axis in "xy"]
    if not wanted or not names.issuperset(wanted):
        return False
    image = cv2.imread(str(out_dir / wanted[0]), cv2.IMREAD_UNCHANGED)
    return image is not None and (image.shape[1], image.shape[0]) == output_size(width, height, resolution)


def extract_video_flow(video_path, out_dir, algorithm="dis", bound=20.0,
                       filename_tmpl="flow_{}_{:05d}.jpg", start_index=1, rgb_tmpl=None, resolution=None):
    """Decode ``video_path``, write its flow JPEGs (and RGB JPEGs if ``rgb_tmpl``) into ``out_dir``.

    Returns the number of flow frames written. Streams (`extract_video_frames`): constant memory, and the
    folder appears under its name only when complete.
    """
    return extract_video_frames(video_path, out_dir, flow_tmpl=filename_tmpl, rgb_tmpl=rgb_tmpl,
                                algorithm=algorithm, bound=bound, start_index=start_index,
                                resolution=resolution)["flow"]


@contextlib.contextmanager
def video_flow(video_path, algorithm="dis", bound=20.0, resolution=None):
    """The optical flow of a video file, as the `FlowFrames` reader a flow dataset would open on its files: what
    a flow model scores (`tsnbook.predict`) and what a flow model's exported views are made of (`tsnbook.views`).

    The flow is computed by `extract_video_flow` - the extraction that makes training data: each frame pair's
    displacement clipped to +-``bound``, quantised to 0..255 and stored as x/y JPEGs - into a temporary folder
    that is removed when the ``with`` block ends. ``resolution``: the size the frames are brought to first (None:
    the video's own; "340x256", "short256", ... see `output_size`). A video of one frame has no flow: refused,
    saying so (flow needs two frames), rather than sampled as a video of none.
    """
    if not Path(video_path).is_file():
        raise FileNotFoundError(f"video {video_path} does not exist")
    with tempfile.TemporaryDirectory(prefix="tsnbook-flow-") as folder:
        out = Path(folder) / Path(video_path).stem
        count = extract_video_flow(video_path, out, algorithm=algorithm, bound=bound, resolution=resolution)
        if count == 0:
            raise DecodeError(video_path, "it has 1 frame, and optical flow needs at least 2 (a flow model sees the "
                                          "motion between consecutive frames): give a longer video")
        yield FlowFrames(out, count)


def _extract_one(job):
    video_path, out_dir, kwargs, skip_done = job
    cv2.setNumThreads(1)  # parallelism comes from the pool's processes
    try:
        if skip_done:
            check = {k: kwargs[k] for k in ("rgb_tmpl", "start_index", "resolution") if k in kwargs}
            check["flow_tmpl"] = kwargs.get("filename_tmpl", FLOW_TEMPLATES["flow"])
            if is_extracted(video_path, out_dir, **check):
                return video_path, probe_flow_count(video_path), None
        return video_path, extract_video_flow(video_path, out_dir, **kwargs), None
    except Exception as err:  # reported by the caller; one bad video must not stop a dataset
        return video_path, 0, f"{type(err).__name__}: {err}"


def probe_flow_count(video_path):
    """The number of flow frames a finished folder holds for ``video_path``: frames - 1."""
    from .io import probe_video
    return max(probe_video(video_path)[0] - 1, 0)


def extract_flow_dataset(jobs, workers=None, progress=True, skip_done=False, **kwargs):
    """Run `extract_video_flow` over ``jobs`` = [(video_path, out_dir), ...]: in this process for ``workers=1``
    (no pool to start, and a script needs no ``__main__`` guard), else in spawned processes (`tsnbook.jobs.run`).

    Returns ``(counts, failures)``: flow-frame counts by video path, and a list of (path, reason) for videos
    that failed (they are skipped, not fatal). ``kwargs`` go to `extract_video_flow`. ``skip_done``: videos whose
    folder is complete (`is_extracted`) are not extracted again (their count is still returned).
    """
    import time

    from .jobs import run, worker_count
    from .progress import line

    work = [(str(v), str(o), kwargs, skip_done) for v, o in jobs]
    workers = worker_count(workers, len(work))
    started = time.time()
    counts, failures = {}, []
    for path, count, error in run(_extract_one, work, workers, desc="optical flow", chunksize=4, progress=progress):
        if error:
            failures.append((path, error))
        else:
            counts[path] = count
    line(progress, f"optical flow: {len(counts)} video(s) done, {len(failures)} failed, {workers} process(es), "
                   f"{time.time() - started:.0f} s")
    return counts, failures
