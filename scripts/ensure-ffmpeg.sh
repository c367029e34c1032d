#!/bin/sh
# Makes sure ffmpeg is there: pydub runs it to read campaign audio (mp3, ogg, wav…) and to
# write the Asterisk formats. Installs it with apt-get when we are root (or may sudo) and
# apt exists; otherwise prints the one line saying what to install. Always exits 0: the
# service runs without it (only `campaign audio` needs it) and the tests that need it skip,
# except under CI=true, where they fail.
set -u
LINE="pbxbridge needs ffmpeg for audio prompts: apt-get install ffmpeg"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}
works() { ffmpeg -version >/dev/null 2>&1; }

works && exit 0
if command -v apt-get >/dev/null 2>&1 && as_root true 2>/dev/null; then
    echo "installing ffmpeg for audio prompts (apt-get install ffmpeg)" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ffmpeg \
        >/dev/null 2>&1 ||
        { as_root apt-get update -q >/dev/null 2>&1 &&
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                ffmpeg >/dev/null 2>&1; } ||
        true
    works && exit 0
fi
echo "$LINE" >&2
exit 0
