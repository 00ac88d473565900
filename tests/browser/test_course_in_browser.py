"""The course as a learner meets it: JupyterLab in headless Chromium, notebooks run through the UI (make test-browser).

nbval runs the notebooks without JupyterLab, so it cannot see what a person sees: a widget that shows as text,
a figure that does not render, a landing page that does not open. Here JupyterLab serves a copy of the
course (`tests/browser/lab.py`: private settings, autosave off, so the checkout is never written), Chromium
opens each notebook by its URL, and the menu's Run > Run All Cells runs it. Then, from the notebook model the
page holds and from the page itself:

* every code cell ran, and no cell has an error or anything on stderr;
* every figure the notebook stores is produced again and shown as a loaded image;
* notebook 01's explorer is a widget (sliders, a checkbox, an image), not its text form, with whole labels,
  and moving a slider redraws its figure; opened before running, it shows the stored widget (static view);
* the landing page notebooks/README.md opens as rendered Markdown.

Screenshots go to work_dirs/browser/ for a person to look at. ``TSNBOOK_BROWSER_NOTEBOOKS`` (paths, ':'-separated)
runs other notebooks instead, e.g. a deliberately broken copy. Without chromium or Playwright the module is
skipped with the reason (a failure where ``TSNBOOK_REQUIRE_BROWSER`` is set, as in CI); `make test` skips it,
since it is `make test-browser`'s.
"""
import base64
import json
import os
import shutil
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "work_dirs" / "browser"
#: what fits in about 5 minutes on the 2-core CI machine: the widget notebook, a figure-heavy one, one that trains
NOTEBOOKS = [ROOT / "notebooks" / name for name in ("01_sampling.ipynb", "02_augmentation.ipynb",
                                                     "04_training.ipynb")]
EXPLORER = "widgets.interactive("  # the source line that marks notebook 01's explorer cell
RUN_TIMEOUT = 900  # seconds per notebook (04 trains; the shared CI machine may be slow)


def _unavailable(reason):
    if os.environ.get("TSNBOOK_REQUIRE_BROWSER"):
        pytest.fail(f"{reason}; TSNBOOK_REQUIRE_BROWSER is set, so this is a failure", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


if not os.environ.get("TSNBOOK_BROWSER_TEST"):
    pytest.skip("the browser test runs with `make test-browser` (TSNBOOK_BROWSER_TEST=1)", allow_module_level=True)
try:
    import playwright.sync_api  # noqa: F401
except ImportError:
    _unavailable("Playwright is not installed: pip install -c constraints.txt -e '.[browser]' (make test-browser "
                 "does it)")
from lab import CHROMIUM, LabServer, chromium, notebook_state, open_notebook, run_all, shut_down  # noqa: E402

if not Path(CHROMIUM).exists():
    _unavailable(f"chromium not found at {CHROMIUM}: install Debian's chromium (apt-get install chromium; .ci/run "
                 "does it as root) or point TSNBOOK_CHROMIUM at one")


def _notebooks():
    chosen = os.environ.get("TSNBOOK_BROWSER_NOTEBOOKS")
    return [Path(p).resolve() for p in chosen.split(":")] if chosen else NOTEBOOKS


# ------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course for JupyterLab: notebooks/ (the chosen notebooks and the landing page), work_dirs/
    of its own; the data are the checkout's data/ (the notebooks that need SynthActions make it there)."""
    root = tmp_path_factory.mktemp("course")
    (root / "notebooks").mkdir()
    for path in _notebooks() + [ROOT / "notebooks" / "README.md"]:
        shutil.copy(path, root / "notebooks" / path.name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="module")
def lab(course):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + os.environ.get("PYTHONPATH", "").split(
        os.pathsep)).rstrip(os.pathsep), TSNBOOK_DATA_ROOT=str(ROOT / "data" / "synthactions"))
    with LabServer(course, env) as server:
        server.trust(sorted((course / "notebooks").glob("*.ipynb")))  # as `make lab` trusts the course's own
        yield server


@pytest.fixture(scope="module")
def browser():
    with chromium() as context:
        yield context


# ------------------------------------------------------------------------------------------ what is checked
#: per code cell of the notebook the page shows: its images (loaded or not), widgets, and text outputs
DOM_OUTPUTS = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    return panel.content.widgets.map(cell => {
        if (cell.model.type !== 'code') { return null; }
        const area = cell.node.querySelector('.jp-Cell-outputArea');
        const images = Array.from(area ? area.querySelectorAll('img') : []);
        return {
            figures: images.filter(img => !img.classList.contains('widget-image'))
                           .map(img => img.complete && img.naturalWidth > 0),
            widget_images: images.filter(img => img.classList.contains('widget-image'))
                                 .map(img => img.complete && img.naturalWidth > 0),
            widgets: area ? area.querySelectorAll('.jupyter-widgets').length : 0,
            sliders: area ? area.querySelectorAll('.widget-hslider').length : 0,
            checkboxes: area ? area.querySelectorAll('.widget-checkbox').length : 0,
            cut_labels: Array.from(area ? area.querySelectorAll('.widget-label') : [])
                             .filter(l => l.textContent.trim() && l.scrollWidth > l.clientWidth + 1)
                             .map(l => l.textContent),
            text: area ? area.innerText.slice(0, 2000) : '',
        };
    });
}"""


def _code_cells(notebook):
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def _figures(cell):
    return sum("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


def stored_figures(path):
    return sum(_figures(cell) for cell in _code_cells(json.loads(Path(path).read_text())))


def output_problems(state, dom, expected_figures=None):
    """What is wrong with a notebook after Run All: unexecuted cells, errors, stderr, figures not shown."""
    problems, cells = [], _code_cells(state["notebook"])
    not_run = [i for i, cell in enumerate(cells, 1) if cell.get("execution_count") is None]
    if not_run:
        problems.append(f"code cell(s) {not_run} did not run")
    for number, (cell, shown) in enumerate(zip(cells, [d for d in dom if d is not None]), 1):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                problems.append(f"code cell {number}: {output['ename']}: {output['evalue']}")
            elif output["output_type"] == "stream" and output["name"] == "stderr":
                problems.append(f"code cell {number} wrote to stderr: {''.join(output['text'])[:300]!r}")
        made, loaded = _figures(cell), sum(shown["figures"])
        if loaded != made or len(shown["figures"]) != made:
            problems.append(f"code cell {number}: {made} figure(s) in its outputs, {loaded} shown as a loaded image "
                            f"(of {len(shown['figures'])} image element(s))")
    made = sum(_figures(cell) for cell in cells)
    if expected_figures is not None and made != expected_figures:
        problems.append(f"the run made {made} figure(s), the notebook stores {expected_figures}")
    return problems


def explorer_problems(shown, sliders=5, checkboxes=1):
    """What is wrong with notebook 01's explorer output: not a widget (its text form), parts missing, cut labels."""
    problems = []
    if not shown["widgets"] or "VBox(children=" in shown["text"] or "Error displaying widget" in shown["text"]:
        problems.append(f"the explorer is not rendered as a widget; the page shows {shown['text'][:160]!r}")
    if shown["sliders"] != sliders or shown["checkboxes"] != checkboxes:
        problems.append(f"the explorer has {shown['sliders']} slider(s) and {shown['checkboxes']} checkbox(es), "
                        f"expected {sliders} and {checkboxes}")
    if shown["widget_images"] != [True]:
        problems.append(f"the explorer's figure is not one loaded image: {shown['widget_images']}")
    if shown["cut_labels"]:
        problems.append(f"cut slider labels: {shown['cut_labels']}")
    return problems


def _explorer_cell(notebook):
    """Index among the code cells of the explorer (the cell that builds the ipywidgets.interactive)."""
    cells = _code_cells(notebook)
    found = [i for i, cell in enumerate(cells) if EXPLORER in "".join(cell["source"])]
    return found[0] if found else None


def _cell_locator(page, code_index):
    return page.locator(".jp-Notebook .jp-CodeCell").nth(code_index)


def _screenshot(locator, name):
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(SCREENSHOTS / name))
    return SCREENSHOTS / name


def _save_screenshots(page, stem, state, dom):
    """work_dirs/browser/<notebook>_top.png (the notebook's first screen) and <notebook>_cellNN.png for each code
    cell that shows a figure or a table (Markdown output), numbered like the code cells."""
    cells = _code_cells(state["notebook"])
    for index, (cell, shown) in enumerate(zip(cells, [d for d in dom if d is not None])):
        tables = any("text/markdown" in output.get("data", {}) for output in cell.get("outputs", []))
        if shown["figures"] or tables:
            _screenshot(_cell_locator(page, index).locator(".jp-Cell-outputArea"), f"{stem}_cell{index + 1:02d}.png")
    page.locator(".jp-Notebook .jp-Cell").first.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / f"{stem}_top.png"))


def move_slider(page, code_index):
    """Drag the explorer's first slider (num_frames) left; returns (value before, after, image before, after)."""
    cell = _cell_locator(page, code_index)
    handle = cell.locator(".widget-hslider .noUi-handle").first
    image = cell.locator("img.widget-image")
    image.scroll_into_view_if_needed()
    before_value, before_src, before = handle.get_attribute("aria-valuenow"), image.get_attribute("src"), \
        image.screenshot()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] - 120, box["y"] + box["height"] / 2, steps=12)
    page.mouse.up()
    deadline = time.time() + 60  # the kernel redraws the figure: a new PNG, a new blob URL
    while time.time() < deadline and image.get_attribute("src") == before_src:
        time.sleep(0.25)
    time.sleep(0.5)
    return before_value, handle.get_attribute("aria-valuenow"), before, image.screenshot()


# -------------------------------------------------------------------------------------------------- the tests
def test_landing_page_opens_as_rendered_markdown(browser, lab):
    page = browser.new_page()
    page.goto(lab.url("notebooks/README.md"), wait_until="domcontentloaded")
    heading = page.locator(".jp-RenderedMarkdown h1").first
    heading.wait_for(timeout=120_000)
    page.locator(".jp-RenderedMarkdown table").first.wait_for(timeout=30_000)
    links = page.locator(".jp-RenderedMarkdown a[href*='.ipynb']").count()
    page.screenshot(path=str(SCREENSHOTS / "README.png"))
    page.close()
    assert links >= 7, f"the landing page links {links} notebook(s)"


def test_static_view_of_01_shows_the_stored_widget(browser, lab, course):
    path = course / "notebooks" / "01_sampling.ipynb"
    if not path.exists():
        pytest.skip("01_sampling.ipynb is not among the chosen notebooks")
    page = open_notebook(browser, lab, "notebooks/01_sampling.ipynb")
    try:
        index = _explorer_cell(json.loads(path.read_text()))
        deadline = time.time() + 60  # the widget manager restores the stored state once the kernel is up
        while True:
            shown = [d for d in page.evaluate(DOM_OUTPUTS) if d is not None][index]
            problems = explorer_problems(shown)
            if not problems or time.time() > deadline:
                break
            time.sleep(1)
        _screenshot(_cell_locator(page, index), "01_sampling_explorer_static.png")
    finally:
        shut_down(page)
    assert not problems, problems


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_in_jupyterlab(browser, lab, course, path):
    name = f"notebooks/{path.name}"
    page = open_notebook(browser, lab, name)
    try:
        started = time.time()
        state = run_all(page, RUN_TIMEOUT)
        seconds = time.time() - started
        dom = page.evaluate(DOM_OUTPUTS)
        problems = output_problems(state, dom, stored_figures(path))
        _save_screenshots(page, path.stem, state, dom)
        index = _explorer_cell(state["notebook"])
        if index is not None:
            shown = [d for d in dom if d is not None][index]
            problems += explorer_problems(shown)
            if not problems:
                _screenshot(_cell_locator(page, index), f"{path.stem}_explorer_before.png")
                value, moved, before, after = move_slider(page, index)
                _screenshot(_cell_locator(page, index), f"{path.stem}_explorer_after.png")
                if moved == value:
                    problems.append(f"dragging the num_frames slider left did not change it ({value})")
                elif before == after:
                    problems.append(f"num_frames {value} -> {moved}, but the explorer's figure did not change")
        print(f"{path.name}: Run All Cells took {seconds:.0f} s; screenshots in {SCREENSHOTS}")
    finally:
        shut_down(page)
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


BROKEN = [  # a notebook that gets each check wrong once
    "import ipywidgets as widgets\nfrom IPython.display import display",
    # a figure whose PNG is broken: an image element that never loads
    f"display({{'image/png': {base64.b64encode(b'not a png').decode()!r}}}, raw=True)",
    # a widget view whose model does not exist: the front end cannot render it
    "display({'application/vnd.jupyter.widget-view+json': {'model_id': 'missing', 'version_major': 2, "
    "'version_minor': 0}, 'text/plain': 'VBox(children=(IntSlider(value=1),))'}, raw=True)",
    "import sys\nprint('a warning', file=sys.stderr)",
    "raise ValueError('a deliberately broken cell')",
    "print('never runs: the run stops at the error')",
]


def test_the_checks_catch_a_broken_notebook(browser, lab, course):
    """The checks above can fail: on a small notebook that breaks each of them, every problem is reported."""
    import nbformat
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in BROKEN])
    notebook.metadata["kernelspec"] = dict(name="python3", display_name="Python 3", language="python")
    path = course / "notebooks" / "zz_broken.ipynb"
    nbformat.write(notebook, path)
    page = open_notebook(browser, lab, f"notebooks/{path.name}")
    try:
        state = run_all(page, 300)
        dom = page.evaluate(DOM_OUTPUTS)
        _screenshot(page.locator(".jp-Notebook"), "zz_broken.png")
    finally:
        shut_down(page)
    problems = output_problems(state, dom, expected_figures=2)
    found = "\n".join(problems)
    assert "code cell(s) [6] did not run" in found
    assert "code cell 5: ValueError: a deliberately broken cell" in found
    assert "code cell 4 wrote to stderr" in found
    assert "code cell 2: 1 figure(s) in its outputs, 0 shown as a loaded image" in found
    assert "the run made 1 figure(s), the notebook stores 2" in found
    widget = explorer_problems([d for d in dom if d is not None][2])
    assert any("is not rendered as a widget" in p for p in widget), widget
    assert any("0 slider(s)" in p for p in widget) and any("not one loaded image" in p for p in widget), widget
