"""Guards that keep strict nbval meaningful: a notebook saved unexecuted, stripped or with SVG output would
quietly stop being compared (nbval skips cells whose execution_count is null)."""
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert [nb.name for nb in NOTEBOOKS][:1] == ["00_quickstart.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_executed_in_order_and_clean(path):
    notebook = json.loads(path.read_text())
    assert path.name[:2].isdigit() and path.name[2] == "_", "notebooks are named NN_name.ipynb"
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    counts = [cell.get("execution_count") for cell in code]
    assert counts == list(range(1, len(code) + 1)), \
        f"{path.name}: execution counts {counts} are not 1..n: re-run it with `make notebooks`"
    for cell in code:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            assert "image/svg+xml" not in data, f"{path.name}: SVG output embeds dates; use PNG"
            assert "/tmp/ipykernel_" not in json.dumps(output), f"{path.name}: a warning leaked a kernel path"
        source = "".join(cell["source"]).rstrip()
        assert not source.endswith(";"), f"{path.name}: end cells with plt.show(), not ';' (nbval ignores ';')"
    assert path.stat().st_size < 2_000_000, f"{path.name} is larger than 2 MB: shrink its figures"


def test_every_exercise_has_a_solution_that_tools_check_solutions_can_run():
    """nbval runs every exercise unanswered; tools/check_solutions.py runs each notebook with the folded solutions
    put in (before a release: it executes all notebooks again). It can do so only for a solution with a
    ```python block, and only for an exercise cell it recognises: both are checked here, for every notebook."""
    import importlib.util
    import nbformat
    spec = importlib.util.spec_from_file_location("check_solutions", NOTEBOOKS[0].parents[1] / "tools" /
                                                  "check_solutions.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    found, missing = 0, []
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        unanswered = [i for i, cell in enumerate(notebook.cells)
                      if cell.cell_type == "code" and tool.UNANSWERED.search(cell.source)]
        exercises = tool.exercises(notebook)
        assert [index for index, _ in exercises] == unanswered, f"{path.name}: an 'answer = None' cell calls no check"
        found += len(exercises)
        missing += [f"{path.name} cell {index}" for index, code in exercises if not code]
    assert found >= 66 and not missing, f"solutions without a ```python block: {missing}"
