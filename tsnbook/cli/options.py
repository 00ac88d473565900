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
