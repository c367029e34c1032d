"""What the root does with each answered call the call log records.

`MissedCallTracker(on_answered=…)` calls the hook once per recorded call whose disposition
is ANSWERED, after its subscriber was looked up, with the stored `call_log.Call`. For now
it is one log line; the webhooks' `call.answered` event plugs in here.
"""

from __future__ import annotations

import logging

from call_log.records import Call
from missed_calls.tracker import OnAnsweredCall
from primitives.clock import Clock

log = logging.getLogger("pbxbridge.call_log")


def on_answered(clock: Clock) -> OnAnsweredCall:
    async def answered(call: Call) -> None:
        log.info(
            "answered %s call %s -> %s at %s, %ds talk%s (linkedid %s)",
            call.direction,
            call.caller or "-",
            call.callee or "-",
            clock.local(call.started_at).strftime("%Y-%m-%d %H:%M:%S %Z"),
            call.billsec,
            f", subscriber {call.login}" if call.login else "",
            call.linkedid,
        )

    return answered
