# hawcnb: the README's two commands are `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
# A CPU build of torch is pinned for these machines; GPU users install their own torch first (see README).
TORCH   ?= torch==2.13.0
PYTEST_WORKERS ?= 2

.PHONY: setup demo test test-fast notebooks-all export clean-nbs docs docs-check lab

$(BIN)/hawcnb: setup.py settings.ini
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check $(TORCH) -e '.[dev]'
	touch $(BIN)/hawcnb

setup: $(BIN)/hawcnb   ## create .venv with hawcnb (editable) and the dev tools

demo: setup            ## the main job on the embedded default (CPU preset)
	$(BIN)/hawcnb demo

test: setup            ## everything CI checks: notebooks clean, library in sync, notebooks execute, pytest suites
	$(BIN)/python -m pytest tests -n $(PYTEST_WORKERS) -p no:cacheprovider

test-slow: setup       ## also run cells marked `#| slow`
	HAWCNB_TEST_FLAGS=slow $(BIN)/python -m pytest tests -n $(PYTEST_WORKERS) -p no:cacheprovider

export:                ## regenerate hawcnb/ from nbs/ and clean the notebooks
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean

lab: setup             ## JupyterLab on the project's environment
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root,)
