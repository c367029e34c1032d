"""The outbox delivered to a real receiver: signed, in order per kind, retried, given up."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from primitives.clock import FixedClock
from tests.conftest import Database
from tests.webhooks.conftest import Alerts, MakeWebhooks, hook, settle
from tests.webhooks.receiver import Receiver
from webhooks.errors import UnknownEvent
from webhooks.events import CALL_MISSED, SMS_RECEIVED
from webhooks.models import DELIVERED, GIVEN_UP, PENDING, OutboxRow


async def rows(database: Database) -> list[OutboxRow]:
    async with database.sessions() as session:
        return list(await session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


async def test_a_delivery_is_signed_and_carries_the_event(
    receiver: Receiver, make_webhooks: MakeWebhooks, clock: FixedClock, database: Database
) -> None:
    webhooks = make_webhooks(hook(receiver.url))
    queued = await webhooks.emit(
        SMS_RECEIVED, {"sender": "+380501112233", "text": "Баланс?"}, occurred_at=clock.now()
    )
    assert queued == 1
    await settle(webhooks, clock)

    [got] = receiver.received
    assert got.verified
    assert got.status == 200
    assert got.event == SMS_RECEIVED
    assert got.timestamp == int(clock.now().timestamp())
    assert got.body == {
        "event": "sms.received",
        "delivery_id": got.delivery_id,
        "occurred_at": "2026-12-05T19:00:00Z",
        "webhook": "billing",
        "payload": {"sender": "+380501112233", "text": "Баланс?"},
    }
    assert "Баланс?" in got.raw.decode()  # UTF-8 as such, not \u escapes
    [row] = await rows(database)
    assert (row.state, row.attempts, row.last_status) == (DELIVERED, 1, 200)
    assert row.delivery_id == got.delivery_id
    assert webhooks.stats[("billing", "delivered")] == 1


async def test_a_kind_no_webhook_wants_queues_nothing_and_an_unknown_kind_is_refused(
    receiver: Receiver, make_webhooks: MakeWebhooks, database: Database
) -> None:
    webhooks = make_webhooks(hook(receiver.url, events=[CALL_MISSED]))
    assert await webhooks.emit(SMS_RECEIVED, {"text": "x"}) == 0
    with pytest.raises(UnknownEvent, match=r"sms\.recieved"):
        await webhooks.emit("sms.recieved", {})
    assert await rows(database) == []


async def test_each_kind_goes_in_order_and_waits_for_its_head(
    receiver: Receiver, make_webhooks: MakeWebhooks, clock: FixedClock
) -> None:
    """The first missed call fails once: the next two wait for it; the SMS (another
    queue) does not."""
    webhooks = make_webhooks(hook(receiver.url))
    for n in (1, 2, 3):
        await webhooks.emit(CALL_MISSED, {"n": n})
    await webhooks.emit(SMS_RECEIVED, {"n": 1})
    receiver.answers_for = {CALL_MISSED: [500]}  # call.missed 1's first try

    wait = await webhooks.deliver_due()
    assert wait == 0
    # The two queues go at once (either may arrive first); call.missed 2 and 3 wait.
    assert sorted((r.event, r.body["payload"]["n"], r.status) for r in receiver.received) == [
        (CALL_MISSED, 1, 500),
        (SMS_RECEIVED, 1, 200),
    ]
    assert await webhooks.deliver_due() == 10.0  # the first retry: retry_initial
    waits = await settle(webhooks, clock)
    assert waits[0] == 10.0
    missed = [
        (r.body["payload"]["n"], r.status) for r in receiver.received if r.event == CALL_MISSED
    ]
    assert missed == [(1, 500), (1, 200), (2, 200), (3, 200)]
    first = [r.delivery_id for r in receiver.received if r.event == CALL_MISSED][:2]
    assert first[0] == first[1]  # the retry carries the same delivery id
    assert webhooks.stats[("billing", "retried")] == 1


async def test_500_timeouts_and_refused_connections_are_retried_with_backoff_then_given_up(
    receiver: Receiver,
    make_webhooks: MakeWebhooks,
    clock: FixedClock,
    database: Database,
    alerts: Alerts,
) -> None:
    webhooks = make_webhooks(hook(receiver.url, timeout=0.2), max_age=3600)
    await webhooks.emit(CALL_MISSED, {"n": 1})
    receiver.answers = [503, 0.5, 502]  # 0.5 s: longer than the 0.2 s timeout
    await settle(webhooks, clock)
    assert [r.status for r in receiver.received] == [503, 0, 502, 200]
    [row] = await rows(database)
    assert (row.state, row.attempts) == (DELIVERED, 4)
    assert webhooks.stats[("billing", "retried")] == 3

    # nobody listens at all: connection refused until max_age, then given up, told once
    gone = make_webhooks(hook("http://127.0.0.1:9/nothing", name="gone"), max_age=3600)
    await gone.emit(CALL_MISSED, {"n": 2})
    await gone.emit(CALL_MISSED, {"n": 3})
    waits = await settle(gone, clock, within=60)
    retries = [w for w in waits if w]
    assert retries[:4] == [10.0, 20.0, 40.0, 80.0]  # doubling from retry_initial
    assert max(retries) <= 600.0  # … up to retry_max
    given_up = [r for r in await rows(database) if r.webhook == "gone"]
    assert [r.state for r in given_up] == [GIVEN_UP, GIVEN_UP]
    assert "still failing after 1.0 h" in given_up[0].last_error
    assert "ClientConnectorError" in given_up[0].last_error or "Connect" in given_up[0].last_error
    told = [a for a in alerts.told if "gone" in a]
    assert len(told) == 1, told  # one alert per streak, not per row
    assert gone.stats[("gone", "given_up")] == 2


async def test_a_4xx_is_given_up_at_once_with_its_reason_and_told_once_per_streak(
    receiver: Receiver,
    make_webhooks: MakeWebhooks,
    clock: FixedClock,
    database: Database,
    alerts: Alerts,
) -> None:
    webhooks = make_webhooks(hook(receiver.url))
    for n in range(3):
        await webhooks.emit(CALL_MISSED, {"n": n})
    receiver.answers = [410, 410, 200]
    await settle(webhooks, clock)
    states = [(r.state, r.attempts, r.last_status) for r in await rows(database)]
    assert states == [(GIVEN_UP, 1, 410), (GIVEN_UP, 1, 410), (DELIVERED, 1, 200)]
    assert (await rows(database))[0].last_error == "refused: HTTP 410 Gone: nope: bad request"
    assert len(alerts.told) == 1
    assert "HTTP 410 Gone" in alerts.told[0]

    # the streak ended with the delivery: the next refusal is told again
    receiver.answers = [404]
    await webhooks.emit(CALL_MISSED, {"n": 4})
    await settle(webhooks, clock)
    assert len(alerts.told) == 2


async def test_408_and_429_are_retried_not_given_up(
    receiver: Receiver, make_webhooks: MakeWebhooks, clock: FixedClock, database: Database
) -> None:
    webhooks = make_webhooks(hook(receiver.url))
    await webhooks.emit(CALL_MISSED, {"n": 1})
    receiver.answers = [408, 429]
    await settle(webhooks, clock)
    [row] = await rows(database)
    assert (row.state, row.attempts) == (DELIVERED, 3)


async def test_a_wrong_secret_is_refused_by_the_receiver(
    receiver: Receiver, make_webhooks: MakeWebhooks, clock: FixedClock, database: Database
) -> None:
    webhooks = make_webhooks(hook(receiver.url, secret="not-the-billing-secret!"))
    await webhooks.emit(CALL_MISSED, {"n": 1})
    await settle(webhooks, clock)
    [got] = receiver.received
    assert not got.verified
    assert got.status == 401
    [row] = await rows(database)
    assert row.state == GIVEN_UP


async def test_basic_auth_in_the_url_is_sent_and_never_shown(
    receiver: Receiver, make_webhooks: MakeWebhooks, clock: FixedClock
) -> None:
    url = receiver.url.replace("http://", "http://pbx:pa55word@") + "?token=abc"
    settings = hook(url)
    assert settings.shown_url == receiver.url
    assert "pa55word" in settings.secrets()
    webhooks = make_webhooks(settings)
    await webhooks.emit(CALL_MISSED, {"n": 1})
    await settle(webhooks, clock)
    assert receiver.received[0].authorization == "Basic cGJ4OnBhNTV3b3Jk"


async def test_the_outbox_is_capped_per_webhook_and_the_flood_logged_once(
    make_webhooks: MakeWebhooks,
    receiver: Receiver,
    database: Database,
    alerts: Alerts,
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = hook("http://127.0.0.1:9/down", name="down")
    up = hook(receiver.url, name="up")
    webhooks = make_webhooks(down, up, max_pending=10)
    for n in range(25):
        await webhooks.emit(CALL_MISSED, {"n": n})
        await webhooks.deliver_due()  # `up` takes each at once; `down` waits for its retry
    held = await rows(database)
    assert sum(r.webhook == "down" for r in held) == 10  # the first ten: kept, in order
    assert [r.state for r in held if r.webhook == "up"] == [DELIVERED] * 25  # not held up
    assert webhooks.stats[("down", "rejected")] == 15
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1, lines  # once per minute, not per event
    assert len([a for a in alerts.told if "down" in a]) == 1
    payloads = [json.loads(r.body)["payload"]["n"] for r in held if r.webhook == "down"]
    assert payloads == list(range(10))
    assert all(r.state == PENDING for r in held if r.webhook == "down")


async def test_finished_rows_are_pruned_after_keep_days(
    receiver: Receiver, make_webhooks: MakeWebhooks, clock: FixedClock, database: Database
) -> None:
    webhooks = make_webhooks(hook(receiver.url), keep_days=7)
    await webhooks.emit(CALL_MISSED, {"n": 1})
    await settle(webhooks, clock)
    assert len(await rows(database)) == 1
    clock.instant += timedelta(days=8)
    await make_webhooks(hook(receiver.url), keep_days=7).deliver_due()  # prunes at its first pass
    assert await rows(database) == []
