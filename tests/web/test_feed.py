"""The live feed's hub and its WebSocket: bounded queues, resync, who may listen."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import ClientSession, WSCloseCode, WSMsgType, web
from aiohttp.test_utils import TestClient

from tests.ami_listener.conftest import until
from web.feed import FEED, LiveFeed, feed_socket, on_shutdown
from web.server import WebServer
from web.settings import HttpSettings

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def hub(**kwargs: Any) -> LiveFeed:
    return LiveFeed(lambda: NOW, **kwargs)


def drain(queue: asyncio.Queue[str]) -> list[dict[str, Any]]:
    messages = []
    while not queue.empty():
        messages.append(json.loads(queue.get_nowait()))
    return messages


async def test_a_page_that_falls_behind_is_told_to_resync_and_the_others_get_everything() -> None:
    feed = hub(queue_size=3)
    with feed.subscribe("slow") as slow, feed.subscribe("fast") as fast:
        seen_fast: list[dict[str, Any]] = []
        for n in range(5):
            feed.publish("sms", {"n": n})
            seen_fast += drain(fast.queue)  # this page keeps up
        assert [m["data"]["n"] for m in seen_fast] == [0, 1, 2, 3, 4]
        kinds = [(m["kind"], m["data"]) for m in drain(slow.queue)]
        # 0, 1, 2 filled its queue; 3 overflowed it: all four dropped, one resync, then 4
        assert kinds == [("resync", {"dropped": 4}), ("sms", {"n": 4})]
        assert slow.dropped == 4
        assert fast.dropped == 0
        assert (feed.stats.published, feed.stats.dropped, feed.stats.resyncs) == (5, 4, 1)
        assert feed.clients == 2
    assert feed.clients == 0


async def test_messages_carry_their_kind_order_and_time() -> None:
    feed = hub()
    with feed.subscribe("anna") as page:
        feed.publish("alert", {"text": "Білінг не відповідає"})
        feed.publish("missed", {"number": "+380501112233"})
        first, second = drain(page.queue)
    assert first == {
        "kind": "alert",
        "seq": first["seq"],
        "at": "2026-11-23T09:00:00+00:00",
        "data": {"text": "Білінг не відповідає"},
    }
    assert second["seq"] == first["seq"] + 1


STAFF_COOKIE = "test_staff"


async def by_cookie(request: web.Request) -> str | None:
    """Stands in for the staff session check of the admin pages (web/admin)."""
    return request.cookies.get(STAFF_COOKIE)


def feed_app(feed: LiveFeed) -> web.Application:
    app = web.Application()
    app.router.add_get("/admin/feed", feed_socket(feed, by_cookie))
    return app


async def test_a_logged_in_page_hears_events_and_leaves_cleanly(
    aiohttp_client: Callable[..., Any],
) -> None:
    feed = hub()
    client: TestClient[web.Request, web.Application] = await aiohttp_client(feed_app(feed))
    socket = await client.ws_connect("/admin/feed", headers={"Cookie": f"{STAFF_COOKIE}=anna"})
    hello = json.loads(await socket.receive_str(timeout=5))
    assert (hello["kind"], hello["data"]) == ("hello", {"user": "anna"})
    assert feed.clients == 1
    feed.publish("call", {"id": "1795311485.13", "number": "+380501112233"})
    call = json.loads(await socket.receive_str(timeout=5))
    assert call["kind"] == "call"
    assert call["data"]["number"] == "+380501112233"
    await socket.close()
    await until(lambda: feed.clients == 0)


async def test_nobody_else_listens(aiohttp_client: Callable[..., Any]) -> None:
    feed = hub()
    client: TestClient[web.Request, web.Application] = await aiohttp_client(feed_app(feed))
    anonymous = await client.get("/admin/feed", headers={"Upgrade": "websocket"})
    assert anonymous.status == 403
    # another site's page riding on a staff member's cookie
    foreign = await client.get(
        "/admin/feed",
        headers={"Cookie": f"{STAFF_COOKIE}=anna", "Origin": "https://evil.example"},
    )
    assert foreign.status == 403
    assert feed.clients == 0


async def test_too_many_pages_are_refused_until_one_goes(
    aiohttp_client: Callable[..., Any],
) -> None:
    feed = hub(max_clients=1)
    client: TestClient[web.Request, web.Application] = await aiohttp_client(feed_app(feed))
    cookie = {"Cookie": f"{STAFF_COOKIE}=anna"}
    first = await client.ws_connect("/admin/feed", headers=cookie)
    await first.receive_str(timeout=5)
    refused = await client.get("/admin/feed", headers=cookie)
    assert refused.status == 503
    assert refused.headers["Retry-After"] == "30"
    await first.close()
    await until(lambda: feed.clients == 0)
    second = await client.ws_connect("/admin/feed", headers=cookie)
    message = await second.receive(timeout=5)
    assert message.type is WSMsgType.TEXT
    await second.close()


async def test_open_pages_do_not_hold_the_service_when_it_stops() -> None:
    feed = hub()
    app = feed_app(feed)
    app[FEED] = feed
    app.on_shutdown.append(on_shutdown)  # as web/app.py installs it
    server = WebServer(HttpSettings(port=0), app, stop_timeout=5.0)
    await server.start()
    async with ClientSession() as session:
        socket = await session.ws_connect(
            f"http://127.0.0.1:{server.port}/admin/feed",
            headers={"Cookie": f"{STAFF_COOKIE}=anna"},
        )
        await socket.receive_str(timeout=5)
        started = time.monotonic()
        await server.stop()
        assert time.monotonic() - started < 2.0  # not the 5 s the server gives requests
        closing = await socket.receive(timeout=5)
        assert (closing.type, closing.data) == (WSMsgType.CLOSE, WSCloseCode.GOING_AWAY)
