"""The asyncio FastAGI server: accept, check, read the environment, route, run, close.

Each connection is one task and everything it does has a deadline, so a client that
stalls, sends garbage or disappears costs one idle task until its timeout and never
blocks the event loop or another session. Nothing a connection does can raise out of
its task.

A connection becomes a session (counted against `agi.max_sessions`) only once its
environment block is complete. Until then it is pending: pending connections have their
own bound, `agi.max_pending`, and when it is full the oldest of them is closed to make
room, so a flood of connections that never send a header can neither keep real calls out
nor refuse a newcomer. A pending connection holds at most `agi.max_header_bytes` (16 KiB;
Asterisk sends 1-2 KiB): past it, it is closed, so a flood of huge unfinished headers
costs at most max_pending × max_header_bytes. Connections dropped that way (and those
refused) are logged through `FloodLog`: the first of each kind in full, the rest as one
summary line per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

from agi.connection import AgiConnection
from agi.errors import AgiError, AgiHangup, AgiHeaderError, AgiHeaderTooLong
from agi.flood_log import Dropped, FloodLog
from agi.request import AgiRequest, build_request, read_environment
from agi.route_stats import RouteStats
from agi.session import AgiSession
from agi.settings import AgiSettings, address_allowed

log = logging.getLogger(__name__)

Handler = Callable[[AgiRequest, AgiSession], Awaitable[None]]

_CLOSE_GRACE = 1.0
"""Seconds to wait for a closed connection's last bytes to leave before aborting it."""

_CANCEL_GRACE = 2.0
"""Seconds cancelled sessions get to clean up on stop before they are abandoned."""

_FILES_RESERVE = 256
"""Open files the process needs besides FastAGI's sockets (database, logs, AMI, HTTP)."""

REPLY_LINE_LIMIT = 65536
"""Longest reply line read from Asterisk once the session runs (bytes). `GET FULL VARIABLE`
of an SMS body answers one long line; the header's bound (agi.max_header_bytes) is kept
for connections still sending their environment."""


@dataclass(slots=True)
class AgiServerStats:
    """Counters since start, for logs, health pages and tests."""

    accepted: int = 0
    """Connections from allowed addresses (each then pending until its header is in)."""
    rejected: int = 0
    """Refused: not in agi.allow, or agi.max_sessions running when the header was in."""
    evicted: int = 0
    """Pending connections closed to make room for a newer one (agi.max_pending)."""
    header_failures: int = 0
    """Connections closed before their environment block was complete (every reason)."""
    oversized: int = 0
    """Of those, blocks longer than agi.max_header_bytes."""
    unknown_routes: int = 0
    completed: int = 0
    hangups: int = 0
    agi_errors: int = 0
    handler_errors: int = 0
    timeouts: int = 0
    cancelled: int = 0
    routes: dict[str, RouteStats] = field(default_factory=dict)
    """Per route: sessions by result and their latency (made at start, one per route)."""


def normalise_route(name: str) -> str:
    return name.strip("/")


async def _close(connection: AgiConnection) -> None:
    connection.close()
    if connection.write_buffer_size() == 0:
        return  # nothing left to send: the transport finishes closing on its own
    try:
        async with asyncio.timeout(_CLOSE_GRACE):
            await connection.wait_closed()
    except (TimeoutError, OSError):
        connection.abort()


def _peer(connection: AgiConnection) -> tuple[str, int]:
    peer = connection.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return str(peer[0]), int(peer[1])
    return str(peer), 0


class FastAgiServer:
    """Serves `handlers` (route path → async handler) to Asterisk's `AGI(agi://…)` calls.

    Routes are matched on the path of `agi_network_script`, without leading or trailing
    slashes: register `"askozianum"` for `agi://pbxbridge/askozianum?mode=test`.
    """

    def __init__(
        self,
        settings: AgiSettings,
        handlers: Mapping[str, Handler],
        *,
        summary_interval: float = 10.0,
    ) -> None:
        self._settings = settings
        self._networks = settings.networks()
        # Asterisk connects from a handful of addresses; parsing each one costs ~10 µs.
        self._allowed: dict[str, bool] = {}
        self._handlers: dict[str, Handler] = {}
        for name, handler in handlers.items():
            route = normalise_route(name)
            if not route:
                raise ValueError(f"empty AGI route name {name!r}")
            if route in self._handlers:
                raise ValueError(f"AGI route {route!r} registered twice")
            self._handlers[route] = handler
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        # Still sending the environment, oldest first (dicts keep insertion order).
        self._pending: dict[asyncio.Task[None], AgiConnection] = {}
        self._evicted: set[asyncio.Task[None]] = set()
        self._sessions: set[asyncio.Task[None]] = set()
        self._in_handler: set[asyncio.Task[None]] = set()
        self._flood = FloodLog(log, summary_interval)
        self.stats = AgiServerStats(routes={route: RouteStats() for route in self._handlers})

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("FastAGI server already started")
        if not self._networks:
            log.warning("agi.allow is empty: every FastAGI connection will be refused")
        self._check_open_files()
        loop = asyncio.get_running_loop()

        limit = self._settings.max_header_bytes

        def protocol() -> AgiConnection:
            return AgiConnection(self._opened, limit, loop)

        self._server = await loop.create_server(
            protocol,
            self._settings.host,
            self._settings.port,
            # A burst of calls must not overflow the kernel's queue: Asterisk would retry
            # the connect only after a second. (The kernel caps it at net.core.somaxconn.)
            backlog=min(self._settings.max_sessions + self._settings.max_pending, 65535),
        )
        log.info(
            "FastAGI server listening on %s (routes: %s)",
            ", ".join(str(s.getsockname()) for s in self.sockets),
            ", ".join(sorted(self._handlers)) or "none",
        )

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._server.sockets) if self._server is not None else ()

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        for sock in self.sockets:
            return int(sock.getsockname()[1])
        raise RuntimeError("FastAGI server is not listening")

    @property
    def is_serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    @property
    def active_sessions(self) -> int:
        """Sessions: connections whose environment block is complete."""
        return len(self._sessions)

    @property
    def open_connections(self) -> int:
        """Connections the server holds a task for: pending, in a session, or closing."""
        return len(self._connections)

    @property
    def pending_connections(self) -> int:
        """Connections still sending their environment block."""
        return len(self._pending)

    def _check_open_files(self) -> None:
        """Warn once when a full house of connections would not fit the open-files limit
        (the service raises the soft limit at start; see `pbxbridge.limits`)."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = self._settings.max_sessions + self._settings.max_pending + _FILES_RESERVE
        if soft != resource.RLIM_INFINITY and soft < need:
            log.warning(
                "agi.max_sessions + agi.max_pending need about %s open files, the limit is "
                "%s: a flood may run out of them (raise LimitNOFILE or lower agi.max_pending)",
                f"{need:,}",
                f"{soft:,}",
            )

    async def stop(self) -> None:
        """Stop accepting; let running routes finish up to `drain_timeout`, then close them.

        Connections still sending their environment block are closed at once: they have
        not started anything that could be left half done.
        """
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        current = asyncio.current_task()
        if self._pending:
            log.info(
                "closing %s FastAGI connections still sending their environment",
                f"{len(self._pending):,}",
            )
        for task in self._connections - self._in_handler:
            task.cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.drain_timeout
        while running := self._in_handler - {current}:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.wait(running, timeout=remaining)
        if running:
            log.warning("closing %d FastAGI sessions still running at shutdown", len(running))
            for task in running:
                task.cancel()
        if leftover := self._connections - {current}:
            _, pending = await asyncio.wait(leftover, timeout=_CANCEL_GRACE)
            if pending:
                log.error("%d FastAGI sessions ignored cancellation", len(pending))
        self._flood.flush()
        # Python 3.12+ waits here for every connection, so a session that ignored its
        # cancellation must not hold shutdown forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_CANCEL_GRACE):
                await server.wait_closed()
        log.info("FastAGI server stopped")

    async def __aenter__(self) -> FastAgiServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _opened(self, connection: AgiConnection) -> None:
        """A connection was accepted (called from its protocol's connection_made): a peer
        outside agi.allow is closed at once; any other gets a task, pending until its
        environment is in."""
        host, port = _peer(connection)
        allowed = self._allowed.get(host)
        if allowed is None:
            allowed = address_allowed(host, self._networks)
            if len(self._allowed) < 4096:
                self._allowed[host] = allowed
        if not allowed:
            self.stats.rejected += 1
            self._flood.note(
                Dropped.NOT_ALLOWED,
                "FastAGI connection from %s:%d refused: not in agi.allow",
                host,
                port,
            )
            connection.close()
            return
        if len(self._pending) >= self._settings.max_pending:
            self._evict_oldest()
        task = asyncio.get_running_loop().create_task(self._on_connection(connection, host, port))
        # A task cancelled before its first step (evicted in the same burst of accepts, or
        # at stop) never runs its coroutine's `finally`: this forgets it all the same.
        task.add_done_callback(self._forget)
        self._connections.add(task)
        self._pending[task] = connection
        self.stats.accepted += 1

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._connections.discard(task)
        self._pending.pop(task, None)
        self._evicted.discard(task)
        self._sessions.discard(task)
        self._in_handler.discard(task)

    async def _on_connection(self, connection: AgiConnection, host: str, port: int) -> None:
        task = asyncio.current_task()
        assert task is not None
        try:
            await self._serve(connection, host, port, task)
        finally:
            # The session is over before its last bytes are out: it counts no more.
            self._forget(task)
            await _close(connection)

    def _evict_oldest(self) -> None:
        """Close the connection that has been sending its environment longest."""
        task, connection = next(iter(self._pending.items()))
        del self._pending[task]
        self._evicted.add(task)
        self.stats.evicted += 1
        host, port = _peer(connection)
        self._flood.note(
            Dropped.EVICTED,
            "FastAGI: %s connections still sending their environment (agi.max_pending); "
            "closed the oldest, from %s:%d",
            f"{self._settings.max_pending:,}",
            host,
            port,
        )
        connection.abort()  # its socket is free at once, not when the task runs
        task.cancel()

    async def _serve(
        self,
        connection: AgiConnection,
        host: str,
        port: int,
        task: asyncio.Task[None],
    ) -> None:
        where = f"{host}:{port}"
        deadline, session_due, in_header = self._deadline()
        timing: RouteStats | None = None  # set once a route runs: its result is counted
        result = "ok"
        started = 0.0
        try:
            async with deadline:
                request = await self._read_request(connection, host, port)
                in_header = False
                deadline.reschedule(session_due)
                self._pending.pop(task, None)
                if request is None:
                    return
                where = f"{request.uniqueid or '-'} ({host}:{port}, {request.script!r})"
                session = self._open_session(request, connection, task, where)
                if session is None:
                    return
                handler = self._handlers.get(request.script)
                if handler is None:
                    await self._unknown_route(request, session, where)
                    return
                self._in_handler.add(task)
                timing = self.stats.routes[request.script]
                started = time.monotonic()
                try:
                    await handler(request, session)
                finally:
                    session.release()
                self.stats.completed += 1
                log.debug("AGI %s: done", where)
        except TimeoutError:
            result = self._timed_out(where, (host, port), deadline.expired(), in_header=in_header)
        except AgiHangup as exc:
            result = "hangup"
            self.stats.hangups += 1
            log.info("AGI %s: caller gone: %s", where, exc)
        except AgiError as exc:
            result = "agi_error"
            self.stats.agi_errors += 1
            log.warning("AGI %s: %s: %s", where, type(exc).__name__, exc)
        except asyncio.CancelledError:
            # Only stop() and an eviction cancel these tasks, and both expect them to end:
            # the cancellation is counted here and not re-raised (nobody awaits the task).
            result = self._cancelled(task, where)
        except Exception:
            result = "handler_error"
            self.stats.handler_errors += 1
            log.exception("AGI %s: handler failed", where)
        finally:
            if timing is not None:
                timing.observe(result, time.monotonic() - started)

    def _deadline(self) -> tuple[asyncio.Timeout, float, bool]:
        """One timer for the header's deadline, then the session's (the caller reschedules
        it to `session_due` once the environment is in): one asyncio.Timeout instead of two
        nested saves ~5 µs a session. The flag says whether an expiry now is the header's."""
        opened = asyncio.get_running_loop().time()
        session_due = opened + self._settings.session_timeout
        header_due = opened + self._settings.header_timeout
        return (
            asyncio.timeout_at(min(header_due, session_due)),
            session_due,
            (header_due <= session_due),
        )

    def _open_session(
        self,
        request: AgiRequest,
        connection: AgiConnection,
        task: asyncio.Task[None],
        where: str,
    ) -> AgiSession | None:
        """The session for a request, or None when agi.max_sessions are running (counted
        and logged)."""
        if len(self._sessions) >= self._settings.max_sessions:
            self.stats.rejected += 1
            self._flood.note(
                Dropped.BUSY,
                "AGI %s refused: all %d sessions of agi.max_sessions are running",
                where,
                len(self._sessions),
            )
            return None
        self._sessions.add(task)
        return AgiSession(
            connection,
            connection,
            command_timeout=self._settings.command_timeout,
            max_command_bytes=self._settings.max_command_bytes,
            uniqueid=request.uniqueid,
        )

    def _timed_out(
        self, where: str, peer: tuple[str, int], expired: bool, *, in_header: bool
    ) -> str:
        """Called while a TimeoutError is handled: the connection's own deadline (`expired`)
        closed it, the header's while the environment was coming in (`in_header`), else
        the session's; or one inside the handler ran out and the handler did not catch it.
        Returns the route's result for its timing (none ran for a header)."""
        if expired and in_header:
            self._header_timed_out(*peer)
            return "timeout"
        if not expired:
            self.stats.handler_errors += 1
            log.exception("AGI %s: handler failed", where)
            return "handler_error"
        self.stats.timeouts += 1
        log.warning(
            "AGI %s: session exceeded agi.session_timeout (%g s), closed",
            where,
            self._settings.session_timeout,
        )
        return "timeout"

    def _cancelled(self, task: asyncio.Task[None], where: str) -> str:
        """A session task cancelled by stop() or by an eviction. Returns the route's result
        for its timing (an evicted task was still sending its environment: it never reached
        a route, so nothing times it)."""
        if task in self._evicted:
            return "cancelled"  # counted and logged by _evict_oldest
        self.stats.cancelled += 1
        if task in self._sessions:
            log.info("AGI %s: closed by shutdown", where)
        return "cancelled"

    async def _read_request(
        self, connection: AgiConnection, host: str, port: int
    ) -> AgiRequest | None:
        """The connection's environment block as a request, or None when it was dropped
        (counted and logged). Once it is in, the reader takes reply lines up to
        REPLY_LINE_LIMIT instead of agi.max_header_bytes."""
        try:  # under _serve's deadline, the header's until the environment is in
            env = await read_environment(connection, self._settings.max_header_bytes)
        except AgiHeaderTooLong as exc:
            self.stats.header_failures += 1
            self.stats.oversized += 1
            self._flood.note(
                Dropped.OVERSIZED,
                "FastAGI connection from %s:%d dropped: %s (agi.max_header_bytes)",
                host,
                port,
                exc,
            )
            return None
        except AgiHeaderError as exc:
            self.stats.header_failures += 1
            self._flood.note(
                Dropped.BAD_HEADER, "FastAGI connection from %s:%d dropped: %s", host, port, exc
            )
            return None
        request = build_request(env, host, port)
        connection.widen(REPLY_LINE_LIMIT)  # the environment is in: replies may be longer
        return request

    def _header_timed_out(self, host: str, port: int) -> None:
        self.stats.header_failures += 1
        self._flood.note(
            Dropped.HEADER_TIMEOUT,
            "FastAGI connection from %s:%d dropped: no complete environment within %g s",
            host,
            port,
            self._settings.header_timeout,
        )

    async def _unknown_route(self, request: AgiRequest, session: AgiSession, where: str) -> None:
        self.stats.unknown_routes += 1
        log.warning(
            "AGI %s: no route for agi_network_script %r", where, request.network_script[:200]
        )
        try:
            await session.verbose(f"pbxbridge: no AGI route {request.script[:100]!r}", 1)
        finally:
            session.release()
