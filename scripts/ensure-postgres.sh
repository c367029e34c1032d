#!/bin/sh
# Prints a PostgreSQL admin URL for the tests, starting (or installing) a local server
# when none answers. Prints nothing when no server can be had; the tests then skip their
# PostgreSQL runs, which CI=true turns into a failure.
set -u
URL=${PBXBRIDGE_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
ROLE_URL=postgresql://pbxbridge_test:pbxbridge_test@127.0.0.1:5432/postgres

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}
answers() { .venv/bin/python - "$1" <<'PY' >/dev/null 2>&1
import asyncio, sys, asyncpg
async def main():
    c = await asyncpg.connect(sys.argv[1], timeout=3)
    await c.close()
asyncio.run(main())
PY
}

if answers "$URL"; then echo "$URL"; exit 0; fi
if answers "$ROLE_URL"; then echo "$ROLE_URL"; exit 0; fi

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && as_root true 2>/dev/null; then
        echo "installing PostgreSQL for the tests (apt-get install postgresql)" >&2
        as_root apt-get install -y -q postgresql >/dev/null 2>&1 || echo "apt-get install postgresql failed" >&2
    fi
fi
if command -v pg_ctlcluster >/dev/null 2>&1; then
    for ver in $(ls /etc/postgresql 2>/dev/null); do
        as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
    done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        answers "$URL" && { echo "$URL"; exit 0; }
        as_root runuser -u postgres -- psql -q -c \
            "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='pbxbridge_test') THEN CREATE ROLE pbxbridge_test LOGIN PASSWORD 'pbxbridge_test' CREATEDB; END IF; END\$\$;" \
            >/dev/null 2>&1 && answers "$ROLE_URL" && { echo "$ROLE_URL"; exit 0; }
        sleep 1
    done
fi
echo "no PostgreSQL server for the tests (apt-get install postgresql); PostgreSQL runs will be skipped" >&2
exit 0
