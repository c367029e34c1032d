#!/bin/sh
# BILLmanager ShellScripts: closes a line (removed from Asterisk). Arguments: --id=, --user=.
exec "$(dirname "$0")/pbxbridge-line.sh" close "$@"
