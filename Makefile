# Two commands: `make run` (set up and serve the demo) and `make test` (set up and test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export PORT
# test processes (pytest-xdist): one per logical CPU; TEST_WORKERS=0 runs the suite in this process
TEST_WORKERS ?= logical

.PHONY: run test test-fast bench lint install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q --no-compile -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q --no-compile -r requirements-dev.txt
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime

install-dev: $(VENV)/.dev

run: install
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/python seed.py
	@echo "CPS is starting on http://127.0.0.1:$(PORT)  (console: /console, Swagger UI: /apidocs)"
	SCHEDULER_ENABLED=$${SCHEDULER_ENABLED:-1} \
	DEMO_DOCK_REPORT_INTERVAL_S=$${DEMO_DOCK_REPORT_INTERVAL_S:-30} $(BIN)/flask --app wsgi run --host 127.0.0.1 --port $(PORT)

test: install-dev
	$(BIN)/pytest -n $(TEST_WORKERS)

test-fast: install-dev
	$(BIN)/pytest -n $(TEST_WORKERS) tests/unit tests/api

bench: install-dev
	$(BIN)/python -m bench

lint: install-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
