"""(d) pbxbridge's FastAGI layer alone: the real FastAgiServer and AgiSession with an
askozianum route that sets the same four variables to constants, no billing lookup.

Compared with (a) it isolates what the lookup costs; compared with (c) what the wire layer
(deadlines, allow-list, request parsing, command escaping, reply parsing) costs.

Run: python bench/agi_layer_server.py --port 4576
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from agi import AgiRequest, AgiSession, AgiSettings, FastAgiServer
from agi.routes.common import set_variables

CONSTANT = {
    "SUBSCRIBER_STATUS": "1",
    "SUBSCRIBER_LOGIN": "null",
    "BILLING_RESULT": "OK",
    "BILLING_SOURCE": "live",
}


async def askozianum(request: AgiRequest, session: AgiSession) -> None:
    await set_variables(session, CONSTANT)


async def serve(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with FastAgiServer(AgiSettings(host=host, port=port), {"askozianum": askozianum}):
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
