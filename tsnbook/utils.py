"""Small helpers shared by the engine, the demo and the notebooks: seeding, device choice, environment report."""
import os
import platform
import random
from pathlib import Path

import numpy as np
import torch


def seed_everything(seed=0, deterministic=False):
    """Seed Python, NumPy and torch; with ``deterministic`` also ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def best_device():
    """"cuda" when a GPU is visible, else "mps" on Apple silicon, else "cpu" (``TSNBOOK_DEVICE`` overrides)."""
    if os.environ.get("TSNBOOK_DEVICE"):
        return os.environ["TSNBOOK_DEVICE"]
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_device(device=None, local_rank=None):
    """The ``torch.device`` to run on, always with an index on CUDA: every entry point normalises here.

    ``device``: None (`best_device`), a string ("cpu", "cuda", "cuda:1", "mps") or a torch.device. A bare "cuda"
    becomes ``cuda:<local_rank>`` under torchrun (one GPU per process) and ``cuda:0`` otherwise, because
    ``torch.cuda.set_device`` and DDP's ``device_ids`` need an index (a bare "cuda" raises there).
    """
    device = torch.device(device or best_device())
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank or 0)
    return device


def environment_report():
    """Versions and devices, as a dict of short strings (printed by the demo and notebook 00)."""
    import cv2
    import torchvision

    try:
        import decord
        decord_version = decord.__version__
    except ImportError:
        decord_version = "not installed (PyAV is used)"
    import av

    from . import __version__
    return {
        "tsnbook": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "PyAV": av.__version__,
        "decord": decord_version,
        "device": best_device(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }
