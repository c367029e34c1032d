"""Job retention over the real targets of every component: old rows go in batches, rows
still in flight and kinds kept forever stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

import billing_client.retention
import call_log.retention
import callfile_spooler.retention
import missed_calls.retention
import sms.retention
from billing_client.models import ReminderSent
from call_log.models import CallRow
from callfile_spooler.campaigns import CampaignManager
from callfile_spooler.imports import parse_numbers
from callfile_spooler.models import Attempt
from missed_calls.models import RecallAttemptRow
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from sms.models import InboxPartRow, InboxRow, OutboxRow
from sms.outbox import Outbox
from sms.settings import SmsSettings
from storage.retention import PruneTarget, RetentionSettings, prune
from tests.conftest import Database

NOW = datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # 04:30 Kyiv, the spring DST day
OLD = NOW - timedelta(days=366)
RECENT = NOW - timedelta(days=364)


def targets() -> list[PruneTarget]:
    return [
        *sms.retention.prune_targets(),
        *callfile_spooler.retention.prune_targets(),
        *call_log.retention.prune_targets(),
        *missed_calls.retention.prune_targets(),
        *billing_client.retention.prune_targets(),
    ]


async def count(db: Database, model: Any) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def seed(db: Database) -> None:
    """Of each kind: 25 rows a year and a day old, 3 a day younger than a year."""
    clock = FixedClock(NOW)
    outbox = Outbox(db.sessions, clock, None, SmsSettings())
    for n in range(28):
        await outbox.queue(f"05011100{n:02}", f"message {n}", actor="test")
    campaigns = CampaignManager(db.sessions, clock, PhoneNormaliser())
    await campaigns.create("promo")
    numbers = "number\n" + "\n".join(f"05022200{n:02}" for n in range(28)) + "\n"
    await campaigns.import_numbers("promo", parse_numbers(numbers, PhoneNormaliser()))
    await campaigns.start("promo")
    async with db.sessions.begin() as session:
        for n in range(28):
            at = OLD if n < 25 else RECENT
            common = {"device": "dongle0", "sender": f"+3805011100{n:02}", "text_key": "k"}
            session.add(
                InboxRow(received_at=at, sender_raw="x", text="hi", source="dongle", **common)
            )
            session.add(
                InboxPartRow(
                    received_at=at, sender_raw="x", ref=n, total=2, seq=1, text="h", **common
                )
            )
            session.add(
                CallRow(
                    linkedid=f"1.{n}", caller="0501110000", callee="100",
                    number="+380501110000", number_valid=True, direction="incoming",
                    disposition="ANSWERED" if n % 2 else "NO ANSWER", started_at=at,
                    ended_at=at, duration=5, billsec=0, lookup="ok", missed=not n % 2,
                    waited_seconds=5,
                )
            )  # fmt: skip
            session.add(RecallAttemptRow(linkedid=f"2.{n}", number="+380501110000", at=at))
            session.add(ReminderSent(login=f"s{n}", period="2026-W12", sent_at=at, number="+1"))
        # outbox: 25 old (22 of them finished, 3 still queued) and 3 recent
        ids = list(await session.scalars(select(OutboxRow.id).order_by(OutboxRow.id)))
        await session.execute(
            update(OutboxRow).where(OutboxRow.id.in_(ids[:25])).values(created_at=OLD)
        )
        await session.execute(
            update(OutboxRow).where(OutboxRow.id.in_(ids[:22] + ids[25:])).values(state="sent")
        )
        # attempts: 25 old (23 finished, 2 in Asterisk's hands), 3 recent finished
        ids = list(await session.scalars(select(Attempt.id).order_by(Attempt.id)))
        await session.execute(
            update(Attempt).where(Attempt.id.in_(ids[:25])).values(not_before=OLD)
        )
        await session.execute(
            update(Attempt).where(Attempt.id.in_(ids[:23] + ids[25:])).values(status="answered")
        )
        await session.execute(
            update(Attempt).where(Attempt.id.in_(ids[23:25])).values(status="dialing")
        )


async def test_old_rows_go_in_batches_and_live_ones_stay(database: Database) -> None:
    await seed(database)
    result = await prune(database.sessions, FixedClock(NOW), targets(), RetentionSettings(batch=10))
    assert dict(result.counts) == {
        "sms_inbox": 25,
        "sms_inbox_parts": 25,
        "sms_outbox": 22,
        "spool_attempts": 23,
        "calls": 25,
        "missed_calls_recall_attempts": 25,
        "billing_reminders_sent": 25,
    }
    assert result.summary.startswith("pruned 170 row(s): sms_inbox 25, sms_inbox_parts 25")
    for model, left in [
        (InboxRow, 3), (InboxPartRow, 3), (OutboxRow, 6), (Attempt, 5),
        (CallRow, 3), (RecallAttemptRow, 3), (ReminderSent, 3),
    ]:  # fmt: skip
        assert await count(database, model) == left, model
    again = await prune(database.sessions, FixedClock(NOW), targets(), RetentionSettings())
    assert again.summary == "pruned 0 row(s): nothing"


async def test_zero_keeps_a_kind_forever(database: Database) -> None:
    await seed(database)
    settings = RetentionSettings(sms_days=0, campaign_attempts_days=0, call_log_days=730)
    result = await prune(database.sessions, FixedClock(NOW), targets(), settings)
    assert sum(result.counts.values()) == 0
    assert result.summary == "pruned 0 row(s): nothing; kept forever: campaign_attempts, sms"
    assert await count(database, InboxRow) == 28


async def test_an_unknown_kind_is_refused_before_anything_is_deleted(database: Database) -> None:
    await seed(database)
    bad = PruneTarget("audit", CallRow, CallRow.started_at, (CallRow.id,))
    with pytest.raises(ValueError, match="no retention setting for the kind 'audit'"):
        await prune(database.sessions, FixedClock(NOW), [*targets(), bad], RetentionSettings())
    assert await count(database, InboxRow) == 28
