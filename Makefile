# make demo | make test | make test-portable | make test-browser | make setup | make notebooks | make lab
# (see README.md)
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# pip prints one harmless warning per package for this machine's local mirror folders: keep the output readable.
# (The filter always succeeds, so with pipefail the pipeline fails exactly when pip does.)
QUIET_PIP := { grep -v "^WARNING: Location" || true; }

# pytest workers: test files and notebooks run in parallel, one group (file, or notebooks that share runs) each
JOBS ?= 2
XDIST := -n $(JOBS)

.PHONY: setup demo test test-portable test-browser notebooks lab clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@tools/check_system.sh "$(PYTHON)"
	@[ -x "$(PY)" ] || $(PYTHON) -m venv "$(VENV)"
	@echo "installing tsnbook and its dependencies into $(VENV) (pinned by constraints.txt) ..."
	@$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[course,dev]" 2>&1 | $(QUIET_PIP)
	@$(PY) -c "import tsnbook, torch, cv2, av, matplotlib, nbval" || { echo "error: the install in $(VENV) is incomplete; delete $(VENV) and run make setup again"; exit 1; }
	@touch $@

demo: setup
	$(PY) -m tsnbook demo

test: setup
	$(PY) -m pytest $(XDIST)

test-portable: setup
	tools/test_portable.sh $(PY) $(XDIST)

# The course as a learner meets it: JupyterLab in headless Chromium (Debian's chromium; Playwright, the
# `browser` extra, drives it). tools/test_browser.sh installs chromium where it can (root with apt-get); without
# it, one line says why and the target succeeds (fails with TSNBOOK_REQUIRE_BROWSER=1, as .ci/run sets).
test-browser: setup $(VENV)/.browser
	tools/test_browser.sh $(PY)

$(VENV)/.browser: pyproject.toml constraints.txt
	@echo "installing the browser-test extra (Playwright, pinned by constraints.txt) ..."
	@$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[course,dev,browser]" 2>&1 | $(QUIET_PIP)
	@touch $@

notebooks: setup
	$(PY) tools/refresh_notebooks.py

# JupyterLab on notebooks/, opening the course's landing page notebooks/README.md (rendered: tools/jupyter holds
# the course's JupyterLab defaults). The course's notebooks are trusted first, so that their stored outputs show
# as stored (notebook 01's widget, before it is run). As root (containers, cloud machines) Jupyter refuses to
# start without --allow-root, so it is added then, and only then.
LAB_ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
lab: setup
	@$(VENV)/bin/jupyter trust notebooks/[0-9][0-9]_*.ipynb >/dev/null
	JUPYTER_CONFIG_PATH="$(CURDIR)/tools/jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	    $(VENV)/bin/jupyter lab $(LAB_ROOT_FLAG) --ServerApp.root_dir=notebooks --LabApp.default_url=/lab/tree/README.md

clean:
	rm -rf work_dirs data
