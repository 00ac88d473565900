# make demo | make test | make test-portable | make setup | make notebooks | make lab   (see README.md)
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

.PHONY: setup demo test test-portable notebooks lab clean

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

notebooks: setup
	$(PY) tools/refresh_notebooks.py

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf work_dirs data
