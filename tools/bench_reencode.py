#!/usr/bin/env python
"""What re-encoding with a keyframe every 16 frames buys (the README's "Data-pipeline speed"): videos/s of
tsnbook's training and test pipelines on the benchmark clips as written (x264's default keyframe interval, 250)
and re-encoded by `data_scripts/reencode_videos.py`, alternating in one process on the same randomly sampled
frames (`tsnbook.bench.time_runners`), by the wall clock and per CPU-second. A benchmark that prints figures,
never a test.

    PYTHONPATH=$PWD python tools/bench_reencode.py BENCH [--num 8] [--repeat 5] [--keyframe-interval 16]

BENCH holds (or gets) the clips of ``python -m tsnbook bench-data --root BENCH --write-clips``; the re-encoded
copies go to BENCH/keyint_K. Both sets are kept and reused (a copy older than its source is made again).
"""
import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "data_scripts"))

from reencode_videos import reencode  # noqa: E402

from tsnbook import bench  # noqa: E402

PIPELINES = ("video_train_1x1x3", "video_train_1x1x8", "video_test_25x3")


def reencoded_set(root, keyframe_interval, **clip):
    """The benchmark clips under ``root`` and their re-encoded copies: (records, {source path: copy's path})."""
    bench.write_bench_clips(root, **clip)
    records = bench._records("video_train_1x1x3", root, None)
    copies = {r.path: str(Path(root) / f"keyint_{keyframe_interval}" / Path(r.path).name) for r in records}
    for source, target in copies.items():
        if not Path(target).exists() or Path(target).stat().st_mtime_ns < Path(source).stat().st_mtime_ns:
            _, _, _, error = reencode((source, target, 0, keyframe_interval, 23))  # 0: keep the size
            if error:
                raise SystemExit(f"re-encoding {source} failed: {error}")
    return records, copies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench_dir")
    parser.add_argument("--num", type=int, default=8, help="benchmark clips (default 8)")
    parser.add_argument("--repeat", type=int, default=5, help="alternating timed passes over the clips (default 5)")
    parser.add_argument("--keyframe-interval", type=int, default=16)
    parser.add_argument("--frames", type=int, default=bench.BENCH_CLIP["frames"], help="frames per written clip")
    args = parser.parse_args(argv)
    if args.num < 1 or args.repeat < 1 or args.keyframe_interval < 1:
        parser.error("--num, --repeat and --keyframe-interval must be >= 1")
    records, copies = reencoded_set(args.bench_dir, args.keyframe_interval, num=args.num, frames=args.frames)
    size = {name: sum(Path(p).stat().st_size for p in paths) for name, paths in
            (("default", copies), ("reencoded", copies.values()))}
    print(f"{len(records)} clips, {size['default']:,} bytes; re-encoded with a keyframe every "
          f"{args.keyframe_interval} frames: {size['reencoded']:,} bytes ({size['reencoded'] / size['default']:.2f}x)")
    for name in PIPELINES:
        run = bench.tsnbook_runner(name)
        runners = {"default": run,
                   "reencoded": lambda record, run=run: run(dataclasses.replace(record, path=copies[record.path]))}
        rates = bench.time_runners(runners, records, args.repeat)
        (wall, cpu), (wall_k, cpu_k) = rates["default"], rates["reencoded"]
        print(f"{name:18s} keyint 250: {wall:6.2f} videos/s ({cpu:6.2f} per CPU-second), keyint "
              f"{args.keyframe_interval}: {wall_k:6.2f} ({cpu_k:6.2f}): x{wall_k / wall:.2f} by the wall clock, "
              f"x{cpu_k / cpu:.2f} per CPU-second (median of {args.repeat} passes over {len(records)} clips)")


if __name__ == "__main__":
    main()
