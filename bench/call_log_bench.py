"""The call log's recording rate on SQLite: AMI events in, calls stored.

    .venv/bin/python bench/call_log_bench.py [--calls 3000]

A mix of calls shaped after the capture (tests/fixtures/asterisk): 40 % answered incoming
(three Cdr legs, as the capture's answered call), 30 % missed incoming (the Dial that
nobody answers, userfield `in`), 20 % outgoing, 10 % internal; each call a Newchannel,
its Cdr rows and a Hangup. They go through the real recorder (missed_calls'
MissedCallTracker) on a fresh migrated SQLite file with the embedded billing (no
subscribers: each outside number is looked up and not found). Measured: folding the
events in (`on_ami_event`, no I/O, what holds the AMI reader) and recording them (every
call decided, written in its own transaction, its subscriber looked up).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ami_listener.message import AmiMessage, parse_message
from billing_client.audit import AuditJournal
from billing_client.client import BillingClient
from billing_client.local.backend import LocalBackend
from call_log.store import CallLogStore
from missed_calls import MissedCallSettings, MissedCallTracker
from pbxbridge import migrations
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from storage import DatabaseSettings, create_engine, session_factory

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def message(name: str, **headers: str) -> AmiMessage:
    return parse_message(
        "\r\n".join([f"Event: {name}", *(f"{k}: {v}" for k, v in headers.items())])
    )


def channel(name: str, uid: str, caller: str, context: str) -> AmiMessage:
    return message(
        name, Channel=f"PJSIP/x-{uid}", CallerIDNum=caller, Context=context, Exten="s",
        Uniqueid=uid, Linkedid=uid,
    )  # fmt: skip


def cdr(
    uid: str, src: str, dst: str, disposition: str, dstchannel: str, userfield: str = ""
) -> AmiMessage:
    answered = disposition == "ANSWERED"
    return message(
        "Cdr", AccountCode="", Source=src, Destination=dst, DestinationContext="from-trunk",
        CallerID=f'"" <{src}>', Channel=f"PJSIP/x-{uid}", DestinationChannel=dstchannel,
        LastApplication="Dial", LastData="", StartTime="2026-11-22 12:00:00",
        AnswerTime="2026-11-22 12:00:05" if answered else "", EndTime="2026-11-22 12:01:05",
        Duration="65", BillableSeconds="60" if answered else "0", Disposition=disposition,
        AMAFlags="DOCUMENTATION", UniqueID=uid, UserField=userfield,
    )  # fmt: skip


def call(n: int) -> list[AmiMessage]:
    uid = f"1795500000.{n}"
    number = f"067{n:07d}"
    kind = n % 10
    if kind < 4:  # answered incoming: three legs
        rows = [
            cdr(uid, number, "100", "ANSWERED", f"PJSIP/10{n % 9}-{n:08x}", "in"),
            cdr(uid, number, "s", "ANSWERED", ""),
            cdr(uid, number, "100", "ANSWERED", ""),
        ]
        head = channel("Newchannel", uid, number, "from-trunk")
    elif kind < 7:  # missed incoming
        rows = [cdr(uid, number, "100", "NO ANSWER", "PJSIP/101-1", "in")]
        head = channel("Newchannel", uid, number, "from-trunk")
    elif kind < 9:  # outgoing
        rows = [cdr(uid, "101", number, "ANSWERED", "PJSIP/trunk-1")]
        head = channel("Newchannel", uid, "101", "from-internal")
    else:  # internal
        rows = [cdr(uid, "101", "102", "ANSWERED", "PJSIP/102-1")]
        head = channel("Newchannel", uid, "101", "from-internal")
    return [head, *rows, channel("Hangup", uid, "", "")]


async def run(calls: int) -> None:
    events = [e for n in range(calls) for e in call(n)]
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{Path(folder) / 'b.db'}"))
        await migrations.upgrade(engine)
        sessions = session_factory(engine)
        clock = FixedClock(NOW)
        billing = BillingClient(
            LocalBackend(sessions, clock, AuditJournal(sessions, "local", clock)),
            PhoneNormaliser("UA"),
        )
        settings = MissedCallSettings(flush_delay=60, max_open_calls=calls + 10)
        async with MissedCallTracker(sessions, clock, billing, settings) as tracker:
            started = time.perf_counter()
            for event in events:
                await tracker.on_ami_event(event)
            folded = time.perf_counter() - started
            await tracker.flush()
            total = time.perf_counter() - started
        stored = len(await CallLogStore(sessions, clock).days(clock.today(), clock.today()))
        await engine.dispose()
    cdr_events = sum(1 for e in events if e.name == "Cdr")
    print(f"{calls} calls, {len(events)} AMI events ({cdr_events} Cdr), {stored} calls stored")
    print(f"fold (on_ami_event, no I/O): {len(events) / folded:,.0f} events/s")
    print(
        f"recorded end to end: {total:.2f} s, {calls / total:,.0f} calls/s, "
        f"{cdr_events / total:,.0f} Cdr events/s, {len(events) / total:,.0f} AMI events/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    asyncio.run(run(parser.parse_args().calls))


if __name__ == "__main__":
    main()
