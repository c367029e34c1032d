#!/bin/sh
# Runs `pbxbridge line <command> <BILLmanager's arguments>` as the pbxbridge user. The five
# ShellScripts (open.sh, suspend.sh, resume.sh, close.sh, setparam.sh) call this; BILLmanager
# runs them over SSH as root, from the folder set as "Path to scripts".
#
# The arguments go on as they came ("$@": each one a single word, never re-read by a
# shell); what BILLmanager reads back is pbxbridge's: one line on stdout, `OK …` with exit
# status 0, or `ERROR: <reason>` with 1 (warnings on stderr).
#
# Environment (all optional):
#   PBXBRIDGE_BIN            the pbxbridge command   (/opt/pbxbridge/.venv/bin/pbxbridge)
#   PBXBRIDGE_CONFIG         its config file         (/etc/pbxbridge/pbxbridge.toml)
#   PBXBRIDGE_LINES_RUN_AS   the user to run it as   (pbxbridge); when the script already
#                            runs as that user it runs pbxbridge directly, else through
#                            runuser (which only root may use)
set -eu

command=${1:?usage: pbxbridge-line.sh open|suspend|resume|close|setparam [--name=value ...]}
shift
case "$command" in
    open|suspend|resume|close|setparam) ;;
    *) echo "ERROR: unknown line command: $command"; exit 1 ;;
esac

bin=${PBXBRIDGE_BIN:-/opt/pbxbridge/.venv/bin/pbxbridge}
config=${PBXBRIDGE_CONFIG:-/etc/pbxbridge/pbxbridge.toml}
user=${PBXBRIDGE_LINES_RUN_AS:-pbxbridge}
# Read here, not settings: pbxbridge refuses PBXBRIDGE_* variables it does not know.
unset PBXBRIDGE_BIN PBXBRIDGE_LINES_RUN_AS

# Not BILLmanager's SSH working folder: pbxbridge would look for ./pbxbridge.toml there.
cd /

if [ "$(id -un)" = "$user" ]; then
    exec "$bin" --config "$config" line "$command" "$@"
fi
exec runuser -u "$user" -- "$bin" --config "$config" line "$command" "$@"
