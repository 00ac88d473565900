"""``train``, ``test`` and ``fuse``: the habits of MMAction2's tools/train.py, test.py and
report_accuracy.py."""
import contextlib
import io
import os
import shlex
from pathlib import Path

from ..locks import check_work_dir
from .options import STRICT_HELP, TRUSTED_HELP, prepare_generated_data


def _train(args):
    from ..configs import get_config
    from ..engine import train
    if args.validate and args.no_validate:
        raise ValueError("--validate and --no-validate contradict each other; give one")
    if args.seed is not None and any(option.partition("=")[0].strip() == "seed" for option in args.cfg_options):
        raise ValueError(f"--seed {args.seed} and --cfg-options seed=... both set the seed; give one")
    with _quiet_unless_rank_0():  # its notes (a schedule the options cut short, ...) once, not once per process
        cfg = get_config(args.config, list(args.cfg_options) + ([f"seed={args.seed}"] if args.seed is not None else []))
    work_dir = args.work_dir or Path("work_dirs") / cfg["name"]
    check_work_dir(work_dir)  # before generated data is prepared for a run that could not start
    prepare_generated_data(cfg, not args.no_progress)
    resume = True if args.resume == "auto" else args.resume or False
    if args.force and resume:
        raise ValueError("--resume continues the run in the work dir and --force replaces it; give one")
    before = _saved(work_dir)
    try:
        summary = train(cfg, work_dir, resume=resume, device=args.device, progress=not args.no_progress,
                        validate=args.validate, deterministic=args.deterministic, trusted=args.trusted,
                        force=args.force)
    except KeyboardInterrupt:  # Ctrl-C: one line on what is kept and how to go on, not a traceback
        raise SystemExit(_interrupted(args, work_dir, before)) from None
    if int(os.environ.get("RANK", 0)) == 0:  # under torchrun, rank 0 speaks for all
        print(done_line(summary))
    return 0


def done_line(summary):
    """The last line of ``train``: where the run is and what it kept (`tsnbook.engine.train`'s summary)."""
    epochs = summary["epochs"]
    where = f"done: {epochs} epoch{'s' if epochs != 1 else ''} in {summary['work_dir']}" + (
        f" on {summary['world_size']} processes" if summary.get("world_size", 1) > 1 else "")
    best = dict(summary.get("best") or {})
    epoch = best.pop("epoch", None)
    if epoch is None or not best:  # never validated: the best is still its starting -1
        return f"{where}; not validated (--validate keeps the best epoch as best.pth)"
    metric, value = next(iter(best.items()))
    return f"{where}; best {metric} {value:.2f} at epoch {epoch} (best.pth)"


def _quiet_unless_rank_0():
    """Under torchrun every process reads the config and would print the same notes, interleaved: rank 0 alone
    says them (an error is still raised, and printed, by every process)."""
    from ..distributed import world_from_environment
    if world_from_environment().is_main:
        return contextlib.nullcontext()
    stack = contextlib.ExitStack()
    for redirect in (contextlib.redirect_stdout, contextlib.redirect_stderr):
        stack.enter_context(redirect(io.StringIO()))
    return stack


def _saved(work_dir):
    """What ``--resume`` would continue in ``work_dir`` now, as the file's identity (path, device, inode, mtime in
    ns, size), or None. A checkpoint is written under a temporary name and renamed into place, so one this run
    saves is another file; comparing identities, not the mtime with the run's start, is not fooled by a file
    server whose clock runs ahead of or behind this machine's."""
    from ..runs import resume_point
    checkpoint, _ = resume_point(work_dir)
    if checkpoint is None:
        return None
    stat = checkpoint.stat()
    return str(checkpoint), stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size


def _interrupted(args, work_dir, before=None):
    """The line Ctrl-C ends ``train`` with. Under torchrun every process gets the signal: rank 0 speaks for all, the
    others end with the shell's code for an interrupt (130) and say nothing. ``before``: `_saved` when this run
    began; a checkpoint that is still that file is not this run's, and a bare ``--resume`` would continue it - the
    history a ``--resume FILE`` went back from, or the run ``--force`` was to replace."""
    from ..checkpoints import read_checkpoint
    from ..runs import resume_point
    if int(os.environ.get("RANK", 0)) != 0:
        return 130
    latest = Path(work_dir) / "latest.pth"
    checkpoint, _ = resume_point(work_dir)  # what --resume continues: latest.pth, else the newest beside it
    launcher, where = _launcher()
    if checkpoint is not None and before is not None and _saved(work_dir) == before:
        if args.resume not in (None, "auto"):
            return (f"interrupted before this run saved an epoch: {work_dir} is as it was; continue with{where}: "
                    f"{shlex.join(launcher + _resume_command(args, work_dir, args.resume))}")
        if args.force:
            return (f"interrupted before the first epoch ended: nothing of this run was saved ({work_dir} still "
                    "holds the run --force was to replace)")
    if checkpoint is None:
        return f"interrupted before the first epoch ended: nothing was saved in {work_dir}"
    state = read_checkpoint(checkpoint, args.trusted)
    if checkpoint != latest:
        kept = f"{latest} is missing; {checkpoint} holds epoch {state.get('epoch')}, which --resume continues ("
    elif state.get("validation_due"):  # interrupted while validating it
        kept = f"{latest} holds epoch {state.get('epoch')}, not validated yet (--resume validates it first; "
    else:
        kept = f"{latest} holds epoch {state.get('epoch')} ("
    return (f"interrupted: {kept}an epoch interrupted midway is trained again); continue with{where}: "
            f"{shlex.join(launcher + _resume_command(args, work_dir))}")


def _launcher():
    """What starts the run again: python, or torchrun with as many processes per node as this run has (on several
    nodes also the rendezvous options the run was started with, which no process knows)."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    if world == 1:
        return ["python"], ""
    if local == world:
        return ["torchrun", "--nproc_per_node", str(local)], ""
    return (["torchrun", "--nnodes", str(world // local), "--nproc_per_node", str(local)],
            " (on each node, with the rendezvous options the run was started with)")


def _resume_command(args, work_dir, checkpoint=None):
    """The command that continues this run, after its launcher: the same config, options and flags, ``--resume``
    (``--resume checkpoint`` when given) instead of ``--force`` (a resume that dropped ``--cfg-options`` or
    ``--validate`` would train another run)."""
    command = ["-m", "tsnbook", "train", str(args.config), "--work-dir", str(work_dir), "--resume",
               *([str(checkpoint)] if checkpoint else [])]
    if args.cfg_options:
        command += ["--cfg-options", *args.cfg_options]
    for flag, value in (("--seed", args.seed), ("--device", args.device)):
        command += [flag, str(value)] if value is not None else []
    return command + [flag for flag, given in (("--validate", args.validate), ("--deterministic", args.deterministic),
                                               ("--trusted", args.trusted), ("--no-progress", args.no_progress))
                      if given]


def _check_classes(args, cfg, classes):
    """The checkpoint's class names against the label map its config reads now: lists rebuilt since training
    (``prepare.py`` run again after a class was renamed, added or removed) number the classes otherwise, and
    every per-class figure and confusion-matrix row would carry another class's name."""
    from ..configs import option
    from ..data import read_label_map
    path = Path(cfg["data_root"]) / option(cfg, "label_map") if classes and option(cfg, "label_map") else None
    if path is None or not path.is_file():
        return
    now = read_label_map(path)
    if list(now) != list(classes):
        differ = next((f"label {i}: {a!r} then, {b!r} now" for i, (a, b) in enumerate(zip(classes, now)) if a != b),
                      f"{len(classes)} classes then, {len(now)} now")
        raise ValueError(f"{args.checkpoint} learned other classes than {path} names now ({differ}): the lists were "
                         "rebuilt since training (or CONFIG is another dataset's); test it on the lists it was "
                         "trained with, or train again")


def _test_config(args):
    """``(cfg, classes)`` to test ``args.checkpoint`` with: the config it stores, unless one is named (a name or a
    config file, which then replaces it), ``--cfg-options`` on top; and the class names it stores (or None)."""
    from ..checkpoints import check_architecture
    from ..configs import apply_overrides, check_config, get_config
    from ..factory import checkpoint_config
    cfg = get_config(args.config, args.cfg_options) if args.config else None  # its errors before any file is read
    stored, classes, its_own = checkpoint_config(args.checkpoint, args.trusted)
    if cfg is not None:  # against the config the file holds, not today's config of its name
        check_architecture(its_own, cfg, args.checkpoint,
                           f"test it with its own config: python -m tsnbook test {args.checkpoint}")
        return cfg, classes
    if stored is None:
        raise ValueError(f"{args.checkpoint} stores no tsnbook config (an MMAction2 checkpoint, or an old file): name "
                         f"the config it was trained with: python -m tsnbook test CONFIG {args.checkpoint}")
    source = f"the config stored in {args.checkpoint}"
    cfg = apply_overrides(stored, args.cfg_options, source)
    check_config(cfg, source)
    return cfg, classes


def _test(args):
    import numpy as np

    from ..configs import option
    from ..engine import evaluate_checkpoint
    from ..metrics import METRICS, scored_rows
    from .reports import confusion_report, per_class_report, video_names
    cfg, classes = _test_config(args)
    wanted = list(args.eval or [])
    unknown = [m for m in wanted if m not in METRICS + ("confusion_matrix",)]
    if unknown:
        raise ValueError(f"unknown --eval metric(s) {', '.join(unknown)}: choose from {', '.join(METRICS)}, "
                         f"confusion_matrix")
    single_label = not option(cfg, "multi_label")
    if "confusion_matrix" in wanted and not single_label:
        raise ValueError("--eval confusion_matrix needs a single-label dataset; this config is multi-label")
    metrics = [m for m in wanted if m != "confusion_matrix"]
    if metrics:
        cfg["eval_metrics"] = metrics
    if args.average_clips is not None:
        cfg["average_clips"] = None if args.average_clips == "none" else args.average_clips
    if args.out:
        from ..scores import check_out_path
        from .options import refuse_overwriting_inputs
        check_out_path(args.out)
        refuse_overwriting_inputs([("--out", args.out)], [("CONFIG", args.config), ("CHECKPOINT", args.checkpoint)])
    prepare_generated_data(cfg, not args.no_progress)
    _check_classes(args, cfg, classes)
    main_process = int(os.environ.get("RANK", 0)) == 0  # under torchrun every process tests its share; rank 0 reports
    if main_process:
        print(f"testing {cfg['name']} with {args.checkpoint}" + ("" if args.config else " (its own config)") +
              f" on {Path(cfg['data_root']) / cfg['ann_file_test']}")
        if Path(args.checkpoint).name == "best.pth" and cfg.get("ann_file_test") == cfg.get("ann_file_val"):
            print(f"note: the test list is the val list ({cfg['ann_file_test']}), on which validation chose best.pth: "
                  "the figure is optimistic; a held-out test list (ann_file_test) gives an honest one")
    scores, labels, report, skipped = evaluate_checkpoint(cfg, args.checkpoint, device=args.device,
                                                          progress=not args.no_progress, trusted=args.trusted,
                                                          strict=not args.no_strict, amp=args.amp,
                                                          workers=args.workers)
    if not main_process:
        return 0
    for key, value in report.items():
        if key == "top5" and scores.shape[1] <= 5:
            continue  # every video is in its top 5 of 5 or fewer classes: 100.00 says nothing
        print(f"{key}: {value:.2f}" if isinstance(value, float) else f"{key}: {value}")
    if skipped:
        print(f"skipped {len(skipped)} unusable video(s): " + "; ".join(skipped))
    if args.out:  # first: the reports below must not lose a test that took hours
        from ..scores import write_scores
        names = video_names(cfg) if Path(args.out).suffix == ".npz" else None
        write_scores(args.out, scores, labels, names, option(cfg, "average_clips"))
        print(f"scores written to {args.out}")
    if single_label:
        from ..data import label_names
        classes = classes or label_names(cfg)
        scored = scored_rows(scores)  # skipped videos have no scores
        kept = (scores[scored], np.asarray(labels)[scored])
        per_class_report(*kept, classes, args.out)
        if "confusion_matrix" in wanted:
            confusion_report(*kept, classes, args.out, title=f"{cfg['name']}: {report['protocol']}")
    return 0


def _fuse(args):
    from ..metrics import fuse_scores, mean_class_accuracy, top_k_accuracy
    from ..scores import read_fusion_inputs
    streams, labels = read_fusion_inputs(args.scores, args.datalist, args.apply_softmax)
    keep = _leave_out_unscored(args.scores, streams)
    streams, labels = [scores[keep] for scores in streams], labels[keep]
    fused = fuse_scores(streams, args.coefficients, apply_softmax=args.apply_softmax)
    if not keep.all():
        alone = ", ".join(f"{100 * top_k_accuracy(scores, labels, (1,))[0]:.2f}" for scores in streams)
        print(f"fused over the {len(labels)} videos every stream scored; each stream alone on them: top1 {alone}")
    top1, top5 = top_k_accuracy(fused, labels, (1, min(5, fused.shape[1])))
    print(f"mean class accuracy: {100 * mean_class_accuracy(fused, labels):.2f}")
    print(f"top1: {100 * top1:.2f}" + (f"\ntop5: {100 * top5:.2f}" if fused.shape[1] > 5 else ""))
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
    tr = sub.add_parser("train", parents=[common], help="train a config (torchrun for several processes)")
    tr.add_argument("config", help="a config name, a config file (.py: base = \"ROW\" + keys) or a run's config.json")
    tr.add_argument("--work-dir")
    tr.add_argument("--resume", nargs="?", const="auto", default=None,
                    help="resume from CKPT, or from WORK_DIR/latest.pth when no path is given (the newest "
                         "epoch_N.pth / best.pth there when latest.pth is missing)")
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
    te.add_argument("config", nargs="?", help="a config name or file (default: the one the checkpoint stores)")
    te.add_argument("checkpoint")
    te.add_argument("--eval", nargs="+", metavar="METRIC",
                    help="top_k_accuracy mean_class_accuracy mean_average_precision mmit_mean_average_precision "
                         "(default: the config's eval_metrics), confusion_matrix (a table up to 20 classes; CSV and "
                         "PNG beside --out)")
    te.add_argument("--out", help="per-video scores: .pkl (MMAction2's list of arrays), .json or .npz (with the "
                                  "videos' list paths); the per-class accuracy (CSV) is written beside it")
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
