# Two commands: `make run` and `make test` do all set-up on a fresh Debian with Python 3.11+.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml constraints.txt scripts/bootstrap.sh
	@scripts/bootstrap.sh
	@touch $(STAMP)

install: $(STAMP)

# Without Asterisk on this machine, call files go to ./var/spool/asterisk (outgoing/ made
# here as Asterisk's pbx_spool would); a config file or PBXBRIDGE_SPOOL__DIR overrides it.
run: install
	@scripts/ensure-ffmpeg.sh
	mkdir -p var/spool/asterisk/outgoing var/spool/asterisk/outgoing_done
	$(BIN)/pbxbridge db upgrade
	PBXBRIDGE_SPOOL__DIR=$${PBXBRIDGE_SPOOL__DIR:-var/spool/asterisk} \
	PBXBRIDGE_SPOOL__SOUNDS_DIR=$${PBXBRIDGE_SPOOL__SOUNDS_DIR:-var/lib/asterisk/sounds/pbxbridge-campaigns} \
	  exec $(BIN)/pbxbridge run --demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

test: lint
	@scripts/ensure-ffmpeg.sh
	PBXBRIDGE_TEST_PG_URL="$$(scripts/ensure-postgres.sh)" && export PBXBRIDGE_TEST_PG_URL && \
	  [ -n "$$PBXBRIDGE_TEST_PG_URL" ] || unset PBXBRIDGE_TEST_PG_URL; \
	  $(BIN)/pytest -q

bench: install
	$(BIN)/python bench/agi_bench.py
	$(BIN)/python bench/ami_bench.py
	$(BIN)/python bench/spool_bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
