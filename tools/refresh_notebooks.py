#!/usr/bin/env python
"""Re-execute notebooks in exactly the test environment and write them back (``make notebooks``).

    python tools/refresh_notebooks.py [--jobs N] [notebooks/00_quickstart.ipynb ...]   # default: all of notebooks/

Strict nbval compares every stored output with a fresh run, so stored outputs must come from the same settings
CI uses: this script forces `tsnbook.testenv.TEST_ENV` (as conftest.py does for pytest), runs each notebook top
to bottom in a fresh ``python3`` kernel of this environment from the notebooks folder, and saves it with
execution counts 1..n. Notebooks that reuse another one's runs (`tsnbook.testenv.NOTEBOOK_GROUPS`) are refreshed
after it, in the same worker; other groups run in parallel (``--jobs``, default 2). Then run ``make test``.
"""
import argparse
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tsnbook.testenv import NOTEBOOK_GROUPS, TEST_ENV  # noqa: E402


def refresh(path):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=1200, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.time()
    client.execute()
    nbformat.write(notebook, path)
    return f"refreshed {path.relative_to(ROOT)} in {time.time() - start:.0f} s"


def refresh_chain(paths):
    return [refresh(path) for path in paths]


def chains(paths):
    """The notebooks grouped as pytest groups them (conftest.py), each group in file order."""
    groups = {}
    for path in sorted(paths):
        groups.setdefault(NOTEBOOK_GROUPS.get(path.stem, path.stem), []).append(path)
    return sorted(groups.values(), key=len, reverse=True)  # the longest chains first


def notebook_arguments(description):
    """``(jobs, paths)`` from the command line (``[--jobs N] [NOTEBOOK ...]``, default: every numbered notebook),
    with the test environment set for the kernels this process starts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    os.environ.update(TEST_ENV)
    return args.jobs, [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def main():
    jobs, paths = notebook_arguments(__doc__.split("\n\n")[0])
    start = time.time()
    with Pool(jobs) as pool:
        for lines in pool.imap_unordered(refresh_chain, chains(paths)):
            print("\n".join(lines), flush=True)
    print(f"{len(paths)} notebook(s) in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
