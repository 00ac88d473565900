"""The package's shape: one-way imports, the library apart from the course, one source per protocol.

A learner should find any behaviour in one obvious file, and a module should only depend on the ones before it
(the order of `tsnbook/__init__.py`'s docstring), so that none of them can be understood only together with
another. These tests read the source (imports at any depth, also inside functions) and fail on a cycle.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tsnbook.configs import all_configs
from tsnbook.pipelines import parse_protocol, protocol_of, protocol_settings

PACKAGE = Path(__file__).resolve().parents[1] / "tsnbook"

#: the library's modules, lowest first: each may import only modules listed before it
LAYERS = ["testenv", "spelling", "texts", "progress", "jobs", "utils", "sampling", "h264", "io", "flow", "streams",
          "transforms", "pipelines", "configs", "views", "data", "backbones", "consensus", "models",
          "checkpoints", "mmaction2", "factory", "metrics", "scores", "logs", "schedules", "optim", "distributed",
          "gpu_augment", "loops", "locks", "runs", "engine", "predict", "annotate", "timeline", "batch", "features",
          "export", "explain", "bench_model", "bench_clips", "bench", "datasets", "course", "cli", "__main__"]


def _module_of(path):
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0] if parts[0] != "__init__" else "__init__"


def _imports(path):
    """The top-level tsnbook modules that ``path`` imports (relative or absolute), anywhere in the file."""
    tree = ast.parse(path.read_text())
    depth = len(path.relative_to(PACKAGE).parts) - 1  # 0 for tsnbook/x.py, 1 for tsnbook/configs/x.py
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                up = node.level - 1  # levels above the file's own package
                if up < depth:       # inside the same subpackage
                    continue
                target = (node.module or "").split(".")[0]
                if not target:       # "from .. import x"
                    found.update(alias.name for alias in node.names if alias.name != "__version__")
                else:
                    found.add(target)
            elif node.module and node.module.startswith("tsnbook."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("tsnbook."))
    return found


def test_every_module_imports_only_modules_before_it():
    order = {name: i for i, name in enumerate(LAYERS)}
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_of(path)
        if module == "__init__":
            continue  # the package's lazy export table names everything
        assert module in order, f"{path}: add {module!r} to LAYERS in tests/test_layout.py (in its place)"
        for target in _imports(path) - {module}:
            if target not in order:
                problems.append(f"{path.relative_to(PACKAGE)} imports unknown tsnbook.{target}")
            elif order[target] > order[module]:
                problems.append(f"{path.relative_to(PACKAGE)} ({module}) imports {target}, which comes after it")
    assert not problems, "\n".join(problems)


def test_the_library_does_not_import_the_course_and_needs_no_matplotlib():
    # Block matplotlib and the course package; every library module must still import (lean `pip install`).
    library = [m for m in LAYERS if m not in ("testenv", "course", "cli", "__main__", "datasets")]
    code = ("import sys, importlib.abc\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('matplotlib', 'ipywidgets', 'jupyterlab') or \\\n"
            "                name.startswith('tsnbook.course'):\n"
            "            raise ImportError(f'blocked: {name}')\n"
            "sys.meta_path.insert(0, Block())\n"
            f"for m in {library!r}:\n"
            "    importlib.import_module('tsnbook.' + m)\n"
            "import tsnbook.configs; tsnbook.configs.all_configs()\n"
            "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


ZOO_ROWS = sorted(n for n in all_configs() if not n.endswith("_tiny") and "synthactions" not in n)


@pytest.mark.parametrize("name", ZOO_ROWS)
def test_each_zoo_row_tests_with_a_named_protocol_that_means_exactly_its_views(name):
    # One source: the name a config's test split reports turns back into the very same keys.
    cfg = all_configs()[name]
    protocol = protocol_of(cfg)
    settings = protocol_settings(protocol, flow=cfg["modality"] == "flow")
    assert cfg["test_pipeline"] == settings["test_pipeline"], protocol
    assert cfg.get("test_clips", 25) == settings["test_clips"], protocol
    assert (cfg.get("sampler", "segments") == "dense") == parse_protocol(protocol)["dense"]


def test_protocol_names_are_unambiguous():
    assert parse_protocol("8x10") == dict(dense=False, clips=8, views=10, crop="TenCrop", crop_size=224)
    assert parse_protocol("dense-8x1") == dict(dense=True, clips=8, views=1, crop="CenterCrop", crop_size=224)
    assert parse_protocol("8x1@256")["crop_size"] == 256 and parse_protocol("25x3")["crop_size"] == 256
    assert parse_protocol("val", num_segments=8)["clips"] == 8
    hmdb = all_configs()["tsn_r50_1x1x8_50e_hmdb51_imagenet_rgb"]
    sthv1 = all_configs()["tsn_r50_1x1x8_50e_sthv1_rgb"]
    dense = all_configs()["tsn_r50_dense_1x1x8_100e_kinetics400_rgb"]
    assert (protocol_of(hmdb), protocol_of(sthv1), protocol_of(dense)) == ("8x1@256", "8x10", "dense-8x1")
    with pytest.raises(ValueError, match="unknown test protocol '25x5'"):
        parse_protocol("25x5")


def test_synthactions_flip_map_agrees_with_the_generator():
    from tsnbook.configs.synthactions import FLIP_LABEL_MAP
    from tsnbook.course import synth
    assert FLIP_LABEL_MAP == synth.FLIP_LABEL_MAP
    assert [synth.CLASSES[k] for k in sorted(FLIP_LABEL_MAP)] == ["MoveLeft", "MoveRight"]
