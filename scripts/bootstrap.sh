#!/bin/sh
# Creates .venv with Python >= 3.11 and installs pbxbridge with the pinned constraints.
# Installs python3-venv through apt when it is missing and we may; otherwise one-line error.
set -eu
cd "$(dirname "$0")/.."

find_python() {
    for cand in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
        [ -n "$cand" ] || continue
        if command -v "$cand" >/dev/null 2>&1 &&
            "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$cand"
            return 0
        fi
    done
    return 1
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}

PY=$(find_python) || { echo "pbxbridge needs Python 3.11 or newer: apt-get install python3 (Debian 12+)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
    if ! "$PY" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        if command -v apt-get >/dev/null 2>&1 && as_root true 2>/dev/null; then
            ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
            as_root apt-get install -y -q "python${ver}-venv" >/dev/null 2>&1 ||
                as_root apt-get install -y -q python3-venv >/dev/null
            "$PY" -m venv .venv
        else
            echo "cannot create a virtualenv: apt-get install python3-venv" >&2
            exit 1
        fi
    fi
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade "pip>=24" 2>&1 | grep -v 'is ignored' >&2 || true
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]' 2>&1 |
    grep -v -e 'is ignored' -e '^\s*$' >&2 || true
.venv/bin/python -c 'import pbxbridge, billing_client, storage' || { echo "install failed: see pip output above" >&2; exit 1; }
