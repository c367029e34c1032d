"""A process that stores inbound SMS and queues outbound ones in a loop, for `kill -9`.

`python -m tests.sms.crash_worker DATABASE_URL TRANSMISSIONS_LOG RUN NOW` prints one line per
acknowledgement, only after the call that stored it returned (so after its commit):
`stored <id> <text>` and `queued <id>`. Its outbox "sends" through a transport that appends
`<id> <attempt>` to TRANSMISSIONS_LOG (flushed and fsynced) before answering, so the test
can count transmissions across kills. NOW (ISO 8601) is the time its clock stands at.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime

from billing_client.audit import AuditJournal
from billing_client.client import BillingClient
from billing_client.local import LocalBackend
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from sms.inbox import Inbox
from sms.outbox import Outbox
from sms.settings import SmsSettings
from sms.transports import SendOutcome
from sms.types import InboundSms, OutboxMessage
from storage import DatabaseSettings, create_engine, session_factory


class LoggingTransport:
    def __init__(self, path: str) -> None:
        self._path = path

    async def send(self, message: OutboxMessage) -> SendOutcome:
        with open(self._path, "a", encoding="utf-8") as log:  # noqa: ASYNC230 - a test tool
            log.write(f"{message.id} {message.attempts}\n")
            log.flush()
            os.fsync(log.fileno())
        await asyncio.sleep(0.002)
        return SendOutcome("accepted", "logged")


def text_for(run: int, i: int) -> str:
    return f"run {run} message {i}: Привіт\nрядок"


async def main(url: str, transmissions: str, run: int, now: datetime) -> None:
    engine = create_engine(DatabaseSettings(url=url))
    sessions = session_factory(engine)
    clock = FixedClock(now)
    phones = PhoneNormaliser()
    billing = BillingClient(
        LocalBackend(sessions, clock, AuditJournal(sessions, "local", clock)), phones
    )
    settings = SmsSettings(poll_interval=0.01, dedupe_window=0)
    outbox = Outbox(sessions, clock, LoggingTransport(transmissions), settings, phones=phones)
    inbox = Inbox(sessions, clock, billing, settings, outbox=outbox)
    await outbox.start()
    await inbox.start()
    print("ready", flush=True)
    i = 0
    while True:
        stored = await inbox.receive(
            InboundSms("dongle0", f"+3805011{run:02d}{i % 1000:03d}", text_for(run, i), "base64")
        )
        assert stored is not None
        print(f"stored {stored.id} {run} {i}", flush=True)
        queued = await outbox.queue("0501110001", f"reply {run} {i}", actor="crash-test")
        print(f"queued {queued}", flush=True)
        i += 1


if __name__ == "__main__":
    asyncio.run(
        main(sys.argv[1], sys.argv[2], int(sys.argv[3]), datetime.fromisoformat(sys.argv[4]))
    )
