"""``prepare.py DATASET STEP --root ROOT``: the command line of `tsnbook.datasets` (data_scripts/prepare.py).

Exit status: 0 when the step (or every step of ``all``) is ok, 1 when its report has errors (training should
not start: the problems are printed and written to ``ROOT/prepare_<step>_report.txt``), 2 when a step could
not run (a `DatasetError`: a missing or damaged file, a refused download, a registration to do - the message
says what to do).

``extract`` and ``verify`` take ``--shard K/N`` (machine K of N does its share of the videos, `shards`); the
``report`` step then merges the shards' results into the reports one machine would have written.

The folder dataset (your own videos, `folder`) takes options of its own (`FOLDER_OPTIONS`: where the videos are,
how to split them, which zoo row to train on); they are kept in ``ROOT/folder.json`` for the later steps, and
refused for the other datasets.
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


def parser(prog="prepare.py"):
    p = argparse.ArgumentParser(prog=prog, description="Prepare a real dataset in MMAction2's layout: "
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
    p.add_argument("--seed", type=int, default=None, help="replica: the seed (default 0); folder: the split's")
    mine = p.add_argument_group("folder (your own videos)")
    mine.add_argument("--videos", metavar="SRC", help="one folder per class, videos at any depth below it")
    mine.add_argument("--annotations", metavar="FILE.csv", help="instead: lines path,label[,split][,group] (paths "
                      "relative to --videos, else to the CSV's folder)")
    mine.add_argument("--val", type=float, help="share of each class's videos to validate on (default 0.2)")
    mine.add_argument("--test", type=float, help="share of each class's videos to test on (default 0)")
    mine.add_argument("--group", metavar="REGEX", help="names the source video of a clip from its path below the "
                      "class folder; a group stays on one side of the split (e.g. '_g(\\d+)_' or '^[^/]+')")
    mine.add_argument("--base", metavar="ROW", help="the zoo row config.py starts from (default: "
                      "tsn_r50_1x1x8_50e_hmdb51_kinetics400_rgb; CPU-sized: its _tiny twin)")
    mine.add_argument("--load-from", metavar="FILE", help="the checkpoint config.py starts from (default: the row's "
                      "load_from, e.g. its Kinetics-400 weights, downloaded by you)")
    return p


#: prepare.py's options that only the folder dataset takes (its `configure`), and --seed
FOLDER_OPTIONS = ("videos", "annotations", "val", "test", "group", "base", "load_from", "seed")


def _configure(module, args):
    """Give the folder dataset its options; refuse them for a dataset that has none."""
    given = {name: getattr(args, name) for name in FOLDER_OPTIONS if getattr(args, name) is not None}
    if hasattr(module, "configure"):
        module.configure(args.root, **given)
        return
    given.pop("seed", None)
    if given:
        names = ", ".join("--" + name.replace("_", "-") for name in given)
        raise DatasetError(f"{names}: options of the folder dataset (your own videos), not of {module.NAME}")


def _extract_options(args, module):
    options = dict(frames=args.frames or module.DEFAULT_FRAMES,
                   resolution=args.resolution or getattr(module, "DEFAULT_RESOLUTION", "original"),
                   flow_algorithm=args.flow_algorithm)
    if args.flow_tmpl:
        options["flow_tmpl"] = args.flow_tmpl
    if args.start_index is not None:
        options["start_index"] = args.start_index
    return options


def run_step(module, step, args, log=print, failed_before=()):
    """Run one step of ``module``; print and write its report(s); return them. ``failed_before``: the steps of
    this ``all`` run that failed (their reports had errors): the summary then says neither "ok" nor "next"."""
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
        log(report.summary(failed_before=failed_before))
    return reports


def main(argv=None, log=print, prog="prepare.py"):
    """``prepare.py ARGV``'s exit status; ``prog`` names the command in its usage (``python -m tsnbook prepare``)."""
    args = parser(prog).parse_args(argv)
    try:
        module = get(args.dataset)
    except ValueError as error:
        log(f"error: {error}")
        return 2
    try:
        if args.step == "replica":
            seed = args.seed or 0
            made = module.make_replica(args.root, seed=seed)
            log(f"{args.dataset} replica (seed {seed}) in {args.root}: " +
                ", ".join(str(p) for p in made["files"]))
            return 0
        if args.shard is not None and args.step not in ("extract", "verify"):
            raise DatasetError(f"--shard {args.shard}: only extract and verify are split over machines, not "
                               f"{args.step}")
        _configure(module, args)
        steps = STEPS if args.step == "all" else (args.step,)
        reports, failed = [], []
        for step in steps:
            done = run_step(module, step, args, log, tuple(failed))
            reports += done
            if not all(report.ok for report in done):
                failed.append(step)
    except DatasetError as error:
        log(f"error: {error}")
        return 2
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
