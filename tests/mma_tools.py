"""MMAction2 0.24.1's dataset tools (``tools/data/``), run as their READMEs say, in a subprocess, as oracles.

The tools import ``mmcv`` only for ``mmcv.load`` / ``mmcv.dump`` (JSON here) and ``mmcv.runner.set_random_seed``;
`tool_tree` writes those as small stubs, so no mmcv is needed. Tests skip when the oracle is not installed.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from oracle import ORACLE

TOOLS = ORACLE / "mma024" / "mmaction" / ".mim" / "tools" / "data"
MMCV_STUB = '''import json


def load(path):
    with open(path) as f:
        return json.load(f)


def dump(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f)
'''


def tool_tree(work, tools):
    """A folder ``work`` holding ``tools/data/<tools...>`` (paths relative to MMAction2's tools/data), the
    package markers build_file_list.py imports through, and ``stubs/mmcv``; returns ``work``."""
    if not (TOOLS / "build_file_list.py").is_file():
        pytest.skip("MMAction2 0.24.1 oracle not installed (run tools/install_oracle.sh)")
    work = Path(work)
    for name in tools:
        target = work / "tools" / "data" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(TOOLS / name, target)
    for folder in [work / "tools", *(p for p in (work / "tools").rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    (work / "stubs" / "mmcv").mkdir(parents=True, exist_ok=True)
    (work / "stubs" / "mmcv" / "__init__.py").write_text(MMCV_STUB)
    (work / "stubs" / "mmcv" / "runner.py").write_text("def set_random_seed(seed):\n    pass\n")
    return work


def run_tool(work, cwd, argv, check=True):
    """``python argv...`` in ``cwd`` with the stubs and ``work`` importable; returns the CompletedProcess."""
    result = subprocess.run([sys.executable, *map(str, argv)], cwd=cwd, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=f"{Path(work) / 'stubs'}:{work}"))
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def lines(path):
    return Path(path).read_text().splitlines()
