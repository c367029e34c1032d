"""WebServer: binds, says where once, reports the real port, stops within its deadline."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from aiohttp import web

from web.server import WebServer
from web.settings import HttpSettings


async def test_start_on_port_0_reports_the_real_port_and_stops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pbxbridge.web")
    release, arrived = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/slow", slow)
    app.router.add_get("/", _hello)
    server = WebServer(HttpSettings(port=0), app, stop_timeout=0.5)
    await server.start()
    try:
        port = server.port
        assert port > 0
        assert server.urls == [f"http://127.0.0.1:{port}"]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/") as answer,
        ):
            assert await answer.text() == "hello"
        with pytest.raises(RuntimeError, match="already started"):
            await server.start()
        async with aiohttp.ClientSession() as session:
            hanging = asyncio.ensure_future(session.get(f"http://127.0.0.1:{port}/slow"))
            await arrived.wait()
            loop = asyncio.get_running_loop()
            began = loop.time()
            await server.stop()
            assert loop.time() - began < 5  # the deadline, not the handler, ends it
            with pytest.raises(aiohttp.ClientError):
                await hanging
    finally:
        release.set()
        await server.stop()
    listening = [r.getMessage() for r in caplog.records if "listening" in r.getMessage()]
    assert listening == [f"HTTP server listening on http://127.0.0.1:{port}"]
    with pytest.raises(RuntimeError, match="not listening"):
        _ = server.port


async def _hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")
