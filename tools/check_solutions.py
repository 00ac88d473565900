#!/usr/bin/env python
"""Run every notebook with each exercise answered by its own folded solution, and say which checks fail.

    python tools/check_solutions.py [--jobs N] [notebooks/07_ucf101.ipynb ...]   # default: all of notebooks/

An exercise is a code cell that starts its answer with ``answer = None`` (``my_rates = None``, ...) and calls a
check (``check(...)``, ``check_flash_hit_rates(...)``); its solution is the markdown cell after it that folds a
``<summary>Solution</summary>``, with the answer as a ```` ```python ```` block. The stored notebooks leave every
exercise unanswered, so nbval never runs a solution: a solution that no longer passes its check (a replica
changed, a function renamed) would reach learners unseen. This script copies each notebook, puts each solution's
code where its ``answer = None`` line was, runs the copy top to bottom in the test environment
(`tsnbook.testenv.TEST_ENV`, from the notebooks folder, as ``refresh_notebooks.py`` does) and reads what each
check printed. Nothing is written back. Exit status 1 when a check did not print ``right``, or an
exercise has no solution block.
"""
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]
from refresh_notebooks import chains, notebook_arguments  # noqa: E402

UNANSWERED = re.compile(r"^(answer|my_\w+) = None\b.*$", re.M)  # answer = None, my_rates = None, ...
CHECK = re.compile(r"\bcheck\w*\(")  # check(...), check_flash_hit_rates(...); not a checkpoint
SOLUTION = re.compile(r"```python\n(.*?)```", re.S)
VERDICT = re.compile(r"^(?P<name>[^\n]*?): (?P<verdict>right|not yet|not answered yet)\b", re.M)


def exercises(notebook):
    """``[(exercise cell index, solution code or None), ...]``."""
    cells, found = notebook.cells, []
    for index, cell in enumerate(cells):
        if cell.cell_type != "code" or not UNANSWERED.search(cell.source) or not CHECK.search(cell.source):
            continue
        folded = next((c for c in cells[index + 1:index + 4]
                       if c.cell_type == "markdown" and "<summary>Solution</summary>" in c.source), None)
        blocks = SOLUTION.findall(folded.source) if folded is not None else []
        found.append((index, "\n".join(block.strip() for block in blocks) or None))
    return found


def check_notebook(path):
    """Lines describing each exercise of ``path`` whose solution does not pass (empty: all pass)."""
    notebook = nbformat.read(path, as_version=4)
    found, problems = exercises(notebook), []
    for index, code in found:
        if code is None:
            problems.append(f"{path.name} cell {index}: no ```python block in its solution")
        else:  # a lambda replaces the match, so that backslashes in the solution stay as written
            notebook.cells[index].source = UNANSWERED.sub(lambda _: code, notebook.cells[index].source, count=1)
    client = NotebookClient(notebook, timeout=1200, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # a cell that raises is reported below; the cells after it still run
    exercises_at = {index for index, code in found if code is not None}
    for index, cell in enumerate(notebook.cells):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if index not in exercises_at:
            problems += [f"{path.name} cell {index} (no exercise) raised {e['ename']}: {e['evalue']}" for e in errors]
            continue
        text = "".join(output.get("text", "") for output in cell.outputs)
        verdicts = [m["verdict"] for m in VERDICT.finditer(text)]
        if errors:
            error = errors[0]
            problems.append(f"{path.name} cell {index}: its solution raised {error['ename']}: {error['evalue']}")
        elif not verdicts or any(v != "right" for v in verdicts):
            problems.append(f"{path.name} cell {index}: {text.strip() or 'no verdict printed'}")
    return len(found), problems


def check_chain(paths):
    return [(path, *check_notebook(path)) for path in paths]


def main():
    jobs, paths = notebook_arguments(__doc__.split("\n\n")[0])
    start, total, failed = time.time(), 0, []
    with ProcessPoolExecutor(jobs) as pool:  # notebooks that reuse another one's runs after it, in one worker
        futures = {pool.submit(check_chain, chain): chain for chain in chains(paths)}
        for done in as_completed(futures):
            try:
                results = done.result()
            except Exception as error:  # a kernel that died, a notebook that cannot be read: the others go on
                failed.append(f"{', '.join(p.name for p in futures[done])}: not checked ({type(error).__name__}: "
                              f"{error})")
                continue
            for path, count, problems in results:
                total += count
                failed += problems
                print(f"{path.name}: {count} exercise(s), {len(problems)} failing", flush=True)
    print("\n".join(failed))
    print(f"{total} exercise(s) in {len(paths)} notebook(s), {len(failed)} failing, in {time.time() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
