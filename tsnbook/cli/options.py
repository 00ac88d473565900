"""What several commands share: help texts, generated data on first use."""
import os
from pathlib import Path

TRUSTED_HELP = ("the checkpoint's source is trusted: unpickle the Python objects some files store besides their "
                "tensors (otherwise refused, naming the object)")
STRICT_HELP = "load what fits when keys are missing or unexpected (default: an error listing them)"


def prepare_generated_data(cfg, progress):
    """SynthActions configs and the zoo's ``_tiny`` twins read generated data: make it on first use (any other
    config's data is the user's, and nothing is ever written for it)."""
    from ..configs import reads_generated_data
    root = Path(cfg["data_root"])
    if not reads_generated_data(cfg) or (root / "zoo_replicas.json").exists():
        return
    if int(os.environ.get("WORLD_SIZE", 1)) > 1:  # several processes must not write the same files
        raise FileNotFoundError(f"{root} has no generated data yet: run `python -m tsnbook data synthactions "
                                f"--root {root}` once, then torchrun")
    from ..course.demo import prepare_zoo_replicas
    print(f"preparing SynthActions and the zoo twins' replicas in {root} (first use only) ...")
    prepare_zoo_replicas(root, progress=progress)


# ------------------------------------------------------------------------------ using a trained model (predict, ...)
def add_model_options(parser, protocol=True):
    """The options every command that uses a trained checkpoint shares (predict, features, export, explain)."""
    from ..pipelines import PROTOCOLS
    parser.add_argument("--config", help="build the model from this config, a name or a config file (an MMAction2 "
                                          "file then uses its row's test protocol); a tsnbook checkpoint carries its "
                                          "own config")
    parser.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="overrides for --config")
    if protocol:
        parser.add_argument("--protocol", default=None,
                            help="a named test protocol (" + ", ".join(PROTOCOLS) + ", ...; see tsnbook.pipelines), "
                                 "at the model's own sizes; default: the config's own, else 25x10")
    parser.add_argument("--num-segments", type=int,
                        help="TSN's segments (the 'val' protocol's clips; default: the checkpoint's config, else 3)")
    parser.add_argument("--flow-algorithm", choices=["dis", "farneback", "tvl1"],
                        help="how a flow model's input is computed (default: the config's flow_algorithm, DIS; the "
                             "zoo's flow rows were trained on TV-L1 flow)")
    parser.add_argument("--flow-resolution", help="frame size for the flow: 340x256, short256, ... (default: the "
                                                  "config's flow_resolution, else the video's own size)")
    parser.add_argument("--label-map", help="class names: one per line in label order, or classInd.txt's 'ID NAME' "
                                            "lines (default: the names the checkpoint stores)")
    parser.add_argument("--trusted", action="store_true", help=TRUSTED_HELP)
    parser.add_argument("--no-strict", action="store_true", help=STRICT_HELP)


def load_for_use(args, path):
    """``(model, info, cfg, flow)`` of one checkpoint, as the options say: the model on ``--device`` in eval mode,
    ``cfg`` (--config, else the checkpoint's; None for an MMAction2 file) and, for a flow model, how its input
    flow is computed (None for RGB). A flow model whose checkpoint does not say how its flow was made (an
    MMAction2 file) needs --flow-algorithm: guessing would score the video's flow with the wrong algorithm."""
    from ..configs import get_config
    from ..factory import load_model
    from ..predict import flow_settings
    cfg = get_config(args.config, args.cfg_options) if getattr(args, "config", None) else None
    model, info = load_model(path, cfg=cfg, trusted=args.trusted, strict=not args.no_strict,
                             num_segments=args.num_segments)
    if args.device:
        model = model.to(args.device)
    if model.modality != "flow":
        return model, info, info["cfg"], None
    if info["cfg"] is None and not args.flow_algorithm:
        raise ValueError(f"{path} is a flow model whose file does not record how its optical flow was computed: "
                         f"pass --flow-algorithm (tvl1 for the zoo's flow rows; dis, farneback) or --config")
    options = dict(algorithm=args.flow_algorithm, resolution=args.flow_resolution)
    return model, info, info["cfg"], dict(flow_settings(info["cfg"]), **{k: v for k, v in options.items() if v})


def class_names(args, infos, num_classes):
    """--label-map, else the names the checkpoint(s) store; None (indices are printed) when neither has any."""
    from ..data import read_label_map
    if args.label_map:
        return read_label_map(args.label_map, num_classes)
    stored = [info["classes"] for info in infos if info.get("classes")]
    if len(stored) == 2 and stored[0] != stored[1]:
        raise ValueError("the RGB and the flow checkpoint store different class names: they were trained on "
                         "different label maps; pass the right one with --label-map")
    return stored[0] if stored else None


def check_output(path, suffixes, option="--out"):
    """Refuse an output path before the work starts: a missing folder, or an ending the command cannot write."""
    if path is None:
        return None
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{option} {path}: the file must end in {' or '.join(suffixes)}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{option} {path}: the folder {path.parent} does not exist (create it first)")
    return path


def video_inputs(inputs, video_root=None):
    """``(videos, origins)`` of ``predict`` and ``features``' inputs (`tsnbook.batch.expand_inputs`), a single
    video checked now, before a model loads: a missing one named by its ``list:line``."""
    from ..batch import check_video_path, expand_inputs
    origins = {}
    videos = expand_inputs(inputs, video_root, origins)
    if len(videos) == 1:
        check_video_path(videos[0], origins.get(0))
    return videos, origins
