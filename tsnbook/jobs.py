"""Run one function over many items in worker processes, with a progress bar only where a person watches
(a terminal or a notebook: `tsnbook.progress`): the optical flow of a dataset (`tsnbook.flow`) and the checks
and extractions of the dataset tools (`tsnbook.datasets`).

Why spawned processes: decoders and OpenCV thread pools must never cross a ``fork()`` (see `tsnbook.io`), and
a spawned worker imports only what the function's module imports (no torch for probing or extraction).
``workers <= 1`` runs in this process, which is what tests and small datasets want (no start-up cost).
The function must be a module-level function (picklable) that never raises for a bad item: it returns its
verdict, so one broken video never stops a dataset.
"""
import os


def default_workers():
    return max(1, os.cpu_count() or 1)


def worker_count(workers, num_items):
    """The processes `run` uses for ``num_items`` items: ``workers`` (None: one per core), at most one per item."""
    workers = default_workers() if workers is None else max(1, int(workers))
    return min(workers, num_items) or 1


def run(function, items, workers=None, desc="", chunksize=8, progress=True):
    """``[function(item) for item in items]`` in order, on ``workers`` processes (None: one per core); the bar
    as `tsnbook.progress.bar` draws it for ``progress``."""
    from .progress import bar

    items = list(items)
    workers = worker_count(workers, len(items))
    shown = dict(progress=progress, total=len(items), desc=desc, leave=False)
    if workers == 1:
        return [function(item) for item in bar(items, **shown)]
    from multiprocessing import get_context

    with get_context("spawn").Pool(workers) as pool:
        return list(bar(pool.imap(function, items, chunksize=max(1, min(chunksize, len(items) // workers))),
                        **shown))
