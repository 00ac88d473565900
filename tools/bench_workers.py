#!/usr/bin/env python
"""What DataLoader workers buy: videos/s of ``test`` with 0, 1, 2 workers, and training epochs with persistent
workers against workers spawned anew every epoch. A benchmark that prints figures, never a test.

    python -m tsnbook bench-data --root BENCH --write-clips --num 8     # the bench clips (340x256, 10 s, H.264)
    python tools/bench_workers.py test BENCH/videos [--workers 0 1 2] [--repeat 4] [--protocol 25x3] [--size 48]
    python tools/bench_workers.py train [--workers 2] [--epochs 4]        # on a small generated SynthActions

``test`` runs `tsnbook.engine.evaluate_checkpoint` (what ``python -m tsnbook test`` runs) on a list of the bench
clips (each listed ``--repeat`` times), with a randomly initialised ResNet-18 TSN saved as a checkpoint, one
sitting, the same files for every worker count; the time includes starting the workers, as a user's ``test``
does. ``data only`` is the loader alone (no model): how long the first video takes (spawning the workers:
each imports torch and tsnbook) and the videos/s after it, the most that many workers can feed a model.
By default the views are small (``--size 48``: the demo's short side 48 and ThreeCrop 48), so that on a CPU the
model does not hide the data pipeline; ``--size 256 --backbone resnet50 --protocol 25x10`` is the zoo's test
(on a GPU: ``--device cuda``).

``train`` trains the demo's RGB config for ``--epochs`` short epochs with ``num_workers`` workers, persistent
(the default) and not, and prints the seconds per epoch from each run's log.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from tsnbook.checkpoints import save_checkpoint  # noqa: E402
from tsnbook.configs import get_config  # noqa: E402
from tsnbook.data import build_dataset  # noqa: E402
from tsnbook.engine import evaluate_checkpoint, train  # noqa: E402
from tsnbook.loops import evaluation_loader  # noqa: E402
from tsnbook.factory import build_model  # noqa: E402
from tsnbook.logs import read_log  # noqa: E402
from tsnbook.pipelines import parse_protocol  # noqa: E402

RGB = "tsn_r18_1x1x3_12e_synthactions_rgb"


def _test_config(bench_dir, work, args):
    """The demo's RGB config pointed at the bench clips, with the asked protocol at the asked size."""
    clips = sorted(Path(bench_dir).glob("*.mp4"))
    if not clips:
        raise SystemExit(f"{bench_dir} has no .mp4 files: write them with python -m tsnbook bench-data --root DIR "
                         f"--write-clips --num 8 and pass DIR/videos")
    listing = Path(work) / "bench_list.txt"
    listing.write_text("".join(f"{clip.resolve()} {i % 8}\n" for _ in range(args.repeat) for i, clip in
                               enumerate(clips)))
    spec = parse_protocol(args.protocol)
    crop = dict(type=spec["crop"], crop_size=args.size if spec["views"] == 3 else round(args.size * 224 / 256))
    pipeline = [dict(type="Resize", scale=(-1, args.size)), crop, dict(type="FormatShape", input_format="NCHW")]
    cfg = get_config(RGB, dict(data_root=str(work), ann_file_test=str(listing), test_clips=spec["clips"],
                               test_pipeline=pipeline, backbone=args.backbone, amp=None))
    return cfg, len(clips)


def bench_test(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as work:
        cfg, clips = _test_config(args.bench_dir, work, args)
        if clips * args.repeat < 2:  # the steady rate is timed from the first video to the last
            raise SystemExit(f"{args.bench_dir}: {clips} clip x --repeat {args.repeat} = 1 video to test; the rate "
                             "after the first video needs at least 2: pass --repeat 2 or more")
        checkpoint = Path(work) / "random.pth"
        torch.manual_seed(0)
        save_checkpoint(checkpoint, dict(model=build_model(cfg).state_dict(), epoch=0))
        videos = clips * args.repeat
        print(f"test of {videos} videos ({clips} bench clips x {args.repeat}), protocol {args.protocol} at short "
              f"side {args.size}, {args.backbone}, device {args.device}, torch threads {torch.get_num_threads()}, "
              f"{os.cpu_count()} CPUs")
        print(f"{'workers':>8} {'test videos/s':>14} | data only: {'first video after':>17} {'then videos/s':>14}")
        reference = None
        for workers in args.workers:
            start = time.perf_counter()
            scores, _, _, skipped = evaluate_checkpoint(cfg, checkpoint, device=args.device, progress=False,
                                                        workers=workers)
            tested = videos / (time.perf_counter() - start)
            reference = scores if reference is None else reference
            assert not skipped and (scores == reference).all(), "the worker count changed the scores"
            dataset = build_dataset(cfg, "test")
            start, stamps = time.perf_counter(), []
            for _ in evaluation_loader(dataset, workers, args.device):
                stamps.append(time.perf_counter() - start)
            steady = (len(stamps) - 1) / (stamps[-1] - stamps[0])  # once the workers have started
            print(f"{workers:>8} {tested:>14.2f} | {'':>10} {stamps[0]:>15.1f} s {steady:>14.2f}")


def bench_train(args):
    if args.epochs < 2:
        raise SystemExit(f"--epochs {args.epochs}: the seconds per epoch after the first need at least 2 epochs")
    from tsnbook.course.demo import prepare_synthactions
    with tempfile.TemporaryDirectory() as work:
        root = Path(work) / "synthactions"
        prepare_synthactions(root, workers=1, progress=False, groups=3, clips_per_group=1, test_groups=1)
        print(f"training {RGB} on 16 videos, batch 8, {args.epochs} epochs, num_workers={args.workers}")
        print(f"{'loader':>30} {'s/epoch (all)':>14} {'s/epoch (after the first)':>26}")
        for persistent in (False, True):
            cfg = get_config(RGB, dict(data_root=str(root), epochs=args.epochs, batch_size=8, lr_steps=[args.epochs],
                                       num_workers=args.workers, persistent_workers=persistent))
            run = Path(work) / f"run_{persistent}"
            train(cfg, run, resume=False, progress=False, validate=False, device="cpu")
            seconds = [r["seconds"] for r in read_log(run / "log.jsonl") if r["mode"] == "epoch"]
            name = "persistent workers" if persistent else "workers spawned every epoch"
            print(f"{name:>30} {sum(seconds) / len(seconds):>14.2f} {sum(seconds[1:]) / len(seconds[1:]):>26.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    te = sub.add_parser("test", help="videos/s of evaluate_checkpoint with 0, 1, 2 workers")
    te.add_argument("bench_dir")
    te.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    te.add_argument("--repeat", type=int, default=4, help="times each clip is listed")
    te.add_argument("--protocol", default="25x3")
    te.add_argument("--size", type=int, default=48, help="short side before the crops (the zoo: 256)")
    te.add_argument("--backbone", default="resnet18")
    te.add_argument("--device", default="cpu")
    te.add_argument("--threads", type=int, help="torch threads of the main process (default: torch's)")
    te.set_defaults(func=bench_test)
    tr = sub.add_parser("train", help="seconds per epoch, persistent workers or not")
    tr.add_argument("--workers", type=int, default=2)
    tr.add_argument("--epochs", type=int, default=4)
    tr.set_defaults(func=bench_train)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
