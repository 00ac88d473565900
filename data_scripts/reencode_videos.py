#!/usr/bin/env python3
"""Re-encode a folder of videos to H.264 for fast, exact random access.

    PYTHONPATH=. python data_scripts/reencode_videos.py SRC_DIR DST_DIR \\
        [--short-side 256] [--keyframe-interval 16] [--ext .mp4] [--workers N] [--crf 18]

Why: decord (and any seeking decoder) reaches frame i by decoding from the keyframe before it, so random access
costs up to one keyframe interval per frame. x264's default interval is 250 frames, longer than most clips;
a keyframe every 16 frames makes TSN's sparse sampling several times faster for a modest size increase. It also
cures the files decord mishandles (VP8/VP9 WebM, messy timestamps), as MMAction2's maintainers advise.

Every video under SRC_DIR is decoded with PyAV and written under DST_DIR with the same relative path (extension
replaced by --ext): short side resized to --short-side (aspect ratio kept, both sides even because yuv420p needs
it, bicubic like ffmpeg's scale filter; 0 keeps the size), a keyframe exactly every --keyframe-interval frames
(scene-cut keyframes off), the same frames and average frame rate, no audio (TSN uses none). Annotations that
count frames therefore stay valid. Files that fail are skipped and listed at the end.
"""
import argparse
import contextlib
import multiprocessing
import os
import sys

import av

from tsnbook.io import VIDEO_EXTENSIONS, write_video
from tsnbook.progress import bar


def output_size(width, height, short_side):
    """(width, height) with the short side scaled to `short_side` and both sides rounded to even numbers."""
    scale = short_side / min(width, height) if short_side > 0 else 1.0
    return max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2))


def reencode(job):
    """Re-encode one file; returns (source, bytes before, bytes after, error message or None)."""
    source, target, short_side, keyframe_interval, crf = job
    try:
        with av.open(source) as container:
            stream = container.streams.video[0]
            width, height = output_size(stream.codec_context.width, stream.codec_context.height, short_side)
            frames = (frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="BICUBIC")
                      for frame in container.decode(stream))
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            write_video(target, frames, fps=stream.average_rate or stream.guessed_rate or 30, codec="libx264",
                        crf=crf, preset="medium", g=keyframe_interval, sc_threshold=0)
        return source, os.path.getsize(source), os.path.getsize(target), None
    except Exception as error:  # a bad file must not stop the whole run
        return source, os.path.getsize(source), 0, f"{type(error).__name__}: {error}"


def find_videos(source_dir):
    for folder, _, names in sorted(os.walk(source_dir)):
        for name in sorted(names):
            if os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
                yield os.path.join(folder, name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src_dir")
    parser.add_argument("dst_dir")
    parser.add_argument("--short-side", type=int, default=256, help="target short side in pixels; 0 keeps the size")
    parser.add_argument("--keyframe-interval", type=int, default=16, help="frames between keyframes")
    parser.add_argument("--ext", default=".mp4", help="extension of the outputs (an H.264-capable container)")
    parser.add_argument("--crf", type=int, default=23, help="x264 quality (23, x264's default): lower = better, larger")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="parallel processes (one thread each)")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.src_dir):
        parser.error(f"source folder not found: {args.src_dir}")
    if os.path.abspath(args.src_dir) == os.path.abspath(args.dst_dir):
        parser.error("DST_DIR must differ from SRC_DIR")
    ext = args.ext if args.ext.startswith(".") else "." + args.ext
    jobs = []
    for source in find_videos(args.src_dir):
        relative = os.path.splitext(os.path.relpath(source, args.src_dir))[0] + ext
        jobs.append((source, os.path.join(args.dst_dir, relative), args.short_side, args.keyframe_interval, args.crf))
    if not jobs:
        print(f"no videos ({', '.join(sorted(VIDEO_EXTENSIONS))}) found under {args.src_dir}")
        return 1
    before = after = 0
    failures = []
    workers = max(1, min(args.workers, len(jobs)))
    with multiprocessing.Pool(workers) if workers > 1 else contextlib.nullcontext() as pool:
        results = pool.imap_unordered(reencode, jobs) if pool else map(reencode, jobs)  # 1 worker: in-process
        for source, size_in, size_out, error in bar(results, total=len(jobs), desc="re-encoding", unit="video"):
            if error:
                failures.append((source, error))
            else:
                before, after = before + size_in, after + size_out
    print(f"re-encoded {len(jobs) - len(failures)} of {len(jobs)} videos: "
          f"{before:,} bytes before, {after:,} bytes after ({after / max(before, 1):.2f}x)")
    if failures:
        print(f"skipped {len(failures)} files that failed:")
        for source, error in sorted(failures):
            print(f"  {source}: {error}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
