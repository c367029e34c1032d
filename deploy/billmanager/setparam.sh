#!/bin/sh
# BILLmanager ShellScripts: changes a line. Arguments: --id=, --user=, and the tariff's
# --<param>=value (callerid, max_channels, codecs; others are ignored).
exec "$(dirname "$0")/pbxbridge-line.sh" setparam "$@"
