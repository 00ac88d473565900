"""JupyterLab and headless Chromium for the browser test: a private server, a fresh browser, UI helpers.

`LabServer` starts JupyterLab from this environment on 127.0.0.1 (a free port, a random token) over a folder
of its own, with settings that keep a test honest and the checkout untouched: no autosave (nothing is written
back), every cell in the DOM (notebook windowing off, so off-screen cells can be checked), no news or update
checks (no network), and Jupyter's config, data and runtime folders private (a user's kernels or extensions
cannot leak in). ``window.jupyterapp`` is exposed so the test can read the notebook model the UI holds.

``TSNBOOK_BROWSER_DISABLE_EXTENSIONS`` (comma-separated JupyterLab extension names) disables extensions, to see
what the test reports when one is missing: ``@jupyter-widgets/jupyterlab-manager`` makes every widget text.

`chromium` launches Debian's chromium through Playwright (its own browser download is not reachable here) with
the flags known to work on these machines and a new empty profile.
"""
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("TSNBOOK_CHROMIUM", "/usr/bin/chromium")
COURSE_DEFAULTS = Path(__file__).resolve().parents[2] / "tools" / "jupyter"  # what `make lab` adds
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

#: JupyterLab user settings: {plugin settings file: values}
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """``with LabServer(root, env) as lab:`` JupyterLab serving ``root``; ``lab.url(path)`` opens a file."""

    def __init__(self, root, env=None, timeout=120):
        self.root, self.env, self.timeout = Path(root), dict(env or os.environ), timeout
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.home = Path(tempfile.mkdtemp(prefix="tsnbook-lab-"))
        self.log_path = self.home / "jupyterlab.log"
        self.process = None

    def _jupyter_env(self):
        # tools/jupyter: the course's JupyterLab defaults (Markdown opens rendered), as `make lab` adds them
        return dict(self.env, JUPYTER_CONFIG_DIR=str(self.home / "config"), JUPYTER_DATA_DIR=str(self.home / "data"),
                    JUPYTER_RUNTIME_DIR=str(self.home / "runtime"), IPYTHONDIR=str(self.home / "ipython"),
                    JUPYTER_CONFIG_PATH=str(COURSE_DEFAULTS))

    def trust(self, paths):
        """``jupyter trust`` the notebooks, as ``make lab`` does for the course's own (in this server's private
        trust database): JupyterLab shows a stored widget only in a trusted notebook, else its text form."""
        subprocess.run([sys.executable, "-m", "jupyter", "trust", *map(str, paths)], env=self._jupyter_env(),
                       check=True, capture_output=True, timeout=120)

    def __enter__(self):
        settings = self.home / "settings"
        for name, values in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        env = self._jupyter_env()
        disabled = [name for name in os.environ.get("TSNBOOK_BROWSER_DISABLE_EXTENSIONS", "").split(",") if name]
        if disabled:  # to show what the test reports when an extension (e.g. the widgets') is missing or broken
            labconfig = self.home / "config" / "labconfig"
            labconfig.mkdir(parents=True, exist_ok=True)
            (labconfig / "page_config.json").write_text(json.dumps(
                {"disabledExtensions": {name: True for name in disabled}}))
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                   f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={self.home / 'workspaces'}",
                   "--LabApp.expose_app_in_browser=True", "--ServerApp.terminals_enabled=False"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        cwd=self.root)
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/status?token={self.token}",
                                            timeout=5):
                    return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {self.timeout} s:\n{self.log_tail()}")

    def url(self, path, workspace=None):
        """The URL that opens ``path`` (relative to the server's root) in a workspace of its own."""
        workspace = workspace or Path(path).stem.replace(".", "-")
        return f"http://127.0.0.1:{self.port}/lab/workspaces/{workspace}/tree/{path}?reset&token={self.token}"

    def log_tail(self, lines=40):
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # JupyterLab shuts its kernels down on SIGTERM
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


@contextlib.contextmanager
def chromium(viewport=(1400, 1000)):
    """A Playwright browser context in Debian's chromium, on a new empty profile (removed afterwards)."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="tsnbook-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
                viewport=dict(width=viewport[0], height=viewport[1]))
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


# --------------------------------------------------------------------------------------------- the page's state
#: JavaScript run in the page: what the notebook panel the UI shows holds (model JSON) and the kernel's state.
NOTEBOOK_STATE = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    if (!panel || !panel.context || !panel.content || !panel.sessionContext) { return null; }
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    const prompts = Array.from(panel.content.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))
        .map(p => p.textContent.trim());
    return {path: panel.context.path, ready: panel.context.isReady && panel.sessionContext.isReady,
            kernel: kernel ? kernel.status : null, prompts: prompts,
            notebook: panel.context.isReady ? panel.context.model.toJSON() : null};
}"""


def notebook_state(page):
    return page.evaluate(NOTEBOOK_STATE)


def wait_for(page, predicate, timeout, what, interval=0.5):
    """Poll ``predicate(notebook_state)`` until it holds; the last state, or AssertionError naming ``what``."""
    deadline, state = time.time() + timeout, None
    while time.time() < deadline:
        state = notebook_state(page)
        if state is not None and predicate(state):
            return state
        time.sleep(interval)
    summary = None if state is None else {k: state[k] for k in ("path", "ready", "kernel", "prompts")}
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last state: {summary}")


def open_notebook(context, lab, path, timeout=180):
    """A new tab showing notebook ``path`` through JupyterLab's UI, its kernel started and idle."""
    page = context.new_page()
    page.goto(lab.url(path), wait_until="domcontentloaded")
    wait_for(page, lambda s: s["path"] == path and s["ready"] and s["kernel"] == "idle", timeout,
             f"{path} to open with an idle kernel")
    return page


#: Records when the UI's "run all" command starts and what its promise resolves to (false: a cell failed).
WATCH_RUN_ALL = """() => {
    window.__tsnbookRunAll = 'waiting';
    window.jupyterapp.commands.commandExecuted.connect((sender, args) => {
        if (args.id !== 'notebook:run-all-cells') { return; }
        window.__tsnbookRunAll = 'running';
        Promise.resolve(args.result).then(ok => { window.__tsnbookRunAll = 'done:' + ok; },
                                          err => { window.__tsnbookRunAll = 'failed:' + err; });
    });
}"""


def run_all(page, timeout):
    """Run > Run All Cells in the menu bar; returns the notebook state once the run has ended.

    The command's own promise tells when it is over (also when a cell raised: the kernel then skips the queued
    cells, and the caller finds the error in the outputs); then the kernel must idle with no cell queued.
    """
    page.evaluate(WATCH_RUN_ALL)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    name = page.url.split("/tree/")[-1].split("?")[0]
    deadline = time.time() + timeout
    while not str(page.evaluate("() => window.__tsnbookRunAll")).startswith(("done", "failed")):
        if time.time() > deadline:
            raise AssertionError(f"{name}: Run All Cells did not finish within {timeout} s "
                                 f"(state: {page.evaluate('() => window.__tsnbookRunAll')})")
        time.sleep(1.0)
    return wait_for(page, lambda s: s["kernel"] == "idle" and not any("*" in p for p in s["prompts"]), 60,
                    f"{name}'s kernel to idle after the run")


def shut_down(page):
    """Stop the notebook's kernel (frees the CPU for the next one) and close the tab without saving."""
    with contextlib.suppress(Exception):
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    page.close()
