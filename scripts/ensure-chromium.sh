#!/bin/sh
# Makes sure Debian's Chromium is there: the browser tests (tests/browser/) drive it with
# Playwright (never `playwright install`, which downloads a browser of its own). Installs it
# with apt-get when we are root (or may sudo) and apt exists; otherwise prints the one line
# saying what to install. Always exits 0: the service never needs it, and the browser tests
# skip without it, except under CI=true, where they fail.
set -u
LINE="the browser tests need Chromium: apt-get install chromium"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}
works() { "${PBXBRIDGE_CHROMIUM:-/usr/bin/chromium}" --version >/dev/null 2>&1; }

works && exit 0
if command -v apt-get >/dev/null 2>&1 && as_root true 2>/dev/null; then
    echo "installing Chromium for the browser tests (apt-get install chromium)" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        chromium >/dev/null 2>&1 ||
        { as_root apt-get update -q >/dev/null 2>&1 &&
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                --no-install-recommends chromium >/dev/null 2>&1; } ||
        true
    works && exit 0
fi
echo "$LINE" >&2
exit 0
