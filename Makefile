# Two commands on a fresh machine with python3 and pip: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch; see docs/getting-started.md for a GPU build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo test lint format docs bench bench-learning clean chromium

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

# The main job: train a Decision Transformer on CartPole-v1 (the default env) and show what it scored.
demo: setup
	$(BIN)/lightup games
	$(BIN)/lightup train --stop-at-threshold

# Debian's chromium, for the test that opens a run's report in a headless browser (needs root and apt-get).
CHROMIUM ?= /usr/bin/chromium

chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		command -v apt-get >/dev/null 2>&1 || { echo "make chromium: $(CHROMIUM) is missing and there is no apt-get: install Debian's chromium package by hand" >&2; exit 1; }; \
		[ "$$(id -u)" = 0 ] || { echo "make chromium: $(CHROMIUM) is missing; installing it needs root: run 'sudo apt-get install chromium' (or make test as root)" >&2; exit 1; }; \
		echo "installing Debian's chromium (for the report's browser test)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq \
			|| { echo "make chromium: apt-get update failed" >&2; exit 1; }; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
			|| { echo "make chromium: apt-get install chromium failed" >&2; exit 1; }; \
		[ -x "$(CHROMIUM)" ] || { echo "make chromium: apt-get ran but $(CHROMIUM) is still missing" >&2; exit 1; }; \
	fi

test: setup chromium
	$(BIN)/ruff format --check lightup tests benchmarks examples
	$(BIN)/ruff check lightup tests benchmarks examples
	$(BIN)/lint-imports
	$(BIN)/pytest -q -m "not slow"
	@# the docs site, built strictly into a temporary folder: a broken link or docstring fails the tests
	@tmp=$$(mktemp -d) && NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d "$$tmp"; \
		status=$$?; rm -rf "$$tmp"; exit $$status

lint: setup
	$(BIN)/ruff format --check lightup tests benchmarks examples
	$(BIN)/ruff check lightup tests benchmarks examples
	$(BIN)/lint-imports

# The documentation site (mkdocs-material, API reference by mkdocstrings) into site/.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d site

# Speed benchmarks (a few minutes): rewrite benchmarks/results/kv_cache.md and throughput.md.
bench: setup
	$(BIN)/python benchmarks/kv_cache.py
	$(BIN)/python benchmarks/throughput.py

# Learning benchmarks (hours on 2 cores): CartPole-v1 and the games over 10 seeds, as committed.
bench-learning: setup
	$(BIN)/python benchmarks/learning.py --suite cartpole --seeds 10 --agents dt-stacked
	$(BIN)/python benchmarks/learning.py --suite games --seeds 10

format: setup
	$(BIN)/ruff format lightup tests benchmarks examples
	$(BIN)/ruff check --fix lightup tests benchmarks examples

clean:
	rm -rf $(VENV) runs site .pytest_cache
