#!/usr/bin/env python
"""Extract TSN optical-flow JPEGs (and optionally RGB frames) from every video under a folder.

    python data_scripts/extract_flow.py VIDEO_ROOT OUT_ROOT [--ext .mp4 .avi ...] [--algorithm dis]
                                        [--bound 20] [--workers N] [--rgb] [--resolution short256]
                                        [--flow-tmpl '{}_{:05d}.jpg'] [--start-index 1] [--redo]

For VIDEO_ROOT/<class>/<video>.mp4 it writes OUT_ROOT/<class>/<video>/flow_x_00001.jpg, flow_y_00001.jpg, ...
(1-based; N - 1 flow frames for N frames), quantised like denseflow (clip to +-bound, map onto 0..255), and with
--rgb also img_00001.jpg, ... It prints a rawframes list line per video (``<dir> <num_flow_frames>``) to
OUT_ROOT/flow_counts.txt, from which list files are built. Videos that fail are skipped and listed.
Algorithms: dis (default, fast), farneback, tvl1 (TSN's published choice; needs opencv-contrib, ~1 pair/s/core).
Each video is streamed (constant memory), resized like denseflow (--resolution: original, 340x256, short320,
short256), and its folder appears only when complete; finished folders are skipped unless --redo.
For whole datasets in MMAction2's layout, data_scripts/prepare.py DATASET extract --frames flow does the same.
"""
import argparse
import sys
from pathlib import Path

from tsnbook.flow import ALGORITHMS, FLOW_TEMPLATES, RESOLUTIONS, extract_flow_dataset
from tsnbook.io import VIDEO_EXTENSIONS


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video_root", type=Path)
    parser.add_argument("out_root", type=Path)
    parser.add_argument("--ext", nargs="+", default=list(VIDEO_EXTENSIONS), help="default: tsnbook.io.VIDEO_EXTENSIONS")
    parser.add_argument("--algorithm", choices=ALGORITHMS, default="dis")
    parser.add_argument("--bound", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--rgb", action="store_true", help="also write img_{:05d}.jpg frames")
    parser.add_argument("--resolution", choices=list(RESOLUTIONS), default="original")
    parser.add_argument("--flow-tmpl", default=FLOW_TEMPLATES["flow"], help="e.g. '{}_{:05d}.jpg' (Kinetics)")
    parser.add_argument("--start-index", type=int, default=1)
    parser.add_argument("--redo", action="store_true", help="extract finished videos again")
    args = parser.parse_args()
    if not args.video_root.is_dir():
        sys.exit(f"error: {args.video_root} is not a folder")
    endings = {ext.lower() if ext.startswith(".") else "." + ext.lower() for ext in args.ext}
    videos = sorted(p for p in args.video_root.rglob("*") if p.suffix.lower() in endings)
    if not videos:
        sys.exit(f"error: no {' / '.join(args.ext)} files under {args.video_root}")
    jobs = [(v, args.out_root / v.relative_to(args.video_root).with_suffix("")) for v in videos]
    counts, failures = extract_flow_dataset(jobs, workers=args.workers, algorithm=args.algorithm,
                                            bound=args.bound, rgb_tmpl="img_{:05d}.jpg" if args.rgb else None,
                                            filename_tmpl=args.flow_tmpl, start_index=args.start_index,
                                            resolution=args.resolution, skip_done=not args.redo)
    args.out_root.mkdir(parents=True, exist_ok=True)
    lines = [f"{Path(v).relative_to(args.video_root).with_suffix('')} {n}" for v, n in sorted(counts.items())]
    (args.out_root / "flow_counts.txt").write_text("\n".join(lines) + "\n")
    print(f"{len(counts)} videos -> {args.out_root} ({sum(counts.values())} flow frames)")
    for path, reason in failures:
        print(f"skipped {path}: {reason}")
    return 1 if failures and not counts else 0


if __name__ == "__main__":
    sys.exit(main())
