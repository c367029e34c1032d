"""`pbxbridge-agi`: the classic (process per call) AGI entry, wired by the root."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from agi.classic import run_classic
from agi.routes import RouteDeps
from pbxbridge.app import build_route_deps, open_core
from pbxbridge.logs import configure_logging
from pbxbridge.settings import ignored_variables, load_settings


@asynccontextmanager
async def open_route_deps() -> AsyncIterator[RouteDeps]:
    """Settings from $PBXBRIDGE_CONFIG or /etc/pbxbridge/pbxbridge.toml (./pbxbridge.toml
    first when Asterisk's working directory has one); logs go to stderr, which Asterisk
    shows on its console."""
    settings, _ = load_settings()
    configure_logging(settings.logging, settings.secrets(), settings.timezone)
    for warning in ignored_variables():
        logging.getLogger("pbxbridge.settings").warning("%s", warning)
    async with open_core(settings) as core:
        yield build_route_deps(core)


def main() -> None:
    sys.exit(asyncio.run(run_classic(sys.argv[1:], sys.stdin, sys.stdout, open_route_deps)))
