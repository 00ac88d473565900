"""pytest setup shared by the unit tests and the notebooks (run from the repository root).

The notebook kernels inherit this process's environment, so forcing the test environment here - not
``setdefault``: a developer's TSNBOOK_MODE=full must not leak in - makes CI runs match stored outputs.
``TSNBOOK_TEST_PROFILE=portable`` (``make test-portable``) forces `tsnbook.testenv.PORTABLE_ENV` instead: the
same settings with the numeric libraries on other code paths (which ones, per CPU: its docstring).

With pytest-xdist (``-n 2``, what ``make test`` runs) every test file - and every notebook - is one group, so a
notebook's cells share one kernel on one worker. Notebooks that reuse another notebook's trained models
(`tsnbook.testenv.NOTEBOOK_GROUPS`) join its group and run after it, in file order.
"""
import os
import sys
from pathlib import Path

from tsnbook.testenv import NOTEBOOK_GROUPS, test_environment

os.environ.update(test_environment())
sys.path.insert(0, str(Path(__file__).parent / "tests"))  # tests import the oracle helpers as `oracle`


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist (``-n 2``): whole groups to one worker - a test file, a notebook, or notebooks that reuse
    another's runs (`NOTEBOOK_GROUPS`: 00, then those that reuse its runs). The xdist_group mark would do this,
    but pytest 9 ignores the node ids xdist rewrites for it."""
    from xdist.scheduler import LoadScopeScheduling

    class Groups(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            path = nodeid.split("::", 1)[0]
            stem = Path(path).stem
            return NOTEBOOK_GROUPS.get(stem, stem) if path.endswith(".ipynb") else path

    return Groups(config, log)
