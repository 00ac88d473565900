"""The course's commands: ``demo`` (the two-stream experiment on SynthActions) and ``data synthactions``."""
import shlex

#: the demo's folders unless told otherwise
DEMO_DIRS = {"--work-dir": "work_dirs/demo", "--data-root": "data/synthactions"}


def _demo(args):
    from ..course.demo import main_exit_code, results_table, run_demo
    try:
        results = run_demo(args.work_dir, args.data_root, device=args.device, progress=not args.no_progress,
                           fresh=args.fresh, workers=args.workers)
    except KeyboardInterrupt:  # one line on what is kept and how to go on, not a traceback from inside torch.save
        given = {"--work-dir": args.work_dir, "--data-root": args.data_root}
        options = [f"{flag} {shlex.quote(str(value))}" for flag, value in given.items()
                   if str(value) != DEMO_DIRS[flag]]
        command = " ".join(["python -m tsnbook demo", *options]) + ("" if options else " (make demo)")
        raise SystemExit(f"interrupted: the epochs trained so far are kept in {args.work_dir}; {command} goes on "
                         f"from them{' (without --fresh, which starts over)' if args.fresh else ''}") from None
    print("\n" + results_table(results["rows"]))
    print(f"\ntwo-stream gain over the best single stream: {results['gain']:+.1f} points "
          f"(RGB sees colour, flow sees direction; the sum of their scores sees both)")
    if main_exit_code(results):
        print(f"warning: the two-stream gain ({results['gain']:+.1f} points) is below the expected +20")
        return 1
    return 0


def _data(args):
    from ..course.demo import prepare_zoo_replicas
    manifest = prepare_zoo_replicas(args.root, workers=args.workers, progress=not args.no_progress)
    print(f"SynthActions ready in {args.root}: {len(manifest['files'])} videos, optical flow extracted, frame "
          f"folders and lists for the zoo configs' _tiny twins written")
    return 0


def add_commands(sub, common):
    demo = sub.add_parser("demo", parents=[common], help="two-stream TSN on SynthActions, end to end")
    demo.add_argument("--work-dir", default=DEMO_DIRS["--work-dir"])
    demo.add_argument("--data-root", default=DEMO_DIRS["--data-root"])
    demo.add_argument("--fresh", action="store_true", help="retrain even if finished checkpoints exist")
    demo.add_argument("--workers", type=int, default=None, help="processes for flow extraction")
    demo.set_defaults(func=_demo)

    data = sub.add_parser("data", parents=[common], help="generate a dataset")
    data.add_argument("dataset", choices=["synthactions"])
    data.add_argument("--root", default="data/synthactions")
    data.add_argument("--workers", type=int, default=None)
    data.set_defaults(func=_data)
