"""Attempt states and what Asterisk's numbers mean for them.

An attempt goes `queued → spooled → dialing → answered | busy | noanswer | congestion |
failed | expired` (or `cancelled` when it is never dialled: the number went on the
do-not-call list, or the campaign's run was replaced).

`REASON` is what Asterisk sets in the `failed` extension of a call file's context and puts
in `OriginateResponse`: the control frame that ended the dialling (`main/pbx.c`
`pbx_dial_reason()`): 0 failure (not busy, not no-answer: the channel could not be made,
number unallocated…), 1 the callee hung up while it rang, 3 rang without an answer,
4 answered, 5 busy, 8 congestion (rejected, out of order, circuits busy).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from callfile_spooler.settings import RetryDelays


class AttemptStatus(StrEnum):
    QUEUED = "queued"
    SPOOLED = "spooled"
    DIALING = "dialing"
    ANSWERED = "answered"
    BUSY = "busy"
    NOANSWER = "noanswer"
    CONGESTION = "congestion"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class NumberStatus(StrEnum):
    PENDING = "pending"  # waiting for its first or next attempt
    CALLING = "calling"  # an attempt is in Asterisk's hands
    ANSWERED = "answered"
    GIVEN_UP = "given_up"  # every attempt of the run failed
    DNC = "dnc"  # on the do-not-call list: not called
    IDLE = "idle"  # imported, no run has included it yet


class CampaignState(StrEnum):
    IDLE = "idle"  # never run
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"  # the last run finished


UNFINISHED = frozenset({AttemptStatus.QUEUED, AttemptStatus.SPOOLED, AttemptStatus.DIALING})
IN_ASTERISK = frozenset({AttemptStatus.SPOOLED, AttemptStatus.DIALING})
NOT_ANSWERED = frozenset(
    {
        AttemptStatus.BUSY,
        AttemptStatus.NOANSWER,
        AttemptStatus.CONGESTION,
        AttemptStatus.FAILED,
        AttemptStatus.EXPIRED,
    }
)
FINAL = NOT_ANSWERED | {AttemptStatus.ANSWERED, AttemptStatus.CANCELLED}

REASON_ANSWERED = 4
_REASONS: Mapping[int, AttemptStatus] = MappingProxyType(
    {
        0: AttemptStatus.FAILED,
        1: AttemptStatus.NOANSWER,  # hung up while ringing: the callee did not take the call
        2: AttemptStatus.NOANSWER,  # local ring
        3: AttemptStatus.NOANSWER,
        4: AttemptStatus.ANSWERED,
        5: AttemptStatus.BUSY,
        8: AttemptStatus.CONGESTION,
    }
)

# Q.850 hangup causes, mapped as pbx_dial_reason() maps them (for a call that ended before
# any `failed` extension reported, e.g. when the context has none).
_CAUSES: Mapping[int, AttemptStatus] = MappingProxyType(
    {
        17: AttemptStatus.BUSY,  # user busy
        18: AttemptStatus.NOANSWER,  # no user responding
        19: AttemptStatus.NOANSWER,  # no answer
        26: AttemptStatus.NOANSWER,  # answered elsewhere
        21: AttemptStatus.CONGESTION,  # call rejected
        27: AttemptStatus.CONGESTION,  # destination out of order
        34: AttemptStatus.CONGESTION,  # no circuit available
        38: AttemptStatus.CONGESTION,  # network out of order
        41: AttemptStatus.CONGESTION,  # temporary failure
        42: AttemptStatus.CONGESTION,  # switching equipment congestion
    }
)


REASON_WORDS: Mapping[int, str] = MappingProxyType(
    {
        0: "failed (the call could not be placed)",
        1: "hung up while ringing",
        2: "no answer (ringing)",
        3: "no answer",
        4: "answered",
        5: "busy",
        8: "congestion (rejected, out of order or no free line)",
    }
)
"""Asterisk's REASON codes as a person reads them (reports)."""


def reason_words(reason: int | None) -> str:
    """`busy`, `no answer`…; an unknown code as `code 7`; empty for none."""
    if reason is None:
        return ""
    return REASON_WORDS.get(reason, f"code {reason}")


def status_for_reason(reason: int) -> AttemptStatus:
    """The attempt status for an Asterisk REASON code (unknown codes count as failed)."""
    return _REASONS.get(reason, AttemptStatus.FAILED)


def status_for_cause(cause: int) -> AttemptStatus | None:
    """The status a Q.850 hangup cause implies, or None when it says nothing specific."""
    return _CAUSES.get(cause)


def retry_delay(status: AttemptStatus, delays: RetryDelays) -> float:
    """Seconds before the next attempt after an attempt ended with `status`."""
    return {
        AttemptStatus.BUSY: delays.busy,
        AttemptStatus.NOANSWER: delays.noanswer,
        AttemptStatus.CONGESTION: delays.congestion,
        AttemptStatus.FAILED: delays.failed,
        AttemptStatus.EXPIRED: delays.expired,
    }[status]
