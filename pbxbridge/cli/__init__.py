"""The `pbxbridge` command."""

from pbxbridge.cli.main import main

__all__ = ["main"]
