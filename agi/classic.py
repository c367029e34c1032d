"""Classic AGI: `pbxbridge-agi ROUTE [ARGS…]`, started by Asterisk for each call.

    exten => s,n,AGI(pbxbridge-agi,userstatus?say=1)

The same route code as the FastAGI server runs over stdin/stdout. pyst2 reads the
`agi_*` environment and writes the commands; the replies are read by pbxbridge's own
reader (`agi.replies`), because pyst2's `get_result()` raises ValueError on the unprompted
`HANGUP` line Asterisk sends when the caller hangs up, and knows neither `100 Trying` nor
`511`. A process per call costs an interpreter start and a database connection each
time: use FastAGI (`pbxbridge run`) where load matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TextIO

from asterisk.agi import AGI

from agi.errors import AgiError, AgiHangup
from agi.request import build_request
from agi.routes import ROUTES, RouteDeps
from agi.session import AgiSession

log = logging.getLogger("pbxbridge.agi.classic")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class _Pyst2Writer:
    """Sends each command line through pyst2."""

    def __init__(self, agi: AGI) -> None:
        self._agi = agi

    def write(self, data: bytes) -> None:
        self._agi.send_command(data.decode("utf-8").rstrip("\n"))

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None


class _LineReader:
    """Reads reply lines from the stream pyst2 read the environment from."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        line = await asyncio.to_thread(self._stream.readline)
        data = line.encode("utf-8")
        if not line.endswith("\n"):
            raise asyncio.IncompleteReadError(data, None)
        return data


DepsFactory = Callable[[], AbstractAsyncContextManager[RouteDeps]]
"""Opens what the routes need (the root passes it in: agi never builds the billing)."""


async def run_classic(
    argv: list[str], stdin: TextIO, stdout: TextIO, open_deps: DepsFactory
) -> int:
    """Run the route named by argv[0] for the call on stdin/stdout; the process exit code."""
    agi = AGI(stdin=stdin, stdout=stdout, stderr=io.StringIO())
    session = AgiSession(_LineReader(stdin), _Pyst2Writer(agi), command_timeout=30.0)
    if not argv:
        await session.verbose("pbxbridge-agi: usage AGI(pbxbridge-agi,ROUTE[?query][,args])", 1)
        return EXIT_USAGE
    # Asterisk numbers the script's arguments from agi_arg_1; ours start after the route.
    env = {k: v for k, v in agi.env.items() if not k.startswith("agi_arg_")}
    env.update({f"agi_arg_{i}": value for i, value in enumerate(argv[1:], start=1)})
    env["agi_network_script"] = argv[0]
    request = build_request(env, "stdin", 0)
    route = ROUTES.get(request.script)
    if route is None:
        await session.verbose(f"pbxbridge-agi: no route {request.script[:60]!r}", 1)
        return EXIT_USAGE
    try:
        async with open_deps() as deps:
            try:
                await route(deps, request, session)
            except AgiHangup as exc:
                log.info("AGI %s %s: caller gone: %s", request.uniqueid, request.script, exc)
            finally:
                await deps.drain()
    except Exception as exc:
        log.exception("AGI %s %s: failed", request.uniqueid, request.script)
        with contextlib.suppress(AgiError):
            await session.verbose(f"pbxbridge-agi: {type(exc).__name__} (see stderr)", 1)
        return EXIT_FAILED
    return EXIT_OK
