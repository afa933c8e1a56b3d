# genforge: `make demo` sets everything up and runs the main job; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PIP     = $(VENV)/bin/pip -q
PY      = $(VENV)/bin/python
CONSTRAINTS = .ci/constraints.txt

.PHONY: setup demo test lint bench clean

$(VENV)/.installed: pyproject.toml setup.py $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel
	$(PIP) install torch==2.13.0            # CPU build first: nothing below may replace it
	$(PIP) install -c $(CONSTRAINTS) -e ".[all,dev]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/genforge demo --out outputs/demo

test: setup
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 tests; rc=$$?; if [ $$rc -eq 5 ]; then echo 'no tests collected'; exit 1; fi; exit $$rc

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) -m benchmarks.sampler_shootout
	$(PY) -m benchmarks.dit_throughput

clean:
	rm -rf outputs runs .pytest_cache .ruff_cache
