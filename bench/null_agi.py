"""(c) The null responder: the least a FastAGI server can do for an askozianum call.

It reads the environment block, sends the same four SET VARIABLEs as askozianum (with
constant values), reading each reply, and closes. No routing, no parsing, no database:
the floor set by asyncio streams, the kernel and the load generator on this machine.

Run: python bench/null_agi.py --port 4575
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

COMMANDS = (
    b'SET VARIABLE SUBSCRIBER_STATUS "1"\n',
    b'SET VARIABLE SUBSCRIBER_LOGIN "null"\n',
    b'SET VARIABLE BILLING_RESULT "OK"\n',
    b'SET VARIABLE BILLING_SOURCE "live"\n',
)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readuntil(b"\n\n")
        for command in COMMANDS:
            writer.write(command)
            await reader.readuntil(b"\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def serve(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(handle, host, port, limit=65536)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
