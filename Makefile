# Every target creates and uses a local virtual environment (.venv) from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test typecheck docs demo bench coverage lint audit clean fuzz

# the type checker on the public API: settings and modules in pyproject.toml's [tool.mypy]
TYPECHECK := $(BIN)/mypy --config-file pyproject.toml

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,demo,docs,fast,dask]'
	touch $(STAMP)

# ruff, mypy, the documentation site (warnings are errors), then pytest: one BLAS thread per
# test worker, two workers on two cores, no oversubscription
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples tools
	$(TYPECHECK)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 tests

# mypy on the modules users import (pyproject.toml's [tool.mypy]); also run by `make test`
typecheck: $(STAMP)
	$(TYPECHECK)

# the documentation site (mkdocs.yml, docs/) into site/; any warning fails the build
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

demo: $(STAMP)
	$(BIN)/pullback demo

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python benchmarks/run.py $(BENCH_ARGS)

coverage: $(STAMP)
	$(BIN)/python tools/coverage.py

audit: $(STAMP)
	$(BIN)/pullback audit

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples tools

clean:
	rm -rf $(VENV) build dist site .mypy_cache *.egg-info src/*.egg-info

# differential fuzzing (tools/fuzz.py): N random programs from seed START checked against
# NumPy and numerical derivatives; failures shrunk into runnable snippets in fuzz-failures.txt
N ?= 1000
START ?= 0
fuzz: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python tools/fuzz.py -n $(N) --start $(START) --out fuzz-failures.txt
