#!/usr/bin/env python
"""Re-execute notebooks in exactly the test environment and write them back (``make notebooks``).

    python tools/refresh_notebooks.py [notebooks/00_quickstart.ipynb ...]   # default: all of notebooks/

Strict nbval compares every stored output with a fresh run, so stored outputs must come from the same settings
CI uses: this script forces `tsnbook.testenv.TEST_ENV` (as conftest.py does for pytest), runs each notebook top
to bottom in a fresh ``python3`` kernel of this environment from the notebooks folder, and saves it with
execution counts 1..n. Then run ``make test``.
"""
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tsnbook.testenv import TEST_ENV  # noqa: E402


def refresh(path):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=1200, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.time()
    client.execute()
    nbformat.write(notebook, path)
    print(f"refreshed {path} in {time.time() - start:.0f} s")


def main():
    os.environ.update(TEST_ENV)
    paths = [Path(p).resolve() for p in sys.argv[1:]] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        refresh(path)


if __name__ == "__main__":
    main()
