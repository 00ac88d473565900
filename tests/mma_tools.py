"""MMAction2 0.24.1's own list builder (``tools/data/build_file_list.py``) as a test oracle, in a subprocess.

`tools_folder` makes a folder laid out as MMAction2's README says the tools run (``tools/data/*.py`` next to
``data/<dataset>/``), with mmcv stubbed: build_file_list.py only calls ``mmcv.runner.set_random_seed`` (with
--seed) and anno_txt2json.py imports mmcv without using it. The caller fills ``data/<dataset>/`` (copies where
MMAction2 writes, e.g. HMDB51's generated annotation files; symlinks elsewhere) and calls `build_file_list`.
Skips when the oracle is not installed (tools/install_oracle.sh).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from oracle import ORACLE

TOOLS = ORACLE / "mma024" / "mmaction" / ".mim" / "tools" / "data"


def tools_folder(path):
    """``path`` prepared with MMAction2's tools and the mmcv stub; returns it (``path / "data"`` is empty)."""
    if not (TOOLS / "build_file_list.py").is_file():
        pytest.skip("MMAction2 0.24.1 oracle not installed (run tools/install_oracle.sh)")
    path = Path(path)
    (path / "tools" / "data").mkdir(parents=True)
    for name in ("build_file_list.py", "parse_file_list.py", "anno_txt2json.py"):
        shutil.copy(TOOLS / name, path / "tools" / "data" / name)
    (path / "tools" / "__init__.py").touch()
    (path / "tools" / "data" / "__init__.py").touch()
    (path / "stubs" / "mmcv").mkdir(parents=True)
    (path / "stubs" / "mmcv" / "__init__.py").write_text("")
    (path / "stubs" / "mmcv" / "runner.py").write_text("def set_random_seed(seed):\n    pass\n")
    (path / "data").mkdir()
    return path


def build_file_list(work, dataset, *args, check=True):
    """Run ``tools/data/build_file_list.py DATASET ARGS --out-root-path out/`` in ``work``.

    Returns ``({list file name: lines}, printed, returncode)``; ``check``: fail the test on a non-zero exit.
    """
    out = Path(work) / "out" / dataset
    shutil.rmtree(out, ignore_errors=True)  # only this run's lists come back
    out.mkdir(parents=True)
    result = subprocess.run([sys.executable, "tools/data/build_file_list.py", dataset, *args, "--out-root-path",
                             "out/"], cwd=work, env=dict(os.environ, PYTHONPATH=f"{Path(work) / 'stubs'}:{work}"),
                            capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr
    lists = {p.name: p.read_text().splitlines() for p in out.iterdir()}
    return lists, result.stdout + result.stderr, result.returncode
