# Two commands do everything: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: run install test test-fast coverage bench audit clean

run: $(RUN_STAMP)
	@echo 'watcher is $(CURDIR)/$(BIN)/watcher; to use it anywhere: export PATH="$(CURDIR)/$(BIN):$$PATH"'
	$(BIN)/watcher db upgrade
	exec $(BIN)/watcher run

# Only the virtualenv with watcher in it, for the quick start in README.md.
install: $(RUN_STAMP)
	@echo 'installed $(CURDIR)/$(BIN)/watcher; put it on PATH with:'
	@echo '  export PATH="$(CURDIR)/$(BIN):$$PATH"'

# The suite runs on TEST_WORKERS processes (pytest-xdist; see pyproject.toml);
# TEST_WORKERS=0 runs it in this process, as a plain `pytest` does.
TEST_WORKERS ?= 3
PYTEST_ARGS := -q -n $(TEST_WORKERS) --dist loadgroup
PYTEST := $(BIN)/pytest $(PYTEST_ARGS)

test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy --strict watcher
	$(PYTEST)

# The same checks without the tests marked slow (daemons as processes, soaks, scale-out).
test-fast: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy --strict watcher
	$(PYTEST) -m "not slow"

# Line coverage of watcher/ under the whole suite, daemon processes and xdist workers
# included (each writes its own data file; `coverage combine` joins them):
# a table here, HTML in var/coverage/html/.
coverage: $(TEST_STAMP)
	rm -rf var/coverage
	mkdir -p var/coverage
	$(BIN)/coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report
	$(BIN)/coverage html --quiet

# Benchmarks (not tests): figures go to bench/RESULTS.md; see bench/README.md.
# About 15 minutes on 2 cores; `python bench/bench_cli.py --quick` is a 3-minute look.
bench: $(BENCH_STAMP)
	$(BIN)/python bench/bench_cli.py
	$(BIN)/python bench/bench_extract.py

$(BENCH_STAMP): pyproject.toml | $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

# Known vulnerabilities in the exact dependency set installed (see SECURITY.md).
audit: $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[audit]'
	$(BIN)/python -m pip freeze --exclude-editable > requirements.lock
	$(BIN)/pip-audit --strict --disable-pip --no-deps -r requirements.lock

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "watcher needs Python >= 3.11, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when the dependency list changes; the package itself is editable.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(RUN_STAMP)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
