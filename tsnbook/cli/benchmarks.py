"""``bench-model`` (model-only speed) and ``bench-data`` (data-pipeline speed, its own parser in tsnbook.bench)."""
from ..pipelines import PROTOCOLS


def _bench_model(args):
    from ..bench_model import run_from_args
    return run_from_args(args)


def add_commands(sub, common):
    bm = sub.add_parser("bench-model", parents=[common], help="inference (or training) speed of a config's model")
    bm.add_argument("config", help="a config name or a config file")
    bm.add_argument("--protocol", help="a named test protocol (" + ", ".join(PROTOCOLS) + ", ...), at the model's "
                    "sizes; default: the config's own, as the zoo's inference column times each row")
    bm.add_argument("--batch", type=int, default=1, help="videos per forward pass")
    bm.add_argument("--iters", type=int, default=20, help="timed iterations (after --warmup untimed ones)")
    bm.add_argument("--warmup", type=int, default=5, help="untimed iterations first (default 5, as MMAction2)")
    bm.add_argument("--amp", action="store_true", help="CUDA: also time 16-bit autocast (the config's amp: bf16 "
                    "from compute capability 8.0, else fp16)")
    bm.add_argument("--channels-last", action="store_true", help="CUDA: also time NHWC memory format")
    bm.add_argument("--train", action="store_true", help="time a training step (clips/s) instead of inference")
    bm.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE")
    bm.set_defaults(func=_bench_model)

    # bench-data has its own parser (tsnbook.bench); listed here so that --help shows it.
    sub.add_parser("bench-data", add_help=False, help="videos/s of one data pipeline (bench-data --help)")
