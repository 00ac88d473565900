#!/usr/bin/env python
"""Scale of the dataset preparation (issue 10): Kinetics-700 has ~650k training videos. Prints

  1. `tsnbook.data.load_annotations` on a 650k-line videos list: seconds, and peak Python memory (tracemalloc)
     (targets: < 3 s, < 300 MiB);
  2. `build_lists` (kinetics700) from a 650k-row training CSV against a tree of empty placeholder files;
  3. `verify` (kinetics700) videos/s with 1 and 2 processes, on a tree of real H.264 + AAC clips, alternating
     over --rounds rounds (the speed-up is the median of the rounds' ratios, never one run of each).

    PYTHONPATH=$PWD python tools/bench_datasets.py [--rows 650000] [--videos 2000] [--rounds 3] [--work DIR] [--keep]

A benchmark, not a test: the figures depend on the machine (and on what else runs on it); nothing is asserted.
"""
import argparse
import csv
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tsnbook.datasets import kinetics, replica  # noqa: E402
from tsnbook.io import write_video  # noqa: E402

K700 = kinetics.KINETICS700


def _classes():
    return [f"class {i:03d} (part {i % 7})" if i % 50 else f"massaging person's head {i}" for i in range(700)]


def _csv(path, rows, labelled=True):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"] if labelled else
                        ["youtube_id", "time_start", "time_end", "split"])
        writer.writerows(rows)


def _rows(count, subset, seed, labelled=True):
    rng = np.random.default_rng(seed)
    classes = _classes()
    labels, starts = rng.integers(0, len(classes), count), rng.integers(0, 900, count)
    for i in range(count):
        youtube_id = f"{seed:02d}{i:09d}"
        row = [youtube_id, int(starts[i]), int(starts[i]) + 10, subset]
        yield ([classes[labels[i]]] + row) if labelled else row


def bench_load_annotations(work, rows):
    from tsnbook.data import load_annotations  # here, not at the top: verify's spawned workers re-import this
    # script, and tsnbook.data imports torch (seconds per worker)
    path = work / "k700_train_list_videos.txt"
    index = {name: i for i, name in enumerate(sorted(kinetics.class_folder(c) for c in _classes()))}
    with open(path, "w") as f:
        for label, youtube_id, start, end, _ in _rows(rows, "train", 1):
            folder = kinetics.class_folder(label)
            f.write(f"{folder}/{kinetics.clip_name(youtube_id, start, end)}.mp4 {index[folder]}\n")
    runs = []
    for _ in range(3):
        runs.append((_timed(lambda: load_annotations(path, "data/kinetics700/videos_train", "video"))[0], _timed.cpu))
    best, cpu = min(runs)
    tracemalloc.start()
    records = load_annotations(path, "data/kinetics700/videos_train", "video")
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"load_annotations, {len(records):,} lines: {best:.2f} s (best of 3; {cpu:.2f} s CPU), "
          f"peak {peak / 2 ** 20:.0f} MiB, "
          f"{held / 2 ** 20:.0f} MiB held by the records   [targets < 3 s, < 300 MiB]")


def _timed(function):
    """(wall seconds, result); the CPU seconds of this process are in `_timed.cpu` (on a shared machine the
    wall time also counts what the other programs take)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = function()
    _timed.cpu = time.process_time() - cpu
    return time.perf_counter() - start, result


def bench_build_lists(work, rows):
    root = work / "kinetics700_lists"
    train = list(_rows(rows, "train", 2))
    val = list(_rows(rows // 18, "val", 3))
    _csv(root / "annotations" / "kinetics_train.csv", train)
    _csv(root / "annotations" / "kinetics_val.csv", val)
    _csv(root / "annotations" / "kinetics_test.csv", _rows(rows // 9, "test", 4, labelled=False), labelled=False)
    start = time.perf_counter()
    made = 0
    for subset, table in (("train", train), ("val", val)):
        for number, (label, youtube_id, begin, end, _) in enumerate(table):
            if number % 20 == 7:
                continue  # 5 % missing, as in every Kinetics copy
            folder = root / f"videos_{subset}" / kinetics.class_folder(label)
            if number < 700 or not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{kinetics.clip_name(youtube_id, begin, end)}.mp4").touch()
            made += 1
    print(f"  (made {made:,} empty placeholder files in {time.perf_counter() - start:.0f} s)")
    seconds, report = _timed(lambda: K700.build_lists(root, workers=1))
    counts = report.counts["train videos"]
    print(f"build_lists (kinetics700), {len(train):,}-row train CSV + {len(val):,} val rows, placeholders: "
          f"{seconds:.1f} s ({_timed.cpu:.1f} s CPU); train lines written {counts['written']:,} of "
          f"{counts['annotated']:,} "
          f"({len(report.problems):,} missing reported)")


def bench_verify(work, videos, rounds=3):
    root = work / "kinetics700_verify"
    rng = np.random.default_rng(0)
    sources = []
    for i in range(8):  # 8 distinct real clips, 2-3 s, 340x256 / 25 fps, H.264 + AAC: hard links give the rest
        frames = replica.render_clip(rng, 60, 256, 340, (200, 40 + 20 * i, 40), (3, 1))
        path = work / f"clip{i}.mp4"
        write_video(path, frames, fps=25, audio=replica.tone(rng, 2.4), preset="veryfast")
        sources.append(path)
    rows = [[f"class {i % 20:02d}", f"v{i:010d}", 0, 10, "train"] for i in range(videos)]
    _csv(root / "annotations" / "kinetics_train.csv", rows)
    _csv(root / "annotations" / "kinetics_val.csv", rows[:20])
    _csv(root / "annotations" / "kinetics_test.csv", [r[1:] for r in rows[:5]], labelled=False)
    for subset, table in (("train", rows), ("val", rows[:20])):
        for number, (label, youtube_id, begin, end, _) in enumerate(table):
            target = root / f"videos_{subset}" / kinetics.class_folder(label) / \
                f"{kinetics.clip_name(youtube_id, begin, end)}.mp4"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(sources[number % len(sources)], target)
    K700.build_lists(root, workers=1)
    K700.verify(root, workers=1)  # warm the page cache, so that every run reads from memory
    runs = {1: [], 2: []}  # workers -> (videos/s, CPU s here, CPU s in the workers) per round
    for index in range(rounds):
        for workers in (1, 2) if index % 2 == 0 else (2, 1):  # alternating: both see the machine as it is
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            seconds, report = _timed(lambda: K700.verify(root, workers=workers))
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            worker_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
            checked = sum(n for action, n in report.actions.items() if action.endswith("checked"))
            runs[workers].append((checked / seconds, _timed.cpu, worker_cpu))
    for workers, figures in runs.items():
        rate, cpu, worker_cpu = sorted(figures)[len(figures) // 2]  # the median round
        print(f"verify (kinetics700), {checked} videos, {workers} process{'es' if workers > 1 else ''}: "
              f"{rate:.0f} videos/s, median of {rounds} alternating rounds (that round's CPU: {cpu:.1f} s here, "
              f"{worker_cpu:.1f} s in the workers)")
    ratios = [two[0] / one[0] for one, two in zip(runs[1], runs[2])]
    print(f"  2 processes / 1 process: x{float(np.median(ratios)):.2f}, the median of {rounds} rounds' ratios "
          f"(x{min(ratios):.2f} to x{max(ratios):.2f}; on {os.cpu_count()} cores, shared with whatever else runs here)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=650_000, help="lines of the list and rows of the training CSV")
    p.add_argument("--videos", type=int, default=2000, help="real videos for the verify benchmark")
    p.add_argument("--rounds", type=int, default=3, help="verify: alternating rounds of 1 and 2 processes")
    p.add_argument("--work", default=None, help="scratch folder (default: a new one under the system's temp)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument("--only", choices=("load", "lists", "verify"), default=None)
    args = p.parse_args(argv)
    if args.rounds < 1 or args.videos < 1:
        p.error(f"--rounds and --videos must be >= 1 (got {args.rounds}, {args.videos})")
    work = Path(args.work or tempfile.mkdtemp(prefix="tsnbook_bench_datasets_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.only in (None, "load"):
            bench_load_annotations(work, args.rows)
        if args.only in (None, "lists"):
            bench_build_lists(work, args.rows)
        if args.only in (None, "verify"):
            bench_verify(work, args.videos, args.rounds)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
