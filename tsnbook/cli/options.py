"""What several commands share: help texts, generated data on first use, the checks of arguments and output paths
made before any model loads or any work starts."""
import argparse
import importlib.util
import math
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


# ------------------------------------------------------------------------------ argument types (parse-time checks)
def integer_at_least(minimum):
    """An argparse type: an integer >= ``minimum``, refused when the arguments are read (``--topk 0`` listed
    nothing, ``--topk -1`` all classes but one; ``--workers -1`` failed only once the model had loaded)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value
    return parse


positive_int, non_negative_int = integer_at_least(1), integer_at_least(0)


def positive_seconds(text):
    """An argparse type: a finite number of seconds > 0 (a timeline's --window and --stride)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def protocol_name(text):
    """An argparse type: a test protocol name as `tsnbook.pipelines.parse_protocol` reads it, checked at parse time
    so that a misspelt one is named before the model loads (not blamed on the video afterwards)."""
    from ..pipelines import parse_protocol
    try:
        parse_protocol(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


# ------------------------------------------------------------------------------ using a trained model (predict, ...)
def add_model_options(parser, protocol=True):
    """The options every command that uses a trained checkpoint shares (predict, features, export, explain)."""
    from ..pipelines import PROTOCOLS
    parser.add_argument("--config", help="build the model from this config, a name or a config file (an MMAction2 "
                                          "file then uses its row's test protocol); a tsnbook checkpoint carries its "
                                          "own config")
    parser.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="overrides for --config")
    if protocol:
        parser.add_argument("--protocol", default=None, type=protocol_name,
                            help="a named test protocol (" + ", ".join(PROTOCOLS) + ", ...; see tsnbook.pipelines), "
                                 "at the model's own sizes; default: the config's own, else 25x10")
    parser.add_argument("--num-segments", type=positive_int,
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


#: the files a figure is written to (matplotlib's formats that the commands offer)
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def check_output(path, suffixes, option="--out"):
    """Refuse an output file's path before the work starts: an ending the command cannot write, a folder where
    the file would go (it would fail only after all the work), a missing folder or a file in its place."""
    if path is None:
        return None
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{option} {path}: the file must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder: give a file to write (e.g. {path / ('result' + path.suffix)})")
    _check_parent(path, option)
    return path


def check_figure_output(path, command, option="--out"):
    """`check_output` for a figure (.png, .svg, .pdf), and matplotlib there to draw it: a lean ``pip install
    tsnbook`` has none (it is the course extra), and the figure comes last, after the model ran (or a stream was
    read until it was stopped), so its absence is said before the work."""
    path = check_output(path, FIGURE_SUFFIXES, option)
    if path is not None and importlib.util.find_spec("matplotlib") is None:
        raise RuntimeError(f"{command} {option} {path} draws with matplotlib, which is not installed: pip install "
                           f"'tsnbook[course]' (or pip install matplotlib)")
    return path


def check_output_folder(path, option="--out"):
    """Refuse an output folder's path before the work starts: an existing file (a folder is written there), a
    missing parent folder or a file in its place. An existing folder is fine."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {path} is a file: give a folder (new or existing) for the files to write")
    _check_parent(path, option)
    return path


def _check_parent(path, option):
    """The folder that ``path`` goes in must exist, and be a folder: name a file that stands in its way."""
    folder = path.parent
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"{option} {path}: {existing} is a file, not a folder (give a path in a folder)")
    if existing != folder:
        raise FileNotFoundError(f"{option} {path}: the folder {folder} does not exist (create it first)")


def refuse_overwriting_inputs(outputs, inputs):
    """Refuse, before any work, to write an output over one of the command's inputs: ``outputs`` are ``(option,
    path)`` and ``inputs`` ``(what, path)`` pairs (None paths are skipped). Files are compared by identity (device
    and inode), so a relative and an absolute spelling, a symbolic link or a hard link are all caught: the
    checkpoint, a video or a list file replaced by a result would be lost for good."""
    existing = [(option, Path(path)) for option, path in outputs if path is not None and Path(path).is_file()]
    if not existing:  # only a file that exists can be an input
        return
    read = {}
    for what, path in inputs:
        if path is not None and Path(path).is_file():
            read.setdefault(_identity(path), (what, path))
    for option, path in existing:
        if _identity(path) in read:
            what, given = read[_identity(path)]
            raise ValueError(f"{option} {path} is {what} {given}: writing it would replace that input; give "
                             f"{option} another file")


def _identity(path):
    status = Path(path).stat()
    return status.st_dev, status.st_ino


def model_inputs(args, checkpoints, given=(), videos=()):
    """The ``(what, path)`` inputs of a command that uses a model (`refuse_overwriting_inputs`): the checkpoint(s),
    --label-map, a --config file (a config's name is no file, and is skipped), the inputs as ``given`` (videos,
    folders, list files) and the ``videos`` they name."""
    return ([("the checkpoint", path) for path in checkpoints] + [("the --label-map", args.label_map),
                                                                   ("the --config", args.config)]
            + [("the input", path) for path in given] + [("the video", video) for video in videos])


def video_inputs(inputs, video_root=None):
    """``(videos, origins)`` of ``predict`` and ``features``' inputs (`tsnbook.batch.expand_inputs`), a single
    video checked now, before a model loads: a missing one named by its ``list:line``."""
    from ..batch import expand_inputs
    from ..predict import check_video_path
    origins = {}
    videos = expand_inputs(inputs, video_root, origins)
    if len(videos) == 1:
        check_video_path(videos[0], origins.get(0))
    return videos, origins
