# hawcnb: the README's two commands are `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
# A CPU build of torch is pinned for these machines; GPU users install their own torch first (see README).
TORCH   ?= torch==2.13.0
PYTEST_WORKERS ?= 2

.PHONY: setup demo test test-slow export readme docs docs-check chromium lab

$(BIN)/hawcnb: setup.py settings.ini
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check $(TORCH) -e '.[dev]'
	touch $(BIN)/hawcnb

setup: $(BIN)/hawcnb   ## create .venv with hawcnb (editable) and the dev tools

demo: setup            ## the main job on the embedded default (CPU preset)
	$(BIN)/hawcnb demo

test: setup            ## everything CI checks: notebooks clean, library in sync, notebooks execute, pytest suites
	@# one torch/BLAS thread per pytest worker: two workers with two threads each on two cores thrash
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest tests -n $(PYTEST_WORKERS) -p no:cacheprovider

test-slow: setup       ## also run cells marked `#| slow`
	OMP_NUM_THREADS=1 HAWCNB_TEST_FLAGS=slow $(BIN)/python -m pytest tests -n $(PYTEST_WORKERS) -p no:cacheprovider

export:                ## regenerate hawcnb/ from nbs/ and clean the notebooks
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean

readme: setup          ## write README.md from nbs/index.ipynb (nbdev_readme needs Quarto)
	$(BIN)/python .ci/readme.py

docs: setup            ## the docs site in _docs/, offline: nbdev's notebook processing, then Sphinx + myst-nb (no Quarto)
	$(BIN)/python .ci/docs.py build

docs-check: docs       ## build the docs, check every internal link, screenshot pages into _docs/screenshots/
	@command -v chromium >/dev/null 2>&1 || $(MAKE) --no-print-directory chromium
	$(BIN)/python .ci/docs.py check

chromium:              ## headless Chromium for docs-check (Debian package `chromium`)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "docs-check: installing headless Chromium (apt-get install chromium)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "docs-check needs headless Chromium: run 'sudo apt-get install chromium' (Debian/Ubuntu)" >&2; exit 1; fi

lab: setup             ## JupyterLab on the project's environment (default kernel: python3 of .venv)
	JUPYTER_PREFER_ENV_PATH=1 $(BIN)/jupyter lab --no-browser --ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root,)
