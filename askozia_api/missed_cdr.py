"""A CdrSource over the missed-calls store: what pbxbridge keeps today, honestly.

pbxbridge stores missed calls only (missed_calls/); answered calls, outgoing calls and the
recalls that closed a miss are not kept as rows yet (the full call log, issue 11 part 4,
will replace this source). So each missed call becomes one row and nothing else:

    src = the caller's number as Asterisk gave it     dst, called, lastdata = the queue
    lastapp = Queue (when it waited in one)           disposition = NO ANSWER
    start = when the call began, end = start + wait   duration = the wait, billsec = 0
    direction = incoming                              uniqueid = the call's linkedid

Ubilling's WhyDoYouCall therefore lists every miss of the day, including those pbxbridge
already saw recalled (`pbxbridge missed list` shows those), and counts no recalls; its
call history shows misses only. `count_calls` cannot be told: None.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

from askozia_api.cdr import CdrRecord
from missed_calls.records import MissedCall
from missed_calls.store import MissedCallStore


def missed_record(call: MissedCall) -> CdrRecord:
    queue = call.queue or ""
    return CdrRecord(
        src=call.raw_number,
        dst=queue,
        start=call.at,
        end=call.at + timedelta(seconds=call.waited_seconds),
        duration=call.waited_seconds,
        billsec=0,
        disposition="NO ANSWER",
        direction="incoming",
        called=queue,
        lastapp="Queue" if queue else "",
        lastdata=queue,
        uniqueid=call.linkedid,
    )


class MissedCallsCdrSource:
    def __init__(self, store: MissedCallStore) -> None:
        self._store = store

    async def records(self, first: date, last: date) -> AsyncIterator[CdrRecord]:
        day = first
        while day <= last:
            for call in await self._store.list(day):
                yield missed_record(call)
            day += timedelta(days=1)

    async def count_calls(self, since: datetime) -> int | None:
        return None
