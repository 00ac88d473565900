"""MMAction2 0.24.1's ``tools/data/build_file_list.py`` as a test oracle for the dataset modules.

The tool is run as the per-dataset scripts run it (``tools/data/<dataset>/generate_*_filelist.sh``): from a folder
holding ``data/<dataset>`` (here a symlink to the dataset's root), with ``PYTHONPATH=.``, in a subprocess. Its mmcv
imports are stubbed: build_file_list.py only calls ``mmcv.runner.set_random_seed`` (with ``--seed``) and
anno_txt2json.py imports mmcv without using it for text lists. ``--shuffle`` is left out (the scripts pass it,
unseeded), so the lines keep MMAction2's order. When the oracle is not installed the tests that need it skip.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from oracle import missing
from mma_tools import TOOLS, lines, tool_tree, write_mmcv_stub


def build_file_list(work, dataset, root, src, level, fmt, subset=None, num_split=None):
    """Run ``build_file_list.py DATASET data/DATASET/SRC --level L --format F [--num-split N --subset S]`` in
    ``work`` (created once, with ``data/DATASET`` -> ``root``); returns ``({list name: lines}, printed)``."""
    if not (TOOLS / "build_file_list.py").is_file():
        missing("MMAction2 0.24.1 oracle")
    work = Path(work)
    if not (work / "tools").is_dir():
        tool_tree(work, ("build_file_list.py", "parse_file_list.py", "anno_txt2json.py"))
    if not (work / "data" / dataset).exists():
        (work / "data").mkdir(exist_ok=True)
        os.symlink(Path(root).resolve(), work / "data" / dataset)
    out = work / "out" / dataset
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "tools/data/build_file_list.py", dataset, f"data/{dataset}/{src}", "--level",
               str(level), "--format", fmt, "--out-root-path", "out/"]
    command += ["--num-split", str(num_split)] if num_split else []
    command += ["--subset", subset] if subset else []
    result = subprocess.run(command, cwd=work, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=f"{work / 'stubs'}:{work}"))
    assert result.returncode == 0, result.stderr
    return {p.name: lines(p) for p in out.iterdir()}, result.stdout + result.stderr


def run_generator(work, dataset, root, script):
    """Run MMAction2's own ``tools/data/<dataset>/<script>`` (e.g. ``generate_videos_filelist.sh``) with bash, as
    its README says: from that folder, with ``python`` on PATH being this interpreter. ``work/data/<dataset>``
    holds links to ``root``'s annotations, videos and rawframes, so the lists it writes land in ``work``, not in
    ``root``. The scripts pass ``--shuffle`` (unseeded): compare their lines as sets. Returns
    ``({list name: lines}, printed)``."""
    scripts = TOOLS / dataset
    if not (scripts / script).is_file():
        missing("MMAction2 0.24.1 oracle")
    work = Path(work)
    data = work / "data" / dataset
    if not data.is_dir():
        data.mkdir(parents=True)
        for name in ("annotations", "videos", "rawframes"):
            if (Path(root) / name).exists():
                os.symlink((Path(root) / name).resolve(), data / name)
        tool_tree(work, ("build_file_list.py", "parse_file_list.py", "anno_txt2json.py", f"{dataset}/{script}"))
        write_mmcv_stub(work)  # the scripts set PYTHONPATH=. : the stub must be in the work folder itself
        (work / "bin").mkdir()
        os.symlink(sys.executable, work / "bin" / "python")
    else:
        shutil.copy(scripts / script, work / "tools" / "data" / dataset / script)
    result = subprocess.run(["bash", script], cwd=work / "tools" / "data" / dataset, capture_output=True, text=True,
                            env=dict(os.environ, PATH=f"{work / 'bin'}:{os.environ['PATH']}"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr  # the script goes on after a failed python command
    return {p.name: lines(p) for p in data.glob(f"{dataset}_*_list_*.txt")}, result.stdout + result.stderr
