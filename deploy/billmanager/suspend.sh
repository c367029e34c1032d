#!/bin/sh
# BILLmanager ShellScripts: suspends a line (its calls hear it is suspended). Arguments: --id=, --user=.
exec "$(dirname "$0")/pbxbridge-line.sh" suspend "$@"
