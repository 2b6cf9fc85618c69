# toyforge — the README's two commands are `make demo` and `make test`.
# Both work on a fresh machine with only python3, pip and make.

PYTHON      ?= python3
VENV        ?= .venv
BIN         := $(VENV)/bin
BENCH_VENV  ?= .venv-bench
DEMO_OUT    ?= demo-output
# pytest-xdist workers for `make test` (CI has 2 cores)
TEST_WORKERS ?= 2

.PHONY: demo test test-fast bench lint format warmup report gallery clean help

help:
	@echo "make demo   - install into $(VENV) and run 'toyforge demo' end to end"
	@echo "make test   - install with the dev extra, make lint, then the full test suite"
	@echo "make bench  - speed benchmarks (ratios against references, single thread)"
	@echo "make lint   - ruff and the import-layer contracts (import-linter)"
	@echo "make report - quick reproduction report into report/ (make gallery: the full one)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/toyforge demo --out $(DEMO_OUT)

# `make lint` first (ruff and the import-layer contracts), then the suite with a fresh numba
# cache for every run, so no stale compiled kernel can hide an edit.
test: $(VENV)/.installed-dev
	$(MAKE) lint
	@cache=$$(mktemp -d); \
	NUMBA_CACHE_DIR=$$cache OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 \
	TOYFORGE_HYPOTHESIS_PROFILE=$${TOYFORGE_HYPOTHESIS_PROFILE:-ci} \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --durations=15 tests; \
	status=$$?; rm -rf $$cache; exit $$status

test-fast: $(VENV)/.installed-dev
	@cache=$$(mktemp -d); \
	NUMBA_CACHE_DIR=$$cache $(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not slow" tests; \
	status=$$?; rm -rf $$cache; exit $$status

# Benchmarks run in their own venv so the optional PyTorch peer never touches $(VENV).
$(BENCH_VENV)/.installed: pyproject.toml
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e ".[dev]"
	-$(BENCH_VENV)/bin/python -m pip install --quiet "torch==2.13.0" \
	  || echo "torch==2.13.0 not installable here: benchmarks run without the PyTorch peer"
	touch $@

bench: $(BENCH_VENV)/.installed
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	$(BENCH_VENV)/bin/python -m benchmarks.run_all --out benchmarks/results

# The subpackages live in top-level folders (theory/, verify/, ...) mapped into `toyforge` by
# [tool.setuptools.package-dir]; import-linter reads one folder per root package, so the import
# layout is assembled from copies in $(IMPORT_GRAPH) (about a second) and checked there against
# the contracts in pyproject.toml's [tool.importlinter].
IMPORT_GRAPH ?= build/import-graph

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@rm -rf $(IMPORT_GRAPH) && mkdir -p $(IMPORT_GRAPH)
	@cp -r toyforge $(IMPORT_GRAPH)/toyforge
	@for sub in theory constructions verify figures; do cp -r $$sub $(IMPORT_GRAPH)/toyforge/$$sub; done
	cd $(IMPORT_GRAPH) && PYTHONPATH=. $(abspath $(BIN))/lint-imports $(abspath pyproject.toml)

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

warmup: $(VENV)/.installed
	$(BIN)/toyforge warmup

# The reproduction report (quick: a few minutes) and the README gallery (full: ~20 minutes).
report: $(VENV)/.installed
	$(BIN)/toyforge report --out report --quick

gallery: $(VENV)/.installed
	$(BIN)/toyforge report --out figures/gallery

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(DEMO_OUT) build *.egg-info .pytest_cache .ruff_cache
