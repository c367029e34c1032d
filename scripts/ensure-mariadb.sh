#!/bin/sh
# Prints a MariaDB/MySQL URL for the tests (mysql+asyncmy://…), starting (or installing) a
# local MariaDB when none answers on 127.0.0.1:3306. Prints nothing when no server can be
# had (one line on stderr says so); the tests then skip their MariaDB runs, which CI=true
# turns into a failure. The tests create a database of their own and drop it.
set -u
URL=${PBXBRIDGE_TEST_MYSQL_URL:-mysql+asyncmy://root@127.0.0.1:3306/mysql}
ROLE_URL=mysql+asyncmy://pbxbridge_test:pbxbridge_test@127.0.0.1:3306/mysql

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}
answers() { .venv/bin/python - "$1" <<'PY' >/dev/null 2>&1
import asyncio, sys
import asyncmy
from sqlalchemy.engine import make_url
async def main():
    u = make_url(sys.argv[1])
    c = await asyncmy.connect(host=u.host or "127.0.0.1", port=u.port or 3306, user=u.username or "root",
                              password=u.password or "", connect_timeout=3)
    c.close()
asyncio.run(main())
PY
}

if answers "$URL"; then echo "$URL"; exit 0; fi
if answers "$ROLE_URL"; then echo "$ROLE_URL"; exit 0; fi

if ! command -v mariadbd >/dev/null 2>&1 && ! command -v mysqld >/dev/null 2>&1 &&
    ! [ -x /usr/sbin/mariadbd ] && ! [ -x /usr/sbin/mysqld ]; then
    if command -v apt-get >/dev/null 2>&1 && as_root true 2>/dev/null; then
        echo "installing MariaDB for the tests (apt-get install mariadb-server)" >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server >/dev/null 2>&1 ||
            echo "apt-get install mariadb-server failed" >&2
    fi
fi
if [ -x /usr/sbin/mariadbd ] || [ -x /usr/sbin/mysqld ]; then
    # systemd where it runs, else the init script, else mysqld_safe in the background
    as_root systemctl start mariadb >/dev/null 2>&1 ||
        as_root service mariadb start >/dev/null 2>&1 ||
        as_root service mysql start >/dev/null 2>&1 ||
        (as_root mysqld_safe >/dev/null 2>&1 &)
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
        answers "$URL" && { echo "$URL"; exit 0; }
        # root over the socket (unix_socket auth): a role the tests can use over TCP
        as_root mariadb -e "CREATE USER IF NOT EXISTS 'pbxbridge_test'@'127.0.0.1' IDENTIFIED BY 'pbxbridge_test'; GRANT ALL ON *.* TO 'pbxbridge_test'@'127.0.0.1';" \
            >/dev/null 2>&1 && answers "$ROLE_URL" && { echo "$ROLE_URL"; exit 0; }
        sleep 1
    done
fi
echo "no MariaDB server for the tests (apt-get install mariadb-server); MariaDB runs will be skipped" >&2
exit 0
