"""The live feed: what happens, pushed to every open staff page over a WebSocket.

    service parts ──publish(kind, data)──> LiveFeed ──bounded queue per page──> WebSocket

`LiveFeed.publish` is a plain call that never waits: the event is encoded once and put on
every subscribed page's queue. A page that does not keep up (a slow phone, a tab in the
background) never slows the service or the other pages: when its queue is full the events
waiting there are dropped (counted) and it gets one `resync` message instead, on which the
page reloads to show the state as it is now.

The parts never import this module: the root (pbxbridge/app.py) hands them small callables
that end in `publish` (pbxbridge/feed_events.py turns their objects into events).

Each message is a JSON object `{"kind": …, "seq": n, "at": ISO-8601 UTC, "data": {…}}`:

    hello      the page is subscribed (data.user)
    call       an incoming call rings (screen pop): id, number, channel
    card       the caller's subscriber card: id, found, login, name, status, balance,
               days_left, payments […]
    hangup     the call's first channel hung up: id
    missed     a missed call recorded: number, login, name, queue, waited_seconds
    sms        an SMS came in: sender, login, name, text
    campaign   a campaign's progress: id, name, state, numbers, done, by_status
    alert      an alert for staff: text
    resync     events were dropped for this page: reload its state

`serve_feed(request, feed, authenticate)` answers the WebSocket (the admin pages serve it
at /admin/feed); `authenticate(request)` names the logged-in staff user, or None: 403.
The script web/static/feed.js connects to it from every admin page and reconnects by
itself with backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from aiohttp import WSCloseCode, WSMsgType, web

log = logging.getLogger("pbxbridge.web.feed")

QUEUE_SIZE: Final = 200
"""Events waiting for one page; past this its queue is dropped and it is told to resync."""
HEARTBEAT: Final = 25.0
"""Seconds between WebSocket pings: a page gone without a close is noticed."""
MAX_CLIENTS: Final = 500
"""Pages subscribed at once; one more is refused (503) and its script tries again later."""
SEND_TIMEOUT: Final = 10.0
"""Seconds one message may take to reach a page before the page is given up (it reconnects)."""
RESYNC: Final = "resync"
GOING_AWAY: Final = ""
"""Put on a page's queue when the service stops: its socket is closed (1001), and its
script reconnects to the next service."""

Authenticate = Callable[[web.Request], Awaitable[str | None]]
"""The staff user a request comes from, or None (not logged in)."""
Now = Callable[[], datetime]


@dataclass(eq=False)
class Subscriber:
    """One open page: its bounded queue of encoded messages."""

    user: str
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: int = 0

    def going_away(self) -> None:
        """Nothing more for this page: the service stops."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(GOING_AWAY)


@dataclass
class FeedStats:
    """Counters for /metrics (pbxbridge/metrics.py FeedCollector)."""

    published: int = 0
    delivered: int = 0
    """Messages put on a page's queue."""
    dropped: int = 0
    """Messages dropped from the queues of pages that did not keep up."""
    resyncs: int = 0


class LiveFeed:
    """The hub every open page subscribes to; `publish` never blocks."""

    def __init__(
        self, now: Now, *, queue_size: int = QUEUE_SIZE, max_clients: int = MAX_CLIENTS
    ) -> None:
        self._now = now
        self._queue_size = queue_size
        self._max_clients = max_clients
        self._subscribers: set[Subscriber] = set()
        self._seq = 0
        self.stats = FeedStats()

    @property
    def clients(self) -> int:
        return len(self._subscribers)

    @property
    def full(self) -> bool:
        return len(self._subscribers) >= self._max_clients

    def encode(self, kind: str, data: Mapping[str, Any]) -> str:
        self._seq += 1
        message = {"kind": kind, "seq": self._seq, "at": self._now().isoformat(), "data": data}
        return json.dumps(message, ensure_ascii=False, default=str, separators=(",", ":"))

    def publish(self, kind: str, data: Mapping[str, Any]) -> None:
        """Send an event to every open page; never waits, never raises for a slow page."""
        self.stats.published += 1
        if not self._subscribers:
            return
        text = self.encode(kind, data)
        for subscriber in self._subscribers:
            self._offer(subscriber, text)

    def _offer(self, subscriber: Subscriber, text: str) -> None:
        try:
            subscriber.queue.put_nowait(text)
        except asyncio.QueueFull:
            lost = subscriber.queue.qsize() + 1
            while not subscriber.queue.empty():
                subscriber.queue.get_nowait()
            subscriber.dropped += lost
            self.stats.dropped += lost
            self.stats.resyncs += 1
            subscriber.queue.put_nowait(self.encode(RESYNC, {"dropped": lost}))
            log.info("live feed: %s's page fell behind, %d dropped", subscriber.user, lost)
        else:
            self.stats.delivered += 1

    def close_all(self) -> None:
        """Let every page go (the service stops): their sockets close at once instead of
        holding the HTTP server's shutdown for its whole timeout."""
        for subscriber in self._subscribers:
            subscriber.going_away()

    @contextmanager
    def subscribe(self, user: str) -> Iterator[Subscriber]:
        subscriber = Subscriber(user, asyncio.Queue(self._queue_size))
        self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)


FEED = web.AppKey("live_feed", LiveFeed)


async def on_shutdown(app: web.Application) -> None:
    """aiohttp's on_shutdown hook (web/app.py installs it with the feed)."""
    app[FEED].close_all()


def same_origin(request: web.Request) -> bool:
    """A browser's WebSocket from a page of this host (Origin), not another site's page
    riding on the staff member's cookie. Clients that send no Origin are not browsers."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    host = origin.partition("://")[2]
    return bool(host) and host == request.host


def feed_socket(feed: LiveFeed, authenticate: Authenticate) -> Callable[..., Any]:
    """A handler serving `feed` (see `serve_feed`) to whom `authenticate` names."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return await serve_feed(request, feed, authenticate)

    return handler


async def serve_feed(
    request: web.Request, feed: LiveFeed, authenticate: Authenticate
) -> web.StreamResponse:
    """The WebSocket: 403 for anyone not logged in or another site's page, 503 when too
    many pages are open, else the page's events until it goes."""
    user = await authenticate(request)
    if user is None or not same_origin(request):
        raise web.HTTPForbidden(text="the live feed is for logged-in staff pages")
    if feed.full:
        raise web.HTTPServiceUnavailable(
            text="too many live pages open", headers={"Retry-After": "30"}
        )
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=1024)
    await socket.prepare(request)
    with feed.subscribe(user) as subscriber:
        subscriber.queue.put_nowait(feed.encode("hello", {"user": user}))
        sender = asyncio.create_task(_send(socket, subscriber), name="live-feed-send")
        try:
            await _drain_incoming(socket)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
    return socket


async def _send(socket: web.WebSocketResponse, subscriber: Subscriber) -> None:
    while not socket.closed:
        text = await subscriber.queue.get()
        if text == GOING_AWAY:
            await socket.close(code=WSCloseCode.GOING_AWAY, message=b"service stopping")
            return
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await socket.send_str(text)
        except (TimeoutError, ConnectionError) as exc:
            log.info("live feed: a page of %s is gone (%r)", subscriber.user, exc)
            await socket.close()
            return


async def _drain_incoming(socket: web.WebSocketResponse) -> None:
    """Pages send nothing; reading keeps pings and the close handshake going."""
    async for message in socket:
        if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
            break
