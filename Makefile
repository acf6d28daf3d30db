# Two commands from a fresh clone: `make run` (the demo; `make run PORT=8123` for another port)
# and `make test` (the whole suite).
VENV ?= .venv
PYTHON ?= python3
PORT ?= 8000
# make fuzz: schemathesis against a server that is already running (e.g. `make run`).
FUZZ_URL ?= http://127.0.0.1:$(PORT)
FUZZ_TOKEN ?= demo-token
FUZZ_TIME ?= 180
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test check bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/cartback serve --config examples/demo.yaml --demo --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest

check: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ingest_app.py
	$(BIN)/python bench/send.py
	$(BIN)/python bench/send_lag.py
	$(BIN)/python bench/smtp_reuse.py
	$(BIN)/python bench/scheduler_tick.py
	$(BIN)/python bench/memory_store.py
	$(BIN)/python bench/flat_cost.py

# Every operation of /openapi.json with generated and hostile input for FUZZ_TIME seconds;
# fails on any 5xx. Settings in schemathesis.toml (the demo's store id for {store_id}).
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[fuzz]"
	$(BIN)/st run $(FUZZ_URL)/openapi.json -H "Authorization: Bearer $(FUZZ_TOKEN)" \
		--checks not_a_server_error --phases examples,fuzzing,stateful --max-time $(FUZZ_TIME) \
		--workers 2

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache
