"""Progress reports: a bar where a person watches, plain lines where a file or a pipe records them.

A progress bar redraws itself with carriage returns; on a terminal or in a notebook that is one moving line,
but written to a file (``make demo > log 2>&1``, a CI log, ``nohup``) it becomes thousands of fragments. So the
decision is made here, once, for every loop of the library (training epochs, evaluation, optical-flow
extraction, the dataset jobs, downloads):

* ``progress=False``: silent;
* ``progress=True`` (the default of every entry point): a bar (`bar`) only when a person `watches` - stderr,
  where bars go, is a terminal, or the code runs in a Jupyter kernel (notebook bars); otherwise no bar, and
  the loops report through `line` instead: the engine one line per epoch (and per validation), the other long
  loops one line when they finish. `line` writes to stdout in both cases, so a terminal keeps the epoch
  history once the bars are gone, and ``make demo > log`` gets exactly those lines.

``TQDM_DISABLE=1`` (the test environment sets it) turns bars off everywhere, as tqdm documents, even though
the calls here pass ``disable`` explicitly (an explicit argument would otherwise win over tqdm's variable).
"""
import os
import sys


def in_notebook():
    """True inside a Jupyter kernel (its stderr is a ZMQ stream, not a terminal, yet a person watches it)."""
    shell = sys.modules.get("IPython") and getattr(sys.modules["IPython"], "get_ipython", lambda: None)()
    return shell is not None and getattr(shell, "kernel", None) is not None


def watches(stream=None):
    """True when a person is likely to watch ``stream`` (default: sys.stderr, where bars are drawn)."""
    stream = sys.stderr if stream is None else stream
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        terminal = False
    return terminal or in_notebook()


def bars_wanted(progress=True):
    """Whether a loop asked to report ``progress`` should draw a bar (see the module docstring)."""
    disabled = os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no")
    return bool(progress) and not disabled and watches()


def bar(iterable=None, progress=True, **kwargs):
    """``tqdm(iterable, **kwargs)``, drawn only when `bars_wanted` (a disabled tqdm still takes set_postfix)."""
    from tqdm.auto import tqdm
    return tqdm(iterable, disable=not bars_wanted(progress), **kwargs)


def line(progress, text):
    """Print one report line when ``progress`` is on (flushed, so a log file shows it as soon as it happens)."""
    if progress:
        print(text, flush=True)
