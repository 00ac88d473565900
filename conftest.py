"""pytest setup shared by the unit tests and the notebooks (run from the repository root).

The notebook kernels inherit this process's environment, so forcing `tsnbook.testenv.TEST_ENV` here - not
``setdefault``: a developer's TSNBOOK_MODE=full must not leak in - makes CI runs match stored outputs.
"""
import os
import sys
from pathlib import Path

from tsnbook.testenv import TEST_ENV

os.environ.update(TEST_ENV)
sys.path.insert(0, str(Path(__file__).parent / "tests"))  # tests import the oracle helpers as `oracle`
