"""``prepare.py DATASET STEP --root ROOT``: the command line of `tsnbook.datasets` (data_scripts/prepare.py).

Exit status: 0 when the step (or every step of ``all``) is ok, 1 when its report has errors (training should
not start: the problems are printed and written to ``ROOT/prepare_<step>_report.txt``), 2 when a step could
not run (a `DatasetError`: a missing or damaged file, a refused download, a registration to do - the message
says what to do).

``extract`` and ``verify`` take ``--shard K/N`` (machine K of N does its share of the videos, `shards`); the
``report`` step then merges the shards' results into the reports one machine would have written.
"""
import argparse
import sys

from .. import flow
from . import STEPS, get, names
from .files import DatasetError
from .frames import TASKS
from .shards import Shard


def _shard(text):
    try:
        return Shard.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parser():
    p = argparse.ArgumentParser(prog="prepare.py", description="Prepare a real dataset in MMAction2's layout: "
                                "download, extract, lists, verify (or all); replica writes its miniature.")
    p.add_argument("dataset", help=f"one of: {', '.join(names())}")
    p.add_argument("step", choices=STEPS + ("all", "report", "replica"))
    p.add_argument("--root", required=True, help="the dataset's folder (e.g. data/ucf101, as the configs' data_root)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    p.add_argument("--mirror", default=None, help="download from this base URL instead (same file names)")
    p.add_argument("--frames", choices=TASKS, default=None, help="extract: RGB frames, flow, both or none "
                   "(default: what the dataset's zoo configs read)")
    p.add_argument("--resolution", choices=list(flow.RESOLUTIONS), default=None,
                   help="extract: frame size (default: the dataset's, e.g. original for UCF101, 340x256 for Kinetics)")
    p.add_argument("--flow-algorithm", choices=flow.ALGORITHMS, default=flow.FAST_ALGORITHM,
                   help=f"{flow.ZOO_ALGORITHM} is the zoo's (slow on a CPU); {flow.FAST_ALGORITHM} is fast")
    p.add_argument("--flow-tmpl", default=None, help="flow file names, e.g. 'flow_{}_{:05d}.jpg' (default) or "
                   "'{}_{:05d}.jpg' (Kinetics flow configs)")
    p.add_argument("--start-index", type=int, default=None, help="number of the first frame file (default 1)")
    p.add_argument("--deep", action="store_true", help="verify: decode every frame of every video (slow)")
    p.add_argument("--shard", type=_shard, default=None, metavar="K/N", help="extract, verify: do the K-th of N "
                   "shares of the videos (one machine or Slurm array task each); then run the report step")
    p.add_argument("--seed", type=int, default=0, help="replica: the seed")
    return p


def _extract_options(args, module):
    options = dict(frames=args.frames or module.DEFAULT_FRAMES,
                   resolution=args.resolution or getattr(module, "DEFAULT_RESOLUTION", "original"),
                   flow_algorithm=args.flow_algorithm)
    if args.flow_tmpl:
        options["flow_tmpl"] = args.flow_tmpl
    if args.start_index is not None:
        options["start_index"] = args.start_index
    return options


def run_step(module, step, args, log=print):
    """Run one step of ``module``; print and write its report(s); return them."""
    options = {} if args.start_index is None else dict(start_index=args.start_index)
    if step == "download":
        reports = [module.download(args.root, mirror=args.mirror, workers=args.workers)]
    elif step == "extract":
        reports = [module.extract(args.root, workers=args.workers, shard=args.shard, **_extract_options(args, module))]
    elif step == "lists":
        reports = [module.build_lists(args.root, workers=args.workers, **options)]
    elif step == "verify":
        reports = [module.verify(args.root, workers=args.workers, deep=args.deep, shard=args.shard, **options)]
    else:  # report: the shards' results merged
        reports = module.merge_shards(args.root, workers=args.workers)
    for report in reports:
        report.write()
        log(report.summary())
    return reports


def main(argv=None, log=print):
    args = parser().parse_args(argv)
    try:
        module = get(args.dataset)
    except ValueError as error:
        log(f"error: {error}")
        return 2
    try:
        if args.step == "replica":
            made = module.make_replica(args.root, seed=args.seed)
            log(f"{args.dataset} replica (seed {args.seed}) in {args.root}: " +
                ", ".join(str(p) for p in made["files"]))
            return 0
        if args.shard is not None and args.step not in ("extract", "verify"):
            raise DatasetError(f"--shard {args.shard}: only extract and verify are split over machines, not "
                               f"{args.step}")
        steps = STEPS if args.step == "all" else (args.step,)
        reports = [report for step in steps for report in run_step(module, step, args, log)]
    except DatasetError as error:
        log(f"error: {error}")
        return 2
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
