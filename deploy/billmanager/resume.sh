#!/bin/sh
# BILLmanager ShellScripts: resumes a suspended line. Arguments: --id=, --user=.
exec "$(dirname "$0")/pbxbridge-line.sh" resume "$@"
