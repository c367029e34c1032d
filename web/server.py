"""WebServer: the application on a TCP socket, with `start()` and `stop()`."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from web.settings import HttpSettings

log = logging.getLogger("pbxbridge.web")

STOP_TIMEOUT = 5.0
"""Seconds requests in flight get to finish when the server stops."""


class WebServer:
    """Serves `app` on http.host:http.port. Requests are logged by the application's own
    middleware (with the resolved client address), so aiohttp's access log is off."""

    def __init__(
        self, settings: HttpSettings, app: web.Application, *, stop_timeout: float = STOP_TIMEOUT
    ) -> None:
        self._settings = settings
        self._app = app
        self._stop_timeout = stop_timeout
        self._runner: web.AppRunner | None = None

    @property
    def app(self) -> web.Application:
        return self._app

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("HTTP server already started")
        runner = web.AppRunner(
            self._app, access_log=None, handle_signals=False, shutdown_timeout=self._stop_timeout
        )
        await runner.setup()
        site = web.TCPSite(runner, self._settings.host, self._settings.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("HTTP server listening on %s", ", ".join(self.urls))

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """(host, port) of every socket listening."""
        if self._runner is None:
            return []
        return [(str(a[0]), int(a[1])) for a in self._runner.addresses]

    @property
    def urls(self) -> list[str]:
        return [f"http://[{h}]:{p}" if ":" in h else f"http://{h}:{p}" for h, p in self.addresses]

    @property
    def port(self) -> int:
        """The port actually bound (the real one when http.port is 0)."""
        for _, port in self.addresses:
            return port
        raise RuntimeError("HTTP server is not listening")

    async def stop(self) -> None:
        """Stop accepting; give requests in flight `stop_timeout` seconds, then close."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        try:
            async with asyncio.timeout(self._stop_timeout + 2):
                await runner.cleanup()
        except TimeoutError:
            log.warning(
                "HTTP server: requests still running after %g s, abandoned", self._stop_timeout
            )
        log.info("HTTP server stopped")
