# Two entry points for a fresh machine: `make lab` and `make test`.
# Every target bootstraps a local virtual environment on first use.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.rtkit-installed
BENCH_STAMP := $(VENV)/.rtkit-bench-installed
# Notebooks are validated against the environment they run in, not a kernel spec.
NBVAL  := --nbval-lax --nbval-current-env --nbval-cell-timeout=120
NB_DIRS := $(wildcard notebooks solutions)
# Jupyter refuses to start as root unless told to (containers, CI boxes).
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: install lab test unit notebooks bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

lab: $(STAMP)
	$(PY) -m ipykernel install --user --name rtkit --display-name "Python (rtkit)"
	$(VENV)/bin/jupyter lab $(LAB_FLAGS) --ServerApp.root_dir=$(CURDIR) \
		--LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb

test: unit notebooks

unit: $(STAMP)
	$(PY) -m pytest -q tests --doctest-modules rtkit

notebooks: $(STAMP)
	$(PY) -m pytest -q $(NBVAL) $(NB_DIRS)

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check rtkit tests benchmarks instructor notebooks solutions exercises
	$(VENV)/bin/ruff format --check rtkit tests benchmarks instructor

clean:
	rm -rf $(VENV) build *.egg-info
