"""``predict``: the top-k classes of a video, from one checkpoint or an RGB + flow pair."""
from pathlib import Path

from ..pipelines import PROTOCOLS
from .options import STRICT_HELP, TRUSTED_HELP


def _class_names(args, infos, num_classes):
    """--label-map, else the names the checkpoint(s) store; None (indices are printed) when neither has any."""
    from ..data import read_label_map
    if args.label_map:
        return read_label_map(args.label_map, num_classes)
    stored = [info["classes"] for info in infos if info.get("classes")]
    if len(stored) == 2 and stored[0] != stored[1]:
        raise ValueError("the RGB and the flow checkpoint store different class names: they were trained on "
                         "different label maps; pass the right one with --label-map")
    return stored[0] if stored else None


def _input_description(model, cfg, protocol, settings):
    from ..predict import describe_protocol
    views = describe_protocol(cfg, protocol)
    if model.modality != "flow":
        return views
    size = settings["resolution"] or "the video's own size"
    return (f"{views} on its optical flow, computed here: {settings['algorithm'].upper()}, bound "
            f"{settings['bound']:g}, {size}")


def _predict(args):
    from ..configs import get_config
    from ..factory import load_model
    from ..predict import flow_settings, predict_two_stream, predict_video, top_k
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


def add_commands(sub, common):
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
    pr.add_argument("--config", help="build the model from this config, a name or a config file (an MMAction2 file "
                                     "then uses its row's test protocol); a tsnbook checkpoint carries its own config")
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
