"""``python -m tsnbook bench-data``: how many videos per second one data pipeline prepares in one process.

    python -m tsnbook bench-data --pipeline video_test_25x10 --root /tmp/bench [--repeat 3] [--mmaction2]

The clips are those `write_bench_clips` writes (``--write-clips``: Kinetics-like 340x256 clips of 10 s at 30 fps, x264's
default keyframe interval), or any folder of the same layout: ROOT/videos.txt lists "clip_000.mp4 0" under ROOT/videos,
ROOT/rawframes.txt "clip_000 300 0" under ROOT/rawframes (``--rawframes``). Each pipeline runs from the file on disk to
the uint8 tensor the model consumes, on the CPU, one video at a time (what one DataLoader worker does). Data loading is
usually what limits TSN on a CPU or a small GPU, so this is the number to watch; pin the process to one core
(`taskset -c 1`) to measure one worker. ``--workers N`` instead runs the pipeline in N DataLoader worker
processes (spawned, as the engine's) and reports their joint rate: with free cores it should grow about N-fold,
which is how many decoding cores one GPU needs can be read off (GPU videos/s / one worker's videos/s).

`--mmaction2` also runs the same pipeline through MMAction2 1.2.0 (the test oracle, from `.oracle/site`, never
a dependency), alternating pass by pass with tsnbook in this process, so that both see the same machine state,
on the same randomly drawn frames. Each pass times all clips once; rates come from the median pass, by the wall
clock and by this process's CPU time (robust to other processes on a shared machine). The last line printed is
a JSON object: {"pipeline": NAME, "videos_per_s": X, ...} (with --mmaction2 also MMAction2's rates and ratios).
"""
import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

from .bench_clips import BENCH_CLIP, write_bench_clips

__all__ = ["PIPELINES", "BENCH_CLIP", "write_bench_clips", "tsnbook_runner", "mmaction2_runner", "time_runners",
           "PipelineDataset", "loader_rate", "main"]

#: name -> (source, zoo sampling name, "train" or a test protocol of tsnbook.pipelines)
PIPELINES = {
    "video_train_1x1x3": ("video", "1x1x3", "train"),
    "video_train_1x1x8": ("video", "1x1x8", "train"),
    "video_test_25x10": ("video", "25x10", "25x10"),
    "video_test_25x3": ("video", "25x3", "25x3"),
    "frames_train_1x1x3": ("rawframes", "1x1x3", "train"),
    "frames_test_25x10": ("rawframes", "25x10", "25x10"),
}
LISTS = {"video": ("videos.txt", "videos"), "rawframes": ("rawframes.txt", "rawframes")}
ORACLE = Path(__file__).resolve().parents[1] / ".oracle"  # tools/install_oracle.sh; TSNBOOK_ORACLE moves it


def tsnbook_runner(name, backend=None, gpu_augment=False, decode_only=False):
    """`run(record) -> torch uint8 tensor` for one of PIPELINES, built from tsnbook only.

    Random draws (training: frames, crop, flip) are MMAction2's own calls on numpy's and Python's global
    generators (``rng=None``), which `time_runners` seeds alike for every implementation.

    `gpu_augment` (training pipelines): stop where the loader stops when the GPU augments
    (`tsnbook.gpu_augment.DeferredCropFlip`: decode, resize, draw the crop and flip), i.e. the CPU's share.
    `decode_only`: stop after decoding the sampled frames (uint8 [T, H, W, 3]): the part no exact pipeline can
    skip. Its rate bounds every pipeline that returns MMAction2's pixels with this decoder on one core."""
    import torch

    from .io import RawFrames, open_selective
    from .pipelines import protocol_sampler, train_pipeline
    from .predict import test_views
    from .sampling import zoo_sampling
    from .transforms import build_pipeline

    source, sampling, mode = PIPELINES[name]

    def reader(record):
        if source == "video":
            return open_selective(record.path, backend)
        return RawFrames(record.path, record.num_frames, "img_{:05d}.jpg", start_index=1)

    if decode_only:
        sampler = zoo_sampling(sampling, test_mode=False) if mode == "train" else protocol_sampler(mode)

        def run(record):
            with reader(record) as frames:
                return torch.from_numpy(frames.get(sampler(frames.num_frames)))
        return run

    if mode != "train":
        def run(record):
            if source == "video":
                return torch.from_numpy(test_views(record.path, mode, backend=backend))
            with reader(record) as frames:
                return torch.from_numpy(test_views(frames, mode))
        return run

    sampler, transforms = zoo_sampling(sampling, test_mode=False), build_pipeline(train_pipeline())
    if gpu_augment:
        from .gpu_augment import split_train_pipeline
        transforms = build_pipeline(split_train_pipeline(train_pipeline())[0])

    def run(record):
        with reader(record) as frames:
            indices = sampler(frames.num_frames)
            imgs = frames.get(indices)
        results = dict(imgs=imgs, modality="rgb", label=record.label, clip_len=1, num_clips=len(indices))
        return torch.from_numpy(transforms(results)["imgs"])
    return run


def mmaction2_runner(name, site=None):
    """The same pipeline through MMAction2 1.2.0's own transforms (DecordInit ... PackActionInputs)."""
    site = Path(site or Path(os.environ.get("TSNBOOK_ORACLE", ORACLE)) / "site")
    if not (site / "mmaction").is_dir():
        raise SystemExit(f"--mmaction2: MMAction2 1.2.0 is not installed in {site} (run tools/install_oracle.sh, "
                         "or point TSNBOOK_ORACLE at the folder holding its site/)")
    if str(site) not in sys.path:
        sys.path.append(str(site))  # appended: the venv's numpy, torch and cv2 stay the ones used
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mmaction.utils import register_all_modules
        from mmengine.dataset import Compose
        register_all_modules()

    source, sampling, mode = PIPELINES[name]
    num_clips = int(sampling.split("x")[-1]) if mode == "train" else 25
    steps = [dict(type="DecordInit")] if source == "video" else []
    steps += [dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=num_clips, test_mode=mode != "train"),
              dict(type="DecordDecode") if source == "video" else dict(type="RawFrameDecode"),
              dict(type="Resize", scale=(-1, 256))]
    if mode == "train":
        steps += [dict(type="MultiScaleCrop", input_size=224, scales=(1, 0.875, 0.75, 0.66), max_wh_scale_gap=1,
                       random_crop=False),
                  dict(type="Resize", scale=(224, 224), keep_ratio=False), dict(type="Flip", flip_ratio=0.5)]
    else:
        steps += [dict(type="TenCrop", crop_size=224) if mode == "25x10" else dict(type="ThreeCrop", crop_size=256)]
    steps += [dict(type="FormatShape", input_format="NCHW"), dict(type="PackActionInputs")]
    pipeline = Compose(steps)

    def run(record):
        if source == "video":
            item = dict(filename=record.path, label=record.label, start_index=0, modality="RGB")
        else:
            item = dict(frame_dir=record.path, total_frames=record.num_frames, label=record.label, start_index=1,
                        filename_tmpl="img_{:05d}.jpg", modality="RGB", offset=0)
        return pipeline(item)["inputs"]
    return run


def time_runners(runners, records, repeat=3):
    """``{impl: (videos per wall second, videos per CPU second)}`` of ``{impl: run(record)}`` over ``records``.

    One untimed warm-up call each (first imports, decoder and cv2 initialisation), then ``repeat`` passes over
    all records, alternating who goes first, so that every implementation sees the same machine state. Each call
    starts from the same seeds of the global generators (per pass and record; restored afterwards), so that both
    sides of a ratio decode the same randomly sampled frames (a frame late in a GOP costs more to decode). Rates
    come from the median pass: other processes on a shared machine slow some passes down, not the typical one;
    CPU time (this process, all its threads) also leaves out the time spent waiting for a busy core.
    """
    passes = {impl: [] for impl in runners}  # (wall seconds, CPU seconds) per pass over the clips
    states = np.random.get_state(), random.getstate()  # numpy's legacy generator and Python's
    try:
        for run in runners.values():
            _seed_global_generators(0)
            run(records[0])
        for index in range(repeat):
            order = list(runners) if index % 2 == 0 else list(runners)[::-1]
            for impl in order:
                wall, cpu = time.perf_counter(), time.process_time()
                for number, record in enumerate(records):
                    _seed_global_generators(1 + index * len(records) + number)
                    runners[impl](record)
                passes[impl].append((time.perf_counter() - wall, time.process_time() - cpu))
    finally:
        np.random.set_state(states[0])
        random.setstate(states[1])
    return {impl: tuple(float(r) for r in len(records) / np.median(times, axis=0)) for impl, times in passes.items()}


def _seed_global_generators(seed):
    """Seed what MMAction2's transforms (and tsnbook's with ``rng=None``) draw from."""
    np.random.seed(seed)
    random.seed(seed)


class PipelineDataset:
    """One of PIPELINES over ``records`` as a map-style dataset, for DataLoader workers (`loader_rate`).

    Picklable for spawned workers: the runner is built inside each worker on first use, never pickled.
    """

    def __init__(self, name, records, backend=None, gpu_augment=False):
        self.name, self.records, self.backend, self.gpu_augment = name, list(records), backend, gpu_augment
        self._run = None

    def __len__(self):
        return len(self.records)

    def __getitem__(self, index):
        if self._run is None:
            self._run = tsnbook_runner(self.name, self.backend, gpu_augment=self.gpu_augment)
        return self._run(self.records[index])

    def __getstate__(self):
        return {**self.__dict__, "_run": None}


def loader_rate(name, records, workers, repeat=3, backend=None, gpu_augment=False):
    """Videos per second of pipeline ``name`` through a DataLoader with ``workers`` spawned worker processes.

    The workers stay up between passes (``persistent_workers``); the first pass, which also pays for starting
    them (a fresh interpreter importing torch each), is a warm-up; the rate is that of the median of ``repeat``
    timed passes, by the wall clock (the work happens in other processes).
    """
    import torch

    if workers < 1:
        raise ValueError(f"loader_rate needs at least one worker, got {workers}")
    loader = torch.utils.data.DataLoader(PipelineDataset(name, records, backend, gpu_augment), batch_size=None,
                                         num_workers=workers, multiprocessing_context="spawn",
                                         persistent_workers=True, prefetch_factor=2)
    times = []
    for index in range(repeat + 1):
        start = time.perf_counter()
        for _ in loader:
            pass
        if index:
            times.append(time.perf_counter() - start)
    del loader  # ends the workers
    return float(len(records) / np.median(times))


def _records(name, root, list_file):
    from .data import load_annotations
    source = PIPELINES[name][0]
    default_list, prefix = LISTS[source]
    list_file = Path(list_file or Path(root) / default_list)
    if not list_file.is_file():
        raise FileNotFoundError(f"list file {list_file} does not exist; write the benchmark clips with "
                                f"python -m tsnbook bench-data --root {root} --write-clips --rawframes, or pass "
                                f"--list FILE")
    return load_annotations(list_file, Path(root) / prefix, source)


def _parser():
    parser = argparse.ArgumentParser(prog="python -m tsnbook bench-data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", help=f"one of: {', '.join(PIPELINES)}")
    parser.add_argument("--root", help="folder of benchmark clips (written by --write-clips [--rawframes])")
    parser.add_argument("--list", help="list file (default ROOT/videos.txt or ROOT/rawframes.txt)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the clips (default 3)")
    parser.add_argument("--backend", choices=("decord", "pyav"),
                        help="tsnbook's video decoder (default: io.SelectiveVideo, exact and fastest)")
    parser.add_argument("--mmaction2", action="store_true", help="also time MMAction2 1.2.0, alternating passes")
    parser.add_argument("--only-mmaction2", action="store_true", help="time MMAction2 1.2.0 only")
    parser.add_argument("--decode-only", action="store_true",
                        help="also time tsnbook decoding the sampled frames and nothing else: the floor of any "
                             "exact pipeline (with --mmaction2 the JSON gets 'ceiling_ratio')")
    parser.add_argument("--workers", type=int, default=0,
                        help="run the pipeline in N DataLoader worker processes and report their joint wall-clock "
                             "rate (default 0: in this process, with CPU-time rates too)")
    parser.add_argument("--write-clips", action="store_true",
                        help="first write the benchmark clips under --root (seeded; kept if already there)")
    parser.add_argument("--num", type=int, default=8, help="--write-clips: how many clips (default 8)")
    parser.add_argument("--rawframes", action="store_true", help="--write-clips: also their JPEG frame folders")
    parser.add_argument("--gpu-augment", action="store_true",
                        help="training pipelines: time only the loader's share when the GPU crops and flips "
                             "(tsnbook.gpu_augment); without --pipeline: time the GPU step itself "
                             "(gpu_augment.benchmark, CUDA if available, else CPU)")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.gpu_augment and args.pipeline is None:
        from .gpu_augment import benchmark
        print(json.dumps(benchmark()))
        return 0
    if args.write_clips:
        if args.root is None or args.num < 1:
            raise SystemExit("bench-data: --write-clips needs --root DIR (and --num >= 1)")
        listed = write_bench_clips(args.root, args.num, args.rawframes)
        print(f"{args.num} benchmark clips in {args.root} ({listed.name}{', rawframes.txt' * args.rawframes})")
        if args.pipeline is None:
            return 0
    if args.pipeline is None or args.root is None:
        raise SystemExit("bench-data: --pipeline and --root are required (or --gpu-augment alone)")
    if args.pipeline not in PIPELINES:
        raise SystemExit(f"bench-data: unknown pipeline {args.pipeline!r}; valid pipelines: {', '.join(PIPELINES)}")
    if args.gpu_augment and PIPELINES[args.pipeline][2] != "train":
        raise SystemExit(f"bench-data: --gpu-augment applies to training pipelines, not {args.pipeline!r}")
    if args.repeat < 1 or args.workers < 0:
        raise SystemExit(f"bench-data: --repeat must be >= 1 and --workers >= 0 (0: in this process), got "
                         f"{args.repeat} and {args.workers}")
    if args.workers and (args.mmaction2 or args.only_mmaction2 or args.decode_only):
        raise SystemExit("bench-data: --workers N (N >= 1) times tsnbook's pipeline alone; it does not combine "
                         "with --mmaction2, --only-mmaction2 or --decode-only")
    try:
        records = _records(args.pipeline, args.root, args.list)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"bench-data: {error}") from None
    missing = [r.path for r in records if not os.path.exists(r.path)]
    if missing:
        raise SystemExit(f"bench-data: {len(missing)} listed clip(s) missing, e.g. {missing[0]}; "
                         f"write them with python -m tsnbook bench-data --root {args.root} --write-clips --rawframes")
    runners = {}
    if not args.only_mmaction2:
        runners["tsnbook"] = tsnbook_runner(args.pipeline, args.backend, gpu_augment=args.gpu_augment)
    if args.mmaction2 or args.only_mmaction2:
        runners["mmaction2"] = mmaction2_runner(args.pipeline)
    if args.decode_only:
        runners["decode"] = tsnbook_runner(args.pipeline, args.backend, decode_only=True)
    if args.workers:
        wall_rate = loader_rate(args.pipeline, records, args.workers, args.repeat, args.backend, args.gpu_augment)
        print(f"   tsnbook: {wall_rate:8.2f} videos/s with {args.workers} DataLoader worker(s) "
              f"(median of {args.repeat} passes over {len(records)} clips, after a warm-up pass)")
        report = {"pipeline": args.pipeline, "videos_per_s": round(wall_rate, 3), "impl": "tsnbook",
                  "workers": args.workers}
        if args.gpu_augment:
            report["gpu_augment"] = True
        print(json.dumps(report))
        return 0
    rates = time_runners(runners, records, args.repeat)
    for impl, (wall_rate, cpu_rate) in rates.items():
        print(f"{impl:>10}: {wall_rate:8.2f} videos/s, {cpu_rate:8.2f} per CPU-second "
              f"(median of {args.repeat} passes over {len(records)} clips)")
    first = next(iter(rates))
    report = {"pipeline": args.pipeline, "videos_per_s": round(float(rates[first][0]), 3), "impl": first,
              "videos_per_cpu_s": round(float(rates[first][1]), 3)}
    if args.gpu_augment:
        report["gpu_augment"] = True  # tsnbook's figures are the loader's share only (crop/flip left to the GPU)
    if "tsnbook" in rates and "mmaction2" in rates:
        theirs = rates["mmaction2"]
        report.update(mmaction2_videos_per_s=round(float(theirs[0]), 3),
                      mmaction2_videos_per_cpu_s=round(float(theirs[1]), 3),
                      ratio=round(float(rates["tsnbook"][0] / theirs[0]), 3),
                      cpu_ratio=round(float(rates["tsnbook"][1] / theirs[1]), 3))
    if "decode" in rates:
        report["decode_videos_per_s"] = round(float(rates["decode"][0]), 3)
        if "mmaction2" in rates:  # the best ratio any exact pipeline with this decoder could reach (wall, CPU)
            report["ceiling_ratio"] = round(float(rates["decode"][0] / rates["mmaction2"][0]), 3)
            report["ceiling_cpu_ratio"] = round(float(rates["decode"][1] / rates["mmaction2"][1]), 3)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
