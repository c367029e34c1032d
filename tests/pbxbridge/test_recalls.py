"""The root's glue: an answered callback closes the caller's missed call, reported by the
spooler the moment the dialplan says the customer answered (no Cdr events needed)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from billing_client.audit import AuditJournal
from billing_client.client import BillingClient
from billing_client.local import LocalBackend
from callfile_spooler.callbacks import CallbackService
from callfile_spooler.calls import CallDialer
from callfile_spooler.settings import CallbackSettings, SpoolSettings
from callfile_spooler.spooler import Spooler
from missed_calls import MissedCallSettings, MissedCallTracker
from pbxbridge import recalls
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.callfile_spooler.fake_asterisk import FakeAsterisk, user_event
from tests.conftest import Database
from tests.missed_calls.conftest import ABANDONED_QUEUE, MISSED_DIRECT, capture_messages


async def test_an_answered_callback_recalls_the_missed_call(
    database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    phones = PhoneNormaliser("UA")
    audit = AuditJournal(database.sessions, "local", clock)
    billing = BillingClient(LocalBackend(database.sessions, clock, audit), phones)
    async with MissedCallTracker(
        database.sessions, clock, billing, MissedCallSettings()
    ) as tracker:
        for message in capture_messages():  # +380501112233 abandons the queue
            await tracker.on_ami_event(message)
        await tracker.flush()

        for sub in ("outgoing", "outgoing_done", "tmp"):
            (tmp_path / sub).mkdir()
        spool = SpoolSettings(dir=tmp_path, fsync=False)
        callback = CallbackSettings(mode="operator_first")
        spooler = Spooler(
            database.sessions,
            clock,
            phones,
            spool,
            dialer=CallDialer(spool, phones, callback),
            on_answered=recalls.on_answered(tracker),
        )
        service = CallbackService(database.sessions, clock, phones, callback)
        first = await service.request("0501112233", source="test")
        clock.instant += timedelta(minutes=5)
        await spooler.tick()
        asterisk = FakeAsterisk(spool.dir)
        asterisk.step(clock.now())

        # an operator took it, the customer did not answer: still missed
        await spooler.on_ami_event(
            user_event(
                "CallFileFailed", Reason="3", Campaign="1", Attempt="1", Number="+380501112233"
            )
        )
        assert all(m.recalled_at is None for m in await tracker.list())

        # the retry: the customer answers (Dial's U() gosub sends CampaignAnswered)
        clock.instant += timedelta(seconds=spool.retry_delays.noanswer)
        asterisk.finish(clock.now())
        await spooler.tick()
        asterisk.step(clock.now())
        answered_at = clock.now()
        await spooler.on_ami_event(
            user_event("CampaignAnswered", Campaign="1", Attempt="2", Number="+380501112233")
        )

    async with MissedCallTracker(database.sessions, clock, billing, MissedCallSettings()) as reader:
        calls = {m.linkedid: m for m in await reader.list(answered_at.date())}
    assert first.campaign == "callback-1"
    assert calls[ABANDONED_QUEUE].recalled_by == "campaign-1-attempt-2"
    assert calls[ABANDONED_QUEUE].recalled_at == answered_at
    assert calls[MISSED_DIRECT].recalled_at is None
