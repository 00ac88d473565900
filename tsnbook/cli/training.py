"""``configs``, ``train``, ``test`` and ``fuse``: the habits of MMAction2's tools/train.py, test.py and
report_accuracy.py."""
import os
from pathlib import Path

from .options import STRICT_HELP, TRUSTED_HELP, prepare_generated_data


def _configs(args):
    from ..configs import all_configs
    for name in sorted(all_configs()):
        print(name)
    return 0


def _train(args):
    from ..configs import get_config
    from ..engine import train
    if args.validate and args.no_validate:
        raise ValueError("--validate and --no-validate contradict each other; give one")
    cfg = get_config(args.config, list(args.cfg_options) + ([f"seed={args.seed}"] if args.seed is not None else []))
    work_dir = args.work_dir or Path("work_dirs") / cfg["name"]
    prepare_generated_data(cfg, not args.no_progress)
    resume = True if args.resume == "auto" else args.resume or False
    if args.force and resume:
        raise ValueError("--resume continues the run in the work dir and --force replaces it; give one")
    summary = train(cfg, work_dir, resume=resume, device=args.device, progress=not args.no_progress,
                    validate=args.validate, deterministic=args.deterministic, trusted=args.trusted, force=args.force)
    if int(os.environ.get("RANK", 0)) == 0:  # under torchrun, rank 0 speaks for all
        print(f"done: {summary}")
    return 0


def _test(args):
    from ..configs import get_config
    from ..engine import evaluate_checkpoint
    from ..metrics import METRICS
    cfg = get_config(args.config, args.cfg_options)
    if args.eval:
        unknown = [m for m in args.eval if m not in METRICS]
        if unknown:
            raise ValueError(f"unknown --eval metric(s) {', '.join(unknown)}: choose from {', '.join(METRICS)}")
        cfg["eval_metrics"] = list(args.eval)
    if args.average_clips is not None:
        cfg["average_clips"] = None if args.average_clips == "none" else args.average_clips
    if args.out:
        from ..scores import check_out_path
        check_out_path(args.out)
    prepare_generated_data(cfg, not args.no_progress)
    main_process = int(os.environ.get("RANK", 0)) == 0  # under torchrun every process tests its share; rank 0 reports
    if main_process:
        print(f"testing {cfg['name']} with {args.checkpoint}")
    scores, labels, report, skipped = evaluate_checkpoint(cfg, args.checkpoint, device=args.device,
                                                          progress=not args.no_progress, trusted=args.trusted,
                                                          strict=not args.no_strict, amp=args.amp,
                                                          workers=args.workers)
    if not main_process:
        return 0
    for key, value in report.items():
        print(f"{key}: {value:.2f}" if isinstance(value, float) else f"{key}: {value}")
    if skipped:
        print(f"skipped {len(skipped)} unusable video(s): " + "; ".join(skipped))
    if args.out:
        from ..scores import write_scores
        write_scores(args.out, scores, labels)
        print(f"scores written to {args.out}")
    return 0


def _fuse(args):
    import numpy as np

    from ..metrics import fuse_scores, mean_class_accuracy, top_k_accuracy
    from ..scores import read_scores
    loaded = [read_scores(path) for path in args.scores]
    if args.datalist:  # MMAction2's report_accuracy.py: the label is the last integer of each list line
        lines = [line.split() for line in Path(args.datalist).read_text().splitlines() if line.strip()]
        labels = [int(parts[-1]) for parts in lines]
    else:
        with_labels = [(path, labels) for path, (_, labels) in zip(args.scores, loaded) if labels is not None]
        if not with_labels:
            raise ValueError("none of the score files carries labels (.json and .pkl files do not): give the "
                             "test list with --datalist LIST")
        labels = with_labels[0][1]
        for path, other in with_labels[1:]:
            if not np.array_equal(other, labels):
                raise ValueError(f"{path} lists other videos/labels than {with_labels[0][0]}: the score files "
                                 f"must come from the same list, in the same order")
    for path, (scores, _) in zip(args.scores, loaded):
        if len(scores) != len(labels):
            raise ValueError(f"{path} has {len(scores)} videos but there are {len(labels)} labels: the score files "
                             f"and the list must describe the same videos, in the same order")
    if any(isinstance(label, (list, tuple)) for label in labels):
        raise ValueError("fuse reports single-label accuracy (top-k, mean class); these videos have several labels")
    streams = [scores for scores, _ in loaded]
    keep = _leave_out_unscored(args.scores, streams)
    streams, labels = [scores[keep] for scores in streams], np.asarray(labels)[keep]
    fused = fuse_scores(streams, args.coefficients, apply_softmax=args.apply_softmax)
    if not keep.all():
        alone = ", ".join(f"{100 * top_k_accuracy(scores, labels, (1,))[0]:.2f}" for scores in streams)
        print(f"fused over the {len(labels)} videos every stream scored; each stream alone on them: top1 {alone}")
    top1, top5 = top_k_accuracy(fused, labels, (1, min(5, fused.shape[1])))
    print(f"mean class accuracy: {100 * mean_class_accuracy(fused, labels):.2f}")
    print(f"top1: {100 * top1:.2f}\ntop5: {100 * top5:.2f}")
    return 0


def _leave_out_unscored(paths, streams):
    """The videos every stream scored, saying for each file how many it lacks. A video a stream's test skipped (a
    NaN row) is left out of the fusion, as `test` leaves it out of its own report: filled from the other streams
    it would pass a one-stream prediction for a two-stream one."""
    from ..metrics import scored_rows
    for path, scores in zip(paths, streams):
        missing = int((~scored_rows(scores)).sum())
        if missing:
            print(f"{path}: {missing} of {len(scores)} videos without scores (skipped by its test): left out")
    keep = scored_rows(*streams)
    if not keep.any():
        raise ValueError(f"no video has scores in every file of {', '.join(map(str, paths))}: nothing to fuse")
    return keep


def add_commands(sub, common):
    sub.add_parser("configs", help="list config names").set_defaults(func=_configs)

    tr = sub.add_parser("train", parents=[common], help="train a config (torchrun for several processes)")
    tr.add_argument("config")
    tr.add_argument("--work-dir")
    tr.add_argument("--resume", nargs="?", const="auto", default=None,
                    help="resume from CKPT, or from WORK_DIR/latest.pth when no path is given")
    tr.add_argument("--force", action="store_true",
                    help="start over in a work dir that holds a run, replacing its files (refused otherwise)")
    tr.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE")
    tr.add_argument("--seed", type=int)
    tr.add_argument("--deterministic", action="store_true",
                    help="deterministic kernels (cuDNN benchmark off): repeatable on a GPU, and slower")
    tr.add_argument("--validate", action="store_true",
                    help="validate every eval_interval epochs and keep best.pth (MMAction2's tools/train.py)")
    tr.add_argument("--no-validate", action="store_true", help="the default; kept for older scripts")
    tr.add_argument("--trusted", action="store_true", help=TRUSTED_HELP)
    tr.set_defaults(func=_train)

    te = sub.add_parser("test", parents=[common], help="multi-clip x multi-crop test of a checkpoint")
    te.add_argument("config")
    te.add_argument("checkpoint")
    te.add_argument("--eval", nargs="+", metavar="METRIC",
                    help="top_k_accuracy mean_class_accuracy mean_average_precision mmit_mean_average_precision "
                         "(default: the config's eval_metrics)")
    te.add_argument("--out", help="per-video scores: .pkl (MMAction2's list of arrays), .json or .npz")
    te.add_argument("--average-clips", choices=["score", "prob", "none"],
                    help="override the config's average_clips (none = raw logits, as the 0.x zoo)")
    te.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE")
    te.add_argument("--amp", choices=["bf16", "fp16"],
                    help="CUDA: test under autocast (default fp32, as the zoo's numbers were measured)")
    te.add_argument("--trusted", action="store_true", help=TRUSTED_HELP)
    te.add_argument("--no-strict", action="store_true", help=STRICT_HELP)
    te.add_argument("--workers", type=int, help="DataLoader processes that decode while the model scores "
                                                "(default: the config's num_workers)")
    te.set_defaults(func=_test)

    fu = sub.add_parser("fuse", help="late fusion of score files (the zoo's [1:1])")
    fu.add_argument("scores", nargs="+", help=".npz (tsnbook), .json or .pkl (MMAction2 --out) score files")
    fu.add_argument("--coefficients", type=float, nargs="+", default=None)
    fu.add_argument("--datalist", help="the test list (labels = last integer of each line); needed for "
                                       ".json/.pkl inputs")
    fu.add_argument("--apply-softmax", action="store_true", help="softmax every score vector before fusing")
    fu.set_defaults(func=_fuse)
