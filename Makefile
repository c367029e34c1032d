# Two commands: `make run` and `make test` do all set-up on a fresh Debian with Python 3.11+.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml constraints.txt scripts/bootstrap.sh
	@scripts/bootstrap.sh
	@touch $(STAMP)

install: $(STAMP)

# `make run` runs the service on ./pbxbridge.toml, which `pbxbridge config init` writes from
# the example the first time (database, call-file spool and campaign sounds under ./var:
# no Asterisk needed) and never overwrites: edit it for a real billing or Asterisk. The CLI
# run from this folder reads the same file. outgoing/ is made here as Asterisk's pbx_spool
# would; demo data goes only into an empty embedded billing (any other: one line says so).
CONFIG := pbxbridge.toml

run: install
	@scripts/ensure-ffmpeg.sh
	@[ -e $(CONFIG) ] || $(BIN)/pbxbridge config init $(CONFIG)
	mkdir -p var/spool/asterisk/outgoing var/spool/asterisk/outgoing_done
	$(BIN)/pbxbridge --config $(CONFIG) db upgrade
	exec $(BIN)/pbxbridge --config $(CONFIG) run --demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

test: lint
	@scripts/ensure-ffmpeg.sh
	@scripts/ensure-chromium.sh
	PBXBRIDGE_TEST_PG_URL="$$(scripts/ensure-postgres.sh)" && export PBXBRIDGE_TEST_PG_URL && \
	  [ -n "$$PBXBRIDGE_TEST_PG_URL" ] || unset PBXBRIDGE_TEST_PG_URL; \
	  PBXBRIDGE_TEST_MYSQL_URL="$$(scripts/ensure-mariadb.sh)" && export PBXBRIDGE_TEST_MYSQL_URL && \
	  [ -n "$$PBXBRIDGE_TEST_MYSQL_URL" ] || unset PBXBRIDGE_TEST_MYSQL_URL; \
	  $(BIN)/pytest -q -n 2 --dist loadfile

bench: install
	$(BIN)/python bench/agi_bench.py
	$(BIN)/python bench/ami_bench.py
	$(BIN)/python bench/spool_bench.py
	$(BIN)/python bench/fee_bench.py
	$(BIN)/python bench/remoteapi_bench.py
	$(BIN)/python bench/scheduler_bench.py
	$(BIN)/python bench/call_log_bench.py
	@url="$$(scripts/ensure-mariadb.sh)"; [ -z "$$url" ] || $(BIN)/python bench/telepony_bench.py --mysql "$$url"
	$(BIN)/python bench/webhooks_bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
