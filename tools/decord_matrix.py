#!/usr/bin/env python
"""Which codec / container pairs decord's random access reads right: the measurement behind
`tsnbook.io.decord_misplaces_frames`. A check that prints a table, never a test.

    python tools/decord_matrix.py [--folder DIR] [--extra] [--frames N] [--only NAME ...]

Encodes a 60-frame 160x120 clip (a moving pattern, every frame different) for each codec x container that
FFmpeg can mux, then compares decord's `get_batch` (one thread and the `fault_tol` that `DecordVideo` uses) with
PyAV's in-order decode, exactly, for 12 index sets (spread, ascending random, all frames), each on a fresh reader
and again on one reader reused from set to set. A file is WRONG when any set differs or raises. The last column is
tsnbook's rule; a line marked UNSAFE (decord wrong, yet trusted) means the rule must grow: rerun this after
upgrading decord or PyAV. `--extra` adds H.264 without B-frames, MPEG-4 with one B-frame, HEVC, WMV, FLV.
`--frames 1000` measures long clips instead: several keyframe intervals of each encoder's default (x264: 250,
libvpx: 128), where a seek has to find a keyframe far from the start (dmlc/decord #91: long WebM files). decord
may not return on some refused files (a 1000-frame MPEG-1 AVI with B-frames): run the long table in parts
(`--only h264 vp8 vp9`: the clips whose name starts so).
"""
import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tsnbook.io import DECORD_FAULT_TOL, decord_misplaces_frames, open_video, write_video  # noqa: E402

NUM, HEIGHT, WIDTH = 60, 120, 160
CONTAINERS = [".avi", ".mp4", ".mkv", ".mpg", ".ts", ".mov", ".webm"]
CODECS = [("h264", "libx264", {}), ("h264 g12", "libx264", {"g": 12}), ("mpeg4", "mpeg4", {}),
          ("mpeg4 bf2", "mpeg4", {"bf": 2}), ("mpeg1", "mpeg1video", {}), ("mpeg1 bf2", "mpeg1video", {"bf": 2}),
          ("mpeg2", "mpeg2video", {}), ("mpeg2 bf2", "mpeg2video", {"bf": 2}), ("msmpeg4v2", "msmpeg4v2", {}),
          ("vp8", "libvpx", {}), ("vp9", "libvpx-vp9", {}), ("mjpeg", "mjpeg", {"pix_fmt": "yuvj420p"})]
EXTRA = [(("h264 bf0", "libx264", {"bf": 0, "g": 12}), [".avi", ".mp4", ".mkv", ".ts", ".flv"]),
         (("h264 g12", "libx264", {"g": 12}), [".flv"]),
         (("mpeg4 bf1", "mpeg4", {"bf": 1}), [".avi", ".mp4", ".mkv"]),
         (("hevc", "libx265", {"g": 12, "x265-params": "log-level=0"}), [".mp4", ".mkv", ".ts"]),
         (("hevc bf0", "libx265", {"g": 12, "x265-params": "bframes=0:log-level=0"}), [".mp4", ".mkv"]),
         (("wmv2", "wmv2", {}), [".wmv", ".avi"]), (("msmpeg4", "msmpeg4", {}), [".wmv", ".avi"]),
         (("flv1", "flv", {}), [".flv"]), (("ffv1", "ffv1", {}), [".avi", ".mkv"])]


def pattern(index):
    """Frame `index`: a grey level and two boxes that move at different speeds, so no two frames are alike."""
    frame = np.full((HEIGHT, WIDTH, 3), index * 4 % 256, np.uint8)
    frame[10:30, index * 2 % 140:index * 2 % 140 + 20] = 255
    frame[60:80, index * 5 % 150:index * 5 % 150 + 10] = (255, 0, 0)
    return frame


def index_sets(rng):
    spread = [[7, 14, 21, 40], [0, 1, NUM // 2 - 1, NUM - 2, NUM - 1], list(range(0, NUM, 3)), [NUM - 1], [NUM // 2]]
    ascending = [sorted(rng.choice(NUM, k, replace=False).tolist()) for k in (3, 5, 8, 8, 12, 12)]
    return spread + ascending + [list(range(NUM))]


def compare(path, sets):
    """(differing sets, failing sets, largest pixel difference) of decord against PyAV, or a string why not."""
    import decord
    reference = open_video(path, "pyav").get(range(NUM)).astype(int)
    try:
        reader = decord.VideoReader(path, num_threads=1, fault_tol=DECORD_FAULT_TOL)
    except Exception as error:  # decord has no decoder for it, or cannot parse the container
        return f"decord cannot open it ({type(error).__name__})"
    if len(reader) != NUM:
        return f"decord counts {len(reader)} frames (tsnbook refuses it already)"
    wrong = failed = largest = 0
    for fresh in (True, False):
        for indices in sets:
            reader = decord.VideoReader(path, num_threads=1, fault_tol=DECORD_FAULT_TOL) if fresh else reader
            try:
                difference = np.abs(reader.get_batch(indices).asnumpy() - reference[indices]).max()
            except Exception:
                failed += 1
                continue
            wrong, largest = wrong + int(difference > 0), max(largest, difference)
    return wrong, failed, largest


def measure(folder, name, codec, options, extension, sets):
    path = os.path.join(folder, name.replace(" ", "_") + extension)
    options = dict(options)
    pix_fmt = options.pop("pix_fmt", None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            write_video(path, (pattern(i) for i in range(NUM)), fps=25, codec=codec, pix_fmt=pix_fmt, **options)
        with av.open(path) as container:
            context = container.streams.video[0].codec_context if container.streams.video else None
            if context is None:
                return None  # muxed, but PyAV cannot read it back: not a file anyone decodes
            kind = container.format.name, context.name, bool(context.has_b_frames)
    except (ValueError, av.FFmpegError):
        return None  # the container cannot hold the codec, or the encoder is missing
    result = compare(path, sets)
    refusal = decord_misplaces_frames(*kind)
    if isinstance(result, str):
        verdict = result
    else:
        wrong, failed, largest = result
        verdict = (f"WRONG ({wrong} differ, {failed} raise, of {2 * len(sets)}; max diff {largest})"
                   if wrong or failed else f"right ({2 * len(sets)} sets equal)")
    rule = "refused" if refusal else ("UNSAFE: trusted" if verdict.startswith("WRONG") else "trusted")
    return f"| {name} | {extension} | {kind[0]} | {kind[1]} | {kind[2]} | {verdict} | {rule} |"


def main():
    global NUM
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", help="where the clips go (default: a temporary folder)")
    parser.add_argument("--extra", action="store_true", help="the second table (see the module docstring)")
    parser.add_argument("--frames", type=int, default=NUM, help=f"frames per clip (default {NUM})")
    parser.add_argument("--only", nargs="+", help="the clips whose name starts with one of these (e.g. vp8 h264)")
    args = parser.parse_args()
    NUM = args.frames
    pairs = ([(c, e) for c, extensions in EXTRA for e in extensions] if args.extra
             else [(c, e) for c in CODECS for e in CONTAINERS])
    pairs = [(c, e) for c, e in pairs if not args.only or c[0].startswith(tuple(args.only))]
    sets = index_sets(np.random.default_rng(0))
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder or scratch
        os.makedirs(folder, exist_ok=True)
        print("| clip | ext | format | codec | has_b_frames | decord vs PyAV | tsnbook |")
        print("|---|---|---|---|---|---|---|")
        for (name, codec, options), extension in pairs:
            line = measure(folder, name, codec, options, extension, sets)
            if line:
                print(line, flush=True)


if __name__ == "__main__":
    main()
