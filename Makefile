# Two commands: `make run` and `make test` do all set-up on a fresh Debian with Python 3.11+.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml constraints.txt scripts/bootstrap.sh
	@scripts/bootstrap.sh
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/pbxbridge db upgrade
	exec $(BIN)/pbxbridge run --demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

test: lint
	PBXBRIDGE_TEST_PG_URL="$$(scripts/ensure-postgres.sh)" && export PBXBRIDGE_TEST_PG_URL && \
	  [ -n "$$PBXBRIDGE_TEST_PG_URL" ] || unset PBXBRIDGE_TEST_PG_URL; \
	  $(BIN)/pytest -q

bench: install
	$(BIN)/python bench/agi_bench.py
	$(BIN)/python bench/ami_bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
