"""``features``, ``export``, ``explain``: what a trained TSN is used for besides ``predict``.

    features CHECKPOINT INPUTS --out DIR [--per-segment]       # one .npy per video: the pooled feature
    export CHECKPOINT --format onnx|torchscript --out FILE [--check VIDEO] [--bench N]
    explain CHECKPOINT VIDEO --out FILE.png [--target CLASS | --target-index N]   # what decided: segments, crops
"""
from ..spelling import did_you_mean
from .options import (add_model_options, check_figure_output, check_output, check_output_folder, class_names,
                      load_for_use, model_inputs, non_negative_int, positive_int, refuse_overwriting_inputs,
                      video_inputs)


def _features(args):
    from ..features import expanded_features, feature_files, save_features
    from ..predict import describe_protocol
    out = check_output_folder(args.out)
    videos, origins = video_inputs(args.inputs, args.video_root)
    files, features, skipped = feature_files(videos, out), {}, []
    refuse_overwriting_inputs([("--out", path) for path in [*files.values(), out / "features.json"]],
                              model_inputs(args, [args.checkpoint], args.inputs, videos))
    model, info, cfg, flow = load_for_use(args, args.checkpoint)
    for result in expanded_features(model, videos, cfg=cfg, protocol=args.protocol, per_segment=args.per_segment,
                                    workers=args.workers, flow=flow, origins=origins):
        if "error" in result:
            if len(videos) == 1:
                raise ValueError(result["error"])
            skipped.append(result["error"])
            continue
        features[result["video"]] = result["features"]
    mean = "the mean" if model.consensus.kind == "avg" else f"the {model.consensus.kind} consensus' weighted mean"
    what = ("one pooled feature per snippet (clip), averaged over its crops: [clips, D]" if args.per_segment else
            f"the pooled feature after the consensus ({mean} over all views), the classifier's input: [D]")
    out.mkdir(exist_ok=True)
    save_features(out, files, features, dict(model=info["description"], views=describe_protocol(cfg, args.protocol),
                                             what=what, skipped=skipped))
    shape = next(iter(features.values())).shape if features else ()
    print(f"wrote {len(features)} feature files of shape {tuple(shape)} to {out} ({what}); index: "
          f"{out / 'features.json'}")
    for error in skipped:
        print(f"skipped {error}")
    return 1 if skipped else 0


def _export(args):
    from ..predict import check_video_path
    from ..export import FORMATS, check_export, compare_speed, export_model
    from ..predict import describe_protocol, view_extractor, video_views
    out = check_output(args.out, FORMATS[args.format])
    if args.bench and not args.check:
        raise ValueError("--bench times the views of the --check video: give --check VIDEO")
    if args.check:
        check_video_path(args.check)
    refuse_overwriting_inputs([("--out", out), ("--out", f"{out}.json")],
                              model_inputs(args, [args.checkpoint]) + [("the --check video", args.check)])
    model, info, cfg, flow = load_for_use(args, args.checkpoint)
    extract = view_extractor(model, cfg, args.protocol, flow=flow)
    names = class_names(args, [info], model.num_classes)
    export_model(model.cpu(), out, extract, args.format, args.average_clips, names, info["description"])
    print(f"wrote {out} ({args.format}: uint8 views [videos, views, {model.in_channels}, H, W] in, "
          f"{args.average_clips} scores [videos, {model.num_classes}] out; videos, views and size dynamic)")
    print(f"wrote {out}.json (the views, {describe_protocol(cfg, args.protocol)}, class names: what a deployment "
          f"needs with tsnbook.views, without torch)")
    views = video_views(args.check, extract) if args.check else None
    if args.check:
        report = check_export(out, model, args.check, extract, args.average_clips, args.format, views)
        print(f"check on {args.check} ({report['views'][0]} views): largest |exported - predict_video| = "
              f"{report['max_abs_diff']:.2e}" + (" (within 1e-4)" if report["max_abs_diff"] <= 1e-4 else
                                                  " - MORE THAN 1e-4"))
        if report["max_abs_diff"] > 1e-4:
            return 1
    if args.bench:
        speed = compare_speed(model, out, views, args.bench, args.format)
        print(f"speed on this machine ({speed['threads']} threads each), {len(views)} views a video, median of "
              f"{args.bench} alternating runs: eager "
              f"PyTorch {speed['eager']:.3f} videos/s, {args.format} {speed['exported']:.3f} videos/s "
              f"({speed['ratio']:.2f}x: {'the export' if speed['ratio'] > 1 else 'eager PyTorch'} is faster)")
    return 0


def target_class(target, target_index, names, num_classes):
    """The class ``explain`` explains: ``--target`` a class name (any case) first - class folders may be named
    1, 2, 3 - else an index; ``--target-index`` an index only. A target that names one class and indexes another
    is refused, saying how to choose. None: the top class."""
    if target_index is not None:
        if not 0 <= target_index < num_classes:
            raise ValueError(f"--target-index {target_index}: the model has classes 0..{num_classes - 1}")
        return target_index
    if target is None:
        return None
    lowered = [name.lower() for name in names or []]
    named = names.index(target) if target in (names or []) else \
        lowered.index(target.lower()) if target.lower() in lowered else None
    index = int(target) if target.isdigit() and int(target) < num_classes else None
    if named is not None and index is not None and named != index:
        raise ValueError(f"--target {target} is both the class named {names[named]!r} (index {named}) and class "
                         f"index {index} ({names[index]!r}): pass --target-index {named} or --target-index {index}")
    if named is None and index is None:
        raise ValueError(f"--target {target}: no class of that name{did_you_mean(target, names or [])}; give a class "
                         f"name or an index 0..{num_classes - 1}")
    return named if named is not None else index


def _explain(args):
    from ..predict import check_video_path
    from ..explain import explain_views
    from ..predict import describe_protocol, view_extractor, video_views
    out = check_figure_output(args.out, "explain")
    check_video_path(args.video)
    refuse_overwriting_inputs([("--out", out)], model_inputs(args, [args.checkpoint], videos=[args.video]))
    model, info, cfg, flow = load_for_use(args, args.checkpoint)
    names = class_names(args, [info], model.num_classes)
    target = target_class(args.target, args.target_index, names, model.num_classes)
    extract = view_extractor(model, cfg, args.protocol)
    views = video_views(args.video, extract, flow)
    result = explain_views(model, views, target, extract.crops,
                           num_clips=extract.num_segments)
    name = names[result["target"]] if names else str(result["target"])
    print(f"model: {info['description']}; video: {args.video} ({describe_protocol(cfg, args.protocol)}, "
          f"{len(views)} views)")
    print(f"class {name} (class {result['target']}): raw score {result['score']:.4f} = the sum of the {len(views)} "
          f"views' contributions ({result['contributions'].sum():.4f})")
    segments = result["per_segment"]
    print("per segment: " + "  ".join(f"{i + 1}:{v:+.3f}" for i, v in enumerate(segments)))
    print("per crop:    " + "  ".join(f"{i + 1}:{v:+.3f}" for i, v in enumerate(result["per_crop"])))
    from ..course.figures import explanation_figure, save_figure
    save_figure(explanation_figure(result, views, extract.crops, name), out)
    print(f"wrote {out}")
    return 0


def add_commands(sub, common):
    fe = sub.add_parser("features", parents=[common], help="one .npy per video: the pooled TSN feature (or one per "
                                                           "snippet), with the config's own views")
    fe.add_argument("checkpoint")
    fe.add_argument("inputs", nargs="+", help="videos, folders of videos, list files")
    fe.add_argument("--out", required=True, metavar="DIR", help="folder for the .npy files and features.json")
    fe.add_argument("--per-segment", action="store_true", help="one feature per snippet (clip): [clips, D]")
    fe.add_argument("--workers", type=non_negative_int, default=0, help="DataLoader processes that decode the videos")
    fe.add_argument("--video-root", help="folder that a list file's relative paths start from")
    add_model_options(fe)
    fe.set_defaults(func=_features)

    ex = sub.add_parser("export", parents=[common], help="the whole test-time TSN as ONNX or TorchScript (uint8 views "
                                                         "in, scores out), checked against predict_video")
    ex.add_argument("checkpoint")
    ex.add_argument("--format", choices=["onnx", "torchscript"], required=True)
    ex.add_argument("--out", required=True, metavar="FILE", help="FILE.onnx, or FILE.pt for TorchScript")
    ex.add_argument("--average-clips", choices=["prob", "score"], default="prob",
                    help="what the graph outputs: softmax probabilities (default) or raw scores")
    ex.add_argument("--check", metavar="VIDEO", help="run the exported file on this video's views and print the "
                                                     "largest difference from predict_video (exit 1 above 1e-4)")
    ex.add_argument("--bench", type=positive_int, metavar="N",
                    help="with --check: videos/s of eager PyTorch and of the export, N alternating runs on the same "
                         "views")
    add_model_options(ex)
    ex.set_defaults(func=_export)

    xp = sub.add_parser("explain", parents=[common], help="which segments, crops and places decided a prediction "
                                                          "(exact: contributions sum to the score)")
    xp.add_argument("checkpoint")
    xp.add_argument("video")
    xp.add_argument("--out", required=True, metavar="FILE.png")
    target = xp.add_mutually_exclusive_group()
    target.add_argument("--target", help="the class to explain: its name (any case), else an index (default: the "
                                          "top class)")
    target.add_argument("--target-index", type=int, metavar="N", help="the class to explain by its index only")
    add_model_options(xp)
    xp.set_defaults(func=_explain)
