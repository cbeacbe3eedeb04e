# Two commands on a fresh machine with python3 and pip: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch; see the README for a GPU build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo test lint format bench clean

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

test: setup
	$(BIN)/ruff format --check lightup tests benchmarks
	$(BIN)/ruff check lightup tests benchmarks
	$(BIN)/pytest -q -m "not slow"

format: setup
	$(BIN)/ruff format lightup tests benchmarks
	$(BIN)/ruff check --fix lightup tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache
