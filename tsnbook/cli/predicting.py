"""``predict``: the top-k classes of videos (one, many, a folder, a list), an annotated video, a long-video timeline.

    predict CHECKPOINT VIDEO                       # the top-k, as MMAction2's demo.py (but as its test.py scores it)
    predict CHECKPOINT a.mp4 clips/ list.txt --out result.csv      # many inputs, the model loaded once
    predict CHECKPOINT VIDEO --out-video labelled.mp4               # the video with its top-k drawn
    predict CHECKPOINT VIDEO --timeline --window 2 --stride 1 --out t.json [--plot t.png] [--out-video t.mp4]
    predict CHECKPOINT --source 0 --window 2 --stride 0.5           # a camera (or a URL) with a moving window
    predict --rgb RGB.pth --flow FLOW.pth VIDEO                    # the two-stream TSN, the zoo's [1:1]
"""
from .options import (add_model_options, check_figure_output, check_output, class_names, load_for_use, model_inputs,
                      non_negative_int, positive_int, positive_seconds, refuse_overwriting_inputs, video_inputs)


def _split_paths(args):
    """``(checkpoint paths, inputs)``: two-stream takes --rgb/--flow and inputs only, one model CHECKPOINT INPUTS."""
    two_stream = args.rgb or args.flow
    if two_stream:
        if not (args.rgb and args.flow) or any(p.endswith((".pth", ".pt")) for p in args.paths):
            raise ValueError("two-stream prediction takes --rgb RGB.pth --flow FLOW.pth VIDEO (both, and no other "
                             "checkpoint); one model: predict CHECKPOINT VIDEO")
        if args.config or args.average_clips:
            raise ValueError("with --rgb and --flow each checkpoint uses its own config, and the streams' raw scores "
                             "are fused (the zoo's [1:1]): --config and --average-clips apply to one model only")
        return [args.rgb, args.flow], args.paths
    if len(args.paths) < (1 if args.source is not None else 2):
        raise ValueError("give a checkpoint and a video (predict CHECKPOINT VIDEO ...), or --rgb and --flow")
    return args.paths[:1], args.paths[1:]


def _views_description(model, cfg, protocol, flow):
    from ..predict import describe_protocol
    views = describe_protocol(cfg, protocol)
    if flow is None:
        return views
    size = flow["resolution"] or "the video's own size"
    return f"{views} on its optical flow, computed here: {flow['algorithm'].upper()}, bound {flow['bound']:g}, {size}"


def _top_k_note(k, asked, num_classes):
    if asked >= num_classes:
        return (f"all {num_classes} classes, best first (the model has only {num_classes}: --topk {asked} lists "
                f"every class, and their probabilities sum to 1)")
    return f"top-{k} of {num_classes} classes"


def _loaded(args, checkpoints):
    """``[(model, info, cfg, flow, extractor)]`` per checkpoint: each model with the views it is tested on."""
    from ..predict import check_two_stream, view_extractor
    loaded = []
    for path in checkpoints:
        model, info, cfg, flow = load_for_use(args, path)
        loaded.append((model, info, cfg, flow, view_extractor(model, cfg, args.protocol)))
    if len(loaded) == 2:
        check_two_stream(loaded[0][0], loaded[1][0])
    return loaded


def _results(args, loaded, videos, origins, average_clips):
    """Each video's ``dict(video, scores)`` or ``dict(video, error)``: one model's as `tsnbook.predict_videos`
    scores them (the same `view_scorer` and `scored_videos`, on the inputs expanded once); two streams' raw
    scores fused (the zoo's [1:1]), each stream's kept as ``streams``."""
    from ..batch import scored_videos
    from ..predict import view_scorer
    from ..metrics import fuse_scores
    mode = average_clips if len(loaded) == 1 else "score"
    scorers = [view_scorer(model, extract, mode) for model, *_, extract in loaded]

    def scored(views):
        streams = [score(stream_views) for score, stream_views in zip(scorers, views)]
        if len(streams) == 1:
            return dict(scores=streams[0])
        return dict(scores=fuse_scores([s[None] for s in streams], list(args.coefficients))[0], streams=streams)

    streams = [(extract, flow) for _, _, _, flow, extract in loaded]
    return scored_videos(videos, streams, scored, args.workers, origins)


def _print_one(args, loaded, video, scores, streams, names, k, mode):
    from ..predict import top_k
    for label, (model, info, cfg, flow, _) in zip(["rgb:  ", "flow: "] if streams else ["model:"], loaded):
        print(f"{label} {info['description']}")
    if streams:
        print(f"video: {video}")
        for label, (model, info, cfg, flow, _) in zip(("rgb", "flow"), loaded):
            print(f"       {label}: {_views_description(model, cfg, args.protocol, flow)}")
        weights = ":".join(f"{c:g}" for c in args.coefficients)
        print(f"       raw scores (average_clips=None) fused {weights}, as the zoo's two-stream rows")
    else:
        model, info, cfg, flow, _ = loaded[0]
        print(f"video: {video} ({_views_description(model, cfg, args.protocol, flow)}, average_clips={mode})")
    print(_top_k_note(k, args.topk, len(scores)))
    for rank, (index, name, score) in enumerate(top_k(scores, k, names), 1):
        detail = f"  (rgb {streams[0][index]:.4f}, flow {streams[1][index]:.4f})" if streams else ""
        width = ".4f" if not streams else "9.4f"
        print(f"{rank:>2}. {name:<30} {score:{width}}{detail}" + ("" if names is None else f"  (class {index})"))


def _print_table(rows, k, skipped):
    width = max(len(r["video"]) for r in rows) if rows else 5
    print(f"{'video':<{width}}  " + "  ".join(f"{f'top-{r}':<22}" for r in range(1, k + 1)))
    for row in rows:
        print(f"{row['video']:<{width}}  " + "  ".join(f"{t['name'][:14]:<14} {t['score']:7.4f}" for t in row["top_k"]))
    for failure in skipped:
        print(f"skipped {failure['error']}")  # the error names the video (and its list line)


def _outputs(args):
    """``(option, path)`` of every file predict writes, each checked before any work (`check_output`)."""
    check_output(args.out, (".json", ".csv"))
    check_output(args.out_video, (".mp4", ".mkv", ".avi", ".webm"), "--out-video")
    check_figure_output(args.plot, "predict", "--plot")
    return [("--out", args.out), ("--out-video", args.out_video), ("--plot", args.plot)]


def _predict(args):
    from ..batch import top_k_rows, write_results
    checkpoints, inputs = _split_paths(args)
    outputs = _outputs(args)
    if args.timeline or args.source is not None:
        return _timeline(args, checkpoints, inputs, outputs)
    if args.plot or args.window or args.stride:
        raise ValueError("--window, --stride and --plot belong to --timeline (or --source)")
    videos, origins = video_inputs(inputs, args.video_root)
    if args.out_video and len(videos) != 1:
        raise ValueError(f"--out-video draws on one video; {len(videos)} were given")
    refuse_overwriting_inputs(outputs, model_inputs(args, checkpoints, inputs, videos))
    loaded = _loaded(args, checkpoints)
    names = class_names(args, [info for _, info, *_ in loaded], loaded[0][0].num_classes)
    num_classes = loaded[0][0].num_classes
    k = min(args.topk, num_classes)
    mode = args.average_clips or "prob"
    scores, skipped, done = [], [], []
    for result in _results(args, loaded, videos, origins, mode):
        if "error" in result:
            if len(videos) == 1:
                raise ValueError(result["error"])
            skipped.append(result)
            continue
        scores.append(result["scores"])
        done.append(result["video"])
        if len(videos) == 1:
            _print_one(args, loaded, result["video"], result["scores"], result.get("streams"), names, k, mode)
    rows = top_k_rows(done, scores, names, k)
    if len(videos) > 1:
        print(_top_k_note(k, args.topk, num_classes) + (", probabilities" if mode == "prob" and len(loaded) == 1
                                                        else ", raw scores"))
        _print_table(rows, k, skipped)
    if names is None:
        print("(class indices: the checkpoint stores no class names; pass --label-map FILE, e.g. the dataset's "
              "classInd.txt)")
    if args.out:
        meta = dict(models=[info["description"] for _, info, *_ in loaded], average_clips=mode if len(loaded) == 1
                    else "score, fused", scores="probabilities (softmax)" if mode == "prob" and len(loaded) == 1
                    else "raw scores (logits)", classes=names)
        write_results(args.out, rows, meta, skipped)
        print(f"wrote {args.out} ({len(rows)} videos" + (f", {len(skipped)} skipped)" if skipped else ")"))
    if args.out_video and rows:
        from ..annotate import score_lines, write_annotated
        lines = score_lines([(t["class"], t["name"], t["score"]) for t in rows[0]["top_k"]],
                            mode if len(loaded) == 1 else "score")
        count = write_annotated(videos[0], args.out_video, lambda index: lines)
        print(f"wrote {args.out_video} ({count} frames, the top-{k} drawn on each)")
    return 1 if skipped else 0


def _timeline(args, checkpoints, inputs, outputs):
    from ..predict import check_video_path
    from ..timeline import run_timeline, write_timeline
    flag = "--timeline" if args.source is None else "--source"
    if len(checkpoints) != 1:
        raise ValueError(f"{flag} scores one RGB model (two streams would need every window's optical flow)")
    if args.source is None and len(inputs) != 1:
        raise ValueError("--timeline takes one video (or --source for a stream)")
    if args.source is not None and inputs:
        raise ValueError(f"--source {args.source} is the only input: give the checkpoint and no video")
    if args.window is None or args.stride is None:
        raise ValueError(f"{flag} needs --window SECONDS and --stride SECONDS")
    source = args.source if args.source is not None else str(check_video_path(inputs[0]))
    refuse_overwriting_inputs(outputs, model_inputs(args, checkpoints, videos=[source]))
    (model, info, cfg, flow, extract), = _loaded(args, checkpoints)
    if flow is not None:
        raise ValueError("--timeline scores RGB models: a flow model would need the optical flow of every window "
                         "(use predict on clips of the video instead)")
    names = class_names(args, [info], model.num_classes)
    k, mode = min(args.topk, model.num_classes), args.average_clips or "prob"
    views = _views_description(model, cfg, args.protocol, None)
    print(f"model: {info['description']}")
    print(f"source: {source} (each {args.window:g}-s window: {views}, average_clips={mode}; "
          + _top_k_note(k, args.topk, model.num_classes) + ")")

    def show(entry):
        print(f"{entry['start']:8.2f}-{entry['end']:8.2f} s  " + "  ".join(f"{t['name']} {t['score']:.3f}"
                                                                           for t in entry["top_k"]))

    result = run_timeline(model, source, args.window, args.stride, extract, mode, names, k, args.out_video, show)
    print(f"{len(result['windows'])} windows over {result['num_frames']} frames ({result['fps']:g} fps)")
    tail = result["unscored"]
    if tail:
        print(f"the last {tail['end'] - tail['start']:.2f} s ({tail['end_frame'] - tail['start_frame']} frames) end no "
              f"whole window: not scored")
    if result["stopped"]:
        print(f"stopped after {result['num_frames']} frames: {result['stopped']} (the windows before are kept)")
    if args.out:
        write_timeline(args.out, result, dict(model=info["description"], views=views))
        print(f"wrote {args.out}")
    if args.plot:
        from ..course.figures import save_figure, timeline_figure
        save_figure(timeline_figure(result, top=min(k, 5)), args.plot)
        print(f"wrote {args.plot}")
    if args.out_video:
        print(f"wrote {args.out_video} (each frame shows the newest window that ended at or before it)")
    return 1 if result["stopped"] else 0


def add_commands(sub, common):
    pr = sub.add_parser("predict", parents=[common],
                        help="top-k classes of videos, folders or lists (tsnbook or MMAction2 checkpoint; "
                             "--rgb/--flow: two-stream); an annotated video; a timeline of a long video or a stream")
    pr.add_argument("paths", nargs="*", metavar="CHECKPOINT INPUTS",
                    help="a tsnbook checkpoint (latest.pth, best.pth) or an MMAction2 TSN .pth, then videos, folders "
                         "of videos or list files (one video per line); a flow model scores each video's optical flow, "
                         "computed from the video")
    pr.add_argument("--rgb", metavar="RGB.pth", help="two-stream: the RGB stream's checkpoint (with --flow)")
    pr.add_argument("--flow", metavar="FLOW.pth", help="two-stream: the flow stream's checkpoint (with --rgb)")
    pr.add_argument("--coefficients", type=float, nargs=2, default=[1.0, 1.0], metavar=("RGB", "FLOW"),
                    help="two-stream: weights of the raw scores (default 1 1, the zoo's [1:1])")
    add_model_options(pr)
    pr.add_argument("--topk", type=positive_int, default=5,
                    help="classes listed per video, 1 or more (at most the model's classes)")
    pr.add_argument("--average-clips", choices=["prob", "score"], help="one model: prob (default) or raw scores")
    pr.add_argument("--out", metavar="FILE.csv|.json", help="write the results (video, top-k names and scores; with "
                                                            "--timeline: every window)")
    pr.add_argument("--workers", type=non_negative_int, default=0,
                    help="DataLoader processes that decode the videos (default 0)")
    pr.add_argument("--video-root", help="folder that the relative paths of a list file start from (default: the "
                                         "list file's folder)")
    pr.add_argument("--out-video", metavar="OUT.mp4", help="write the video with its top-k drawn on every frame")
    pr.add_argument("--timeline", action="store_true", help="score windows along one long video (--window, --stride)")
    pr.add_argument("--window", type=positive_seconds, metavar="SECONDS", help="timeline: the window's length")
    pr.add_argument("--stride", type=positive_seconds, metavar="SECONDS",
                    help="timeline: the step between window starts")
    pr.add_argument("--plot", metavar="FILE.png", help="timeline: a figure of the class scores over time (needs "
                                                       "matplotlib, the course extra)")
    pr.add_argument("--source", help="timeline of a stream: a camera index (0), a URL, or a file read as a stream")
    pr.set_defaults(func=_predict)
