#!/bin/sh
# BILLmanager ShellScripts: opens a line. Arguments: --user=, --password=, and the tariff's
# --<param>=value (callerid, max_channels, codecs; others are ignored).
exec "$(dirname "$0")/pbxbridge-line.sh" open "$@"
