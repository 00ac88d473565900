"""``python -m tsnbook COMMAND``: the command line, with the habits of MMAction2's tools/train.py and test.py.

    python -m tsnbook demo                       # the two-stream experiment on SynthActions
    python -m tsnbook data synthactions          # generate SynthActions (+ optical flow) only
    python -m tsnbook configs                    # list the configs
    python -m tsnbook train CONFIG [--work-dir DIR] [--resume [CKPT] | --force] [--cfg-options k=v ...] [--seed N]
                                 [--deterministic] [--validate]
    torchrun --nproc_per_node N -m tsnbook train CONFIG ...      # DistributedDataParallel, batch_size per process
    python -m tsnbook test CONFIG CHECKPOINT [--eval METRIC ...] [--out scores.pkl|.json|.npz]
                                 [--average-clips score|prob|none] [--cfg-options k=v ...] [--workers N]
    torchrun --nproc_per_node N -m tsnbook test CONFIG CHECKPOINT ...   # the videos sharded over N processes
    python -m tsnbook fuse RGB_SCORES FLOW_SCORES [--coefficients 1 1] [--datalist LIST]
    python -m tsnbook bench-data --pipeline NAME --root DIR [--list FILE]   # data-pipeline speed
    python -m tsnbook predict CHECKPOINT VIDEO [--protocol 25x10] [--topk 5] [--label-map FILE]
    python -m tsnbook predict --rgb RGB.pth --flow FLOW.pth VIDEO   # two-stream TSN, the zoo's [1:1] fusion
    python -m tsnbook bench-model CONFIG [--protocol 25x10] [--batch 1] [--iters N] [--amp] [--channels-last] [--train]

As MMAction2's tools/train.py, ``train`` validates during training only with ``--validate`` (then best.pth is
kept); ``--no-validate`` is accepted and means the default. ``--cfg-options`` also takes the optional keys every
config may set (`tsnbook.configs.OPTIONAL_KEYS`, e.g. ``lr_base_batch=256``) although the config omits them.
"""
import argparse
import os
import sys
from pathlib import Path


SCORE_FORMATS = (".pkl", ".json", ".npz")
TRUSTED_HELP = ("the checkpoint's source is trusted: unpickle the Python objects some files store besides their "
                "tensors (otherwise refused, naming the object)")
STRICT_HELP = "load what fits when keys are missing or unexpected (default: an error listing them)"


def _demo(args):
    from .course.demo import main_exit_code, results_table, run_demo
    results = run_demo(args.work_dir, args.data_root, device=args.device, progress=not args.no_progress,
                       fresh=args.fresh, workers=args.workers)
    print("\n" + results_table(results["rows"]))
    print(f"\ntwo-stream gain over the best single stream: {results['gain']:+.1f} points "
          f"(RGB sees colour, flow sees direction; the sum of their scores sees both)")
    if main_exit_code(results):
        print(f"warning: the two-stream gain ({results['gain']:+.1f} points) is below the expected +20")
        return 1
    return 0


def _data(args):
    from .course.demo import prepare_zoo_replicas
    manifest = prepare_zoo_replicas(args.root, workers=args.workers, progress=not args.no_progress)
    print(f"SynthActions ready in {args.root}: {len(manifest['files'])} videos, optical flow extracted, frame "
          f"folders and lists for the zoo configs' _tiny twins written")
    return 0


def _configs(args):
    from .configs import all_configs
    for name in sorted(all_configs()):
        print(name)
    return 0


def _prepare_generated_data(cfg, progress):
    """SynthActions configs and the zoo's ``_tiny`` twins read generated data: make it on first use."""
    root = Path(cfg["data_root"])
    if root.name != "synthactions" or (root / "zoo_replicas.json").exists():
        return
    if int(os.environ.get("WORLD_SIZE", 1)) > 1:  # several processes must not write the same files
        raise FileNotFoundError(f"{root} has no generated data yet: run `python -m tsnbook data synthactions "
                                f"--root {root}` once, then torchrun")
    from .course.demo import prepare_zoo_replicas
    print(f"preparing SynthActions and the zoo twins' replicas in {root} (first use only) ...")
    prepare_zoo_replicas(root, progress=progress)


def _train(args):
    from .configs import get_config
    from .engine import train
    if args.validate and args.no_validate:
        raise ValueError("--validate and --no-validate contradict each other; give one")
    cfg = get_config(args.config, list(args.cfg_options) + ([f"seed={args.seed}"] if args.seed is not None else []))
    work_dir = args.work_dir or Path("work_dirs") / cfg["name"]
    _prepare_generated_data(cfg, not args.no_progress)
    resume = True if args.resume == "auto" else args.resume or False
    if args.force and resume:
        raise ValueError("--resume continues the run in the work dir and --force replaces it; give one")
    summary = train(cfg, work_dir, resume=resume, device=args.device, progress=not args.no_progress,
                    validate=args.validate, deterministic=args.deterministic, trusted=args.trusted, force=args.force)
    if int(os.environ.get("RANK", 0)) == 0:  # under torchrun, rank 0 speaks for all
        print(f"done: {summary}")
    return 0


def _test(args):
    from .configs import get_config
    from .engine import evaluate_checkpoint
    from .metrics import METRICS
    cfg = get_config(args.config, args.cfg_options)
    if args.eval:
        unknown = [m for m in args.eval if m not in METRICS]
        if unknown:
            raise ValueError(f"unknown --eval metric(s) {', '.join(unknown)}: choose from {', '.join(METRICS)}")
        cfg["eval_metrics"] = list(args.eval)
    if args.average_clips is not None:
        cfg["average_clips"] = None if args.average_clips == "none" else args.average_clips
    if args.out and Path(args.out).suffix not in SCORE_FORMATS:
        raise ValueError(f"--out {args.out}: the file name must end with {', '.join(SCORE_FORMATS)}")
    _prepare_generated_data(cfg, not args.no_progress)
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
        from .scores import write_scores
        write_scores(args.out, scores, labels)
        print(f"scores written to {args.out}")
    return 0


def _fuse(args):
    import numpy as np

    from .metrics import fuse_scores, mean_class_accuracy, top_k_accuracy
    from .scores import read_scores
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
    fused = fuse_scores([scores for scores, _ in loaded], args.coefficients, apply_softmax=args.apply_softmax)
    top1, top5 = top_k_accuracy(fused, labels, (1, min(5, fused.shape[1])))
    print(f"mean class accuracy: {100 * mean_class_accuracy(fused, labels):.2f}")
    print(f"top1: {100 * top1:.2f}\ntop5: {100 * top5:.2f}")
    return 0


def _class_names(args, infos, num_classes):
    """--label-map, else the names the checkpoint(s) store; None (indices are printed) when neither has any."""
    from .data import read_label_map
    if args.label_map:
        return read_label_map(args.label_map, num_classes)
    stored = [info["classes"] for info in infos if info.get("classes")]
    if len(stored) == 2 and stored[0] != stored[1]:
        raise ValueError("the RGB and the flow checkpoint store different class names: they were trained on "
                         "different label maps; pass the right one with --label-map")
    return stored[0] if stored else None


def _input_description(model, cfg, protocol, settings):
    from .predict import describe_protocol
    views = describe_protocol(cfg, protocol)
    if model.modality != "flow":
        return views
    size = settings["resolution"] or "the video's own size"
    return (f"{views} on its optical flow, computed here: {settings['algorithm'].upper()}, bound "
            f"{settings['bound']:g}, {size}")


def _predict(args):
    from .configs import get_config
    from .factory import load_model
    from .predict import flow_settings, predict_two_stream, predict_video, top_k
    two_stream = args.rgb or args.flow
    if two_stream and not (args.rgb and args.flow and args.checkpoint is None):
        raise ValueError("two-stream prediction takes --rgb RGB.pth --flow FLOW.pth VIDEO (both, and no other "
                         "checkpoint); one model: predict CHECKPOINT VIDEO")
    if not two_stream and args.checkpoint is None:
        raise ValueError("give a checkpoint and a video (predict CHECKPOINT VIDEO), or --rgb and --flow")
    if two_stream and (args.config or args.average_clips):
        raise ValueError("with --rgb and --flow each checkpoint uses its own config, and the streams' raw scores "
                         "are fused (the zoo's [1:1]): --config and --average-clips apply to one model only")
    if not Path(args.video).is_file():
        raise FileNotFoundError(f"video {args.video} does not exist")
    flow_options = {k: v for k, v in dict(algorithm=args.flow_algorithm, resolution=args.flow_resolution).items()
                    if v is not None}
    cfg = get_config(args.config, args.cfg_options) if args.config else None
    loaded, settings = [], []
    for path in ([args.rgb, args.flow] if two_stream else [args.checkpoint]):
        model, info = load_model(path, cfg=cfg, trusted=args.trusted, strict=not args.no_strict,
                                 num_segments=args.num_segments)
        loaded.append((model.to(args.device) if args.device else model, info))
        settings.append(dict(flow_settings(info["cfg"]), **flow_options))  # how the flow is computed, if flow
    names = _class_names(args, [info for _, info in loaded], loaded[0][0].num_classes)
    # each checkpoint's (or --config's) own test protocol, unless --protocol names one
    own = [info["cfg"] if args.protocol is None else None for _, info in loaded]
    if two_stream:
        (rgb, rgb_info), (flow, flow_info) = loaded
        result = predict_two_stream(rgb, flow, args.video, own[0], own[1], args.protocol, args.coefficients,
                                    flow=settings[1])
        print(f"rgb:   {rgb_info['description']}")
        print(f"flow:  {flow_info['description']}")
        print(f"video: {args.video}")
        print(f"       rgb: {_input_description(rgb, own[0], args.protocol, settings[0])}")
        print(f"       flow: {_input_description(flow, own[1], args.protocol, settings[1])}")
        weights = ":".join(f"{c:g}" for c in args.coefficients)
        print(f"       raw scores (average_clips=None) fused {weights}, as the zoo's two-stream rows")
        for rank, (index, name, score) in enumerate(top_k(result["fused"], args.topk, names), 1):
            print(f"{rank:>2}. {name:<30} {score:9.4f}  (rgb {result['rgb'][index]:.4f}, flow "
                  f"{result['flow'][index]:.4f})" + ("" if names is None else f"  (class {index})"))
    else:
        (model, info), = loaded
        average_clips = args.average_clips or "prob"
        scores = predict_video(model, args.video, args.protocol, average_clips, cfg=own[0], flow=settings[0])
        print(f"model: {info['description']}")
        print(f"video: {args.video} ({_input_description(model, own[0], args.protocol, settings[0])}, "
              f"average_clips={average_clips})")
        for rank, (index, name, score) in enumerate(top_k(scores, args.topk, names), 1):
            print(f"{rank:>2}. {name:<30} {score:.4f}" + ("" if names is None else f"  (class {index})"))
    if names is None:
        print("(class indices: the checkpoint stores no class names; pass --label-map FILE, e.g. the dataset's "
              "classInd.txt)")
    return 0


def _bench_model(args):
    from .bench_model import run_from_args
    return run_from_args(args)


def build_parser():
    from .pipelines import PROTOCOLS  # numpy only: the parser stays light
    parser = argparse.ArgumentParser(prog="python -m tsnbook", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: CUDA when available)")
    common.add_argument("--no-progress", action="store_true",
                        help="no progress reports (bars on a terminal, one line per epoch in a log)")

    demo = sub.add_parser("demo", parents=[common], help="two-stream TSN on SynthActions, end to end")
    demo.add_argument("--work-dir", default="work_dirs/demo")
    demo.add_argument("--data-root", default="data/synthactions")
    demo.add_argument("--fresh", action="store_true", help="retrain even if finished checkpoints exist")
    demo.add_argument("--workers", type=int, default=None, help="processes for flow extraction")
    demo.set_defaults(func=_demo)

    data = sub.add_parser("data", parents=[common], help="generate a dataset")
    data.add_argument("dataset", choices=["synthactions"])
    data.add_argument("--root", default="data/synthactions")
    data.add_argument("--workers", type=int, default=None)
    data.set_defaults(func=_data)

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

    pr = sub.add_parser("predict", parents=[common],
                        help="top-k classes of one video (tsnbook or MMAction2 checkpoint; --rgb/--flow: two-stream)")
    pr.add_argument("checkpoint", nargs="?",
                    help="a tsnbook checkpoint (latest.pth, best.pth) or an MMAction2 TSN .pth; a flow model scores "
                         "the video's optical flow, computed from the video")
    pr.add_argument("video")
    pr.add_argument("--rgb", metavar="RGB.pth", help="two-stream: the RGB stream's checkpoint (with --flow)")
    pr.add_argument("--flow", metavar="FLOW.pth", help="two-stream: the flow stream's checkpoint (with --rgb)")
    pr.add_argument("--coefficients", type=float, nargs=2, default=[1.0, 1.0], metavar=("RGB", "FLOW"),
                    help="two-stream: weights of the raw scores (default 1 1, the zoo's [1:1])")
    pr.add_argument("--flow-algorithm", choices=["dis", "farneback", "tvl1"],
                    help="how a flow model's input is computed (default: the config's flow_algorithm, DIS; the "
                         "zoo's flow rows were trained on TV-L1 flow)")
    pr.add_argument("--flow-resolution", help="frame size for the flow: 340x256, short256, ... (default: the "
                                              "config's flow_resolution, else the video's own size)")
    pr.add_argument("--config", help="build the model from this config (an MMAction2 file then uses its row's test "
                                     "protocol); a tsnbook checkpoint carries its own config")
    pr.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="overrides for --config")
    pr.add_argument("--protocol", default=None,
                    help="a named test protocol (" + ", ".join(PROTOCOLS) + ", ...; see tsnbook.pipelines); "
                         "default: the config's own, else 25x10")
    pr.add_argument("--topk", type=int, default=5)
    pr.add_argument("--label-map", help="class names: one per line in label order, or classInd.txt's 'ID NAME' "
                                        "lines (default: the names the checkpoint stores)")
    pr.add_argument("--num-segments", type=int,
                    help="TSN's segments (the 'val' protocol's clips; default: the checkpoint's config, else 3)")
    pr.add_argument("--average-clips", choices=["prob", "score"], help="one model: prob (default) or raw scores")
    pr.add_argument("--trusted", action="store_true", help=TRUSTED_HELP)
    pr.add_argument("--no-strict", action="store_true", help=STRICT_HELP)
    pr.set_defaults(func=_predict)

    bm = sub.add_parser("bench-model", parents=[common], help="inference (or training) speed of a config's model")
    bm.add_argument("config")
    bm.add_argument("--protocol", default="25x10", help="a named test protocol (" + ", ".join(PROTOCOLS) + ", ...)")
    bm.add_argument("--batch", type=int, default=1, help="videos per forward pass")
    bm.add_argument("--iters", type=int, default=20, help="timed iterations (after 5 warm-up ones)")
    bm.add_argument("--warmup", type=int, default=5)
    bm.add_argument("--amp", action="store_true", help="CUDA: also time bf16 autocast")
    bm.add_argument("--channels-last", action="store_true", help="CUDA: also time NHWC memory format")
    bm.add_argument("--train", action="store_true", help="time a training step (clips/s) instead of inference")
    bm.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE")
    bm.set_defaults(func=_bench_model)

    # bench-data has its own parser (tsnbook.bench); listed here so that --help shows it.
    sub.add_parser("bench-data", add_help=False, help="videos/s of one data pipeline (bench-data --help)")
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench-data"]:
        from .bench import main as bench_main
        sys.exit(bench_main(argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        sys.exit(args.func(args))
    except (KeyError, ValueError, FileNotFoundError, FileExistsError, RuntimeError) as err:
        # One clear line instead of a traceback from deep inside a library.
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        sys.exit(f"error: {message}")
