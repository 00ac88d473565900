"""``python -m tsnbook COMMAND``: the command line, with the habits of MMAction2's tools/train.py and test.py.

    python -m tsnbook demo                       # the two-stream experiment on SynthActions
    python -m tsnbook data synthactions          # generate SynthActions (+ optical flow) only
    python -m tsnbook prepare DATASET STEP --root ROOT   # data_scripts/prepare.py (a dataset, or your own videos)
    python -m tsnbook configs                    # list the configs
    python -m tsnbook config show NAME_OR_FILE   # the resolved config; config dump NAME > mine.py: a file to edit
    python -m tsnbook train CONFIG [--work-dir DIR] [--resume [CKPT] | --force] [--cfg-options k=v ...] [--seed N]
                                 [--deterministic] [--validate]
    torchrun --nproc_per_node N -m tsnbook train CONFIG ...      # DistributedDataParallel, batch_size per process
    python -m tsnbook test [CONFIG] CHECKPOINT [--eval METRIC ... confusion_matrix] [--out scores.pkl|.json|.npz]
                                 [--average-clips score|prob|none] [--cfg-options k=v ...] [--workers N]
    torchrun --nproc_per_node N -m tsnbook test [CONFIG] CHECKPOINT ...   # the videos sharded over N processes
    python -m tsnbook fuse RGB_SCORES FLOW_SCORES [--coefficients 1 1] [--datalist LIST]
    python -m tsnbook bench-data --pipeline NAME --root DIR [--list FILE]   # data-pipeline speed
    python -m tsnbook predict CHECKPOINT VIDEO [--protocol 25x10] [--topk 5] [--label-map FILE]
    python -m tsnbook predict --rgb RGB.pth --flow FLOW.pth VIDEO   # two-stream TSN, the zoo's [1:1] fusion
    python -m tsnbook predict CHECKPOINT VIDEOS/FOLDERS/LISTS [--out result.csv|.json] [--out-video OUT.mp4]
    python -m tsnbook predict CHECKPOINT VIDEO --timeline --window S --stride S [--out t.json] [--plot t.png]
    python -m tsnbook predict CHECKPOINT --source 0|URL --window S --stride S   # a stream, a moving window
    python -m tsnbook features CHECKPOINT INPUTS --out DIR [--per-segment]
    python -m tsnbook export CHECKPOINT --format onnx|torchscript --out FILE [--check VIDEO] [--bench N]
    python -m tsnbook explain CHECKPOINT VIDEO --out FILE.png [--target CLASS]
    python -m tsnbook bench-model CONFIG [--protocol 25x10] [--batch 1] [--iters N] [--amp] [--channels-last] [--train]

CONFIG is a config's name, a config file (a Python file of plain assignments: ``base = "ROW"`` and the keys that
differ; `tsnbook.configs.files`) or a run's ``config.json``. ``test CHECKPOINT`` and ``predict CHECKPOINT VIDEO``
rebuild the model from the config the checkpoint stores; a CONFIG given replaces it.

As MMAction2's tools/train.py, ``train`` validates during training only with ``--validate`` (then best.pth is
kept); ``--no-validate`` is accepted and means the default. ``--cfg-options`` also takes the optional keys every
config may set (`tsnbook.configs.OPTIONAL_KEYS`, e.g. ``lr_base_batch=256``) although the config omits them.
"""
import argparse
import sys

from . import benchmarks, configuring, course, predicting, preparing, training, using
from .options import prepare_generated_data as _prepare_generated_data  # noqa: F401  (tests call it)

#: the modules that add commands, in the order --help lists them
COMMAND_MODULES = (course, preparing, configuring, training, predicting, using, benchmarks)


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m tsnbook", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: CUDA when available)")
    common.add_argument("--no-progress", action="store_true",
                        help="no progress reports (bars on a terminal, one line per epoch in a log)")
    for module in COMMAND_MODULES:
        module.add_commands(sub, common)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench-data"]:
        from ..bench import main as bench_main
        sys.exit(bench_main(argv[1:]))
    if argv[:1] == ["prepare"]:
        sys.exit(preparing.run(argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        sys.exit(args.func(args))
    except (KeyError, ValueError, FileNotFoundError, FileExistsError, RuntimeError) as err:
        # One clear line instead of a traceback from deep inside a library.
        from ..distributed import error_line  # under torchrun: rank 0's line alone, where every rank says it
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        sys.exit(error_line(message, err))
