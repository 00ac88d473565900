"""MMAction2 0.24.1's dataset tools (``tools/data/``) as test oracles, run in a subprocess as their READMEs say.

The tools import ``mmcv`` only for ``mmcv.load`` / ``mmcv.dump`` (JSON here) and ``mmcv.runner.set_random_seed``;
the folders made here hold small stubs of those, so no mmcv is needed. `tools_folder` + `build_file_list` run
``build_file_list.py`` (the caller fills ``data/<dataset>/``: copies where MMAction2 writes, e.g. HMDB51's
generated annotation files, symlinks elsewhere); `tool_tree` + `run_tool` run any other tool. Tests skip when
the oracle is not installed (tools/install_oracle.sh).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from oracle import ORACLE, missing

TOOLS = ORACLE / "mma024" / "mmaction" / ".mim" / "tools" / "data"


def tools_folder(path):
    """``path`` prepared with MMAction2's list tools and the mmcv stub; returns it (``path / "data"`` is empty)."""
    path = tool_tree(path, ("build_file_list.py", "parse_file_list.py", "anno_txt2json.py"))
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
        missing("MMAction2 0.24.1 oracle")
    work = Path(work)
    for name in tools:
        target = work / "tools" / "data" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(TOOLS / name, target)
    for folder in [work / "tools", *(p for p in (work / "tools").rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    write_mmcv_stub(work / "stubs")
    return work


def write_mmcv_stub(folder):
    """``folder/mmcv``: the few mmcv functions the tools call (load, dump, runner.set_random_seed)."""
    (Path(folder) / "mmcv").mkdir(parents=True, exist_ok=True)
    (Path(folder) / "mmcv" / "__init__.py").write_text(MMCV_STUB)
    (Path(folder) / "mmcv" / "runner.py").write_text("def set_random_seed(seed):\n    pass\n")


def run_tool(work, cwd, argv, check=True):
    """``python argv...`` in ``cwd`` with the stubs and ``work`` importable; returns the CompletedProcess."""
    result = subprocess.run([sys.executable, *map(str, argv)], cwd=cwd, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=f"{Path(work) / 'stubs'}:{work}"))
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def lines(path):
    return Path(path).read_text().splitlines()
