"""The CdrSource of the Askozia face: the call log (call_log/), one row per call.

Each call becomes one row (Askozia's export had one per call too, not one per leg):

    src, dst = the caller and the callee as Asterisk gave them
    start, answer, end, duration, billsec, disposition = the call's (call_log.summary)
    direction = incoming, outgoing or internal      called = the callee of an incoming call
    dstchannel = the channel that picked up         lastapp, lastdata = Queue, the queue
    uniqueid = the call's linkedid                  userfield = the recording's file name

A missed call pbxbridge saw recalled shows the recall the way Ubilling's parser
(api.wdyc.php `fetchAskoziaCalls`) recognises one: an *outgoing* ANSWERED row whose
destination is the missed caller's number exactly as the miss's row wrote it. So the
recalling call's own row, when it is an outgoing call of the log, names that number as
its destination (the dialled form may differ: `0671234567` dialled, `+380671234567`
received); when the recall is no outgoing call of the log (the caller rang again and was
answered: that row already clears the miss in Ubilling; a callback the spooler saw
answered, or a call pruned since), an outgoing row is made at the recall's time for a
callback, with no talk time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime

from askozia_api.cdr import CdrRecord
from call_log.records import Call
from call_log.store import CallLogStore


def call_record(call: Call) -> CdrRecord:
    queue = call.queue or ""
    return CdrRecord(
        src=call.caller,
        dst=call.callee,
        start=call.started_at,
        answer=call.answered_at,
        end=call.ended_at,
        duration=call.duration,
        billsec=call.billsec,
        disposition=call.disposition,
        direction=call.direction,
        called=call.callee if call.direction == "incoming" else "",
        dstchannel=call.answered_by or "",
        lastapp="Queue" if queue else "",
        lastdata=queue,
        uniqueid=call.linkedid,
        userfield=call.recording or "",
    )


def callback_record(miss: Call, recall: Call | None) -> CdrRecord | None:
    """The row that tells Ubilling `miss` was called back; None when the recall is an
    incoming call of the log (its own row says it)."""
    if miss.recalled_at is None or miss.recalled_by is None:
        return None
    if recall is not None and recall.direction == "incoming":
        return None
    if recall is not None:
        return replace(call_record(recall), dst=miss.caller, called="")
    return CdrRecord(
        src="",
        dst=miss.caller,
        start=miss.recalled_at,
        answer=miss.recalled_at,
        end=miss.recalled_at,
        disposition="ANSWERED",
        direction="outgoing",
        uniqueid=miss.recalled_by,
    )


class CallLogCdrSource:
    def __init__(self, store: CallLogStore) -> None:
        self._store = store

    async def records(self, first: date, last: date) -> AsyncIterator[CdrRecord]:
        calls = await self._store.days(first, last)
        recalled = [c for c in calls if c.missed and c.recalled_by is not None]
        recalls = await self._store.by_linkedid([c.recalled_by or "" for c in recalled])
        rows: dict[str, CdrRecord] = {}
        for miss in recalled:  # one row per recall, the first miss it answered naming it
            by = miss.recalled_by or ""
            made = None if by in rows else callback_record(miss, recalls.get(by))
            if made is not None and first <= self._store.clock.local(made.start).date() <= last:
                rows[by] = made
        out = [rows.get(c.linkedid) or call_record(c) for c in calls]
        out += [row for by, row in rows.items() if all(c.linkedid != by for c in calls)]
        out.sort(key=lambda r: r.start)  # stable: the log's order within one instant
        for row in out:
            yield row

    async def count_calls(self, since: datetime) -> int | None:
        return await self._store.count_since(since)
