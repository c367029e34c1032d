"""What a complete call's Cdr rows say about it as a whole (one row per leg → one call).

cdr_manager sends one `Cdr` event per leg: a call through a Local channel or a queue has
several (the capture's missed call has four). Of those:

* the *main* row is the first inbound one (the caller's leg: the dialplan's
  `Set(CDR(userfield)=in)` or an inbound context), else the first a party answered,
  else the first; it gives the caller (its source) and the callee (its destination);
* the call was answered by a party when a row is ANSWERED with a destination channel
  (`answered_by` is that channel); a row ANSWERED with none was answered by the dialplan;
* its length is from the earliest StartTime to the latest EndTime (the PBX's wall time,
  only their difference is used), else the longest row's Duration; its talk time is the
  longest BillableSeconds of the answered rows;
* a call nobody answered takes the rows' most telling disposition: BUSY, then NO ANSWER,
  then FAILED.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from call_log.events import CdrRow

MAX_SECONDS = 86_400
_NOT_ANSWERED = ("BUSY", "NO ANSWER", "FAILED")


@dataclass(frozen=True, slots=True)
class Legs:
    caller: str
    callee: str
    duration: int
    billsec: int
    answered_by: str | None
    """The channel that picked up, when a party did."""
    row_disposition: str
    """ANSWERED when any row is (a party or the dialplan), else BUSY/NO ANSWER/FAILED."""


def _seconds(value: float) -> int:
    return min(max(int(value), 0), MAX_SECONDS)


def main_row(rows: Sequence[CdrRow], inbound: Sequence[CdrRow]) -> CdrRow | None:
    if inbound:
        return inbound[0]
    return next((r for r in rows if r.answered_by_party), rows[0] if rows else None)


def _length(rows: Sequence[CdrRow]) -> int:
    starts = [r.start for r in rows if r.start is not None]
    ends = [r.end for r in rows if r.end is not None]
    if starts and ends and max(ends) >= min(starts):
        return _seconds((max(ends) - min(starts)).total_seconds())
    return _seconds(max((r.duration or 0 for r in rows), default=0))


def _disposition(rows: Sequence[CdrRow]) -> str:
    if any(r.answered for r in rows):
        return "ANSWERED"
    found = {r.disposition for r in rows}
    return next((d for d in _NOT_ANSWERED if d in found), "NO ANSWER")


def legs(rows: Sequence[CdrRow], inbound: Sequence[CdrRow]) -> Legs:
    """The call's rows (in arrival order) and its inbound ones, summed up."""
    main = main_row(rows, inbound)
    by_party = [r for r in rows if r.answered_by_party]
    answered = by_party or [r for r in rows if r.answered]
    return Legs(
        caller=main.src if main is not None else "",
        callee=main.dst if main is not None else "",
        duration=_length(rows),
        billsec=_seconds(max((r.billsec or 0 for r in answered), default=0)),
        answered_by=by_party[0].dstchannel if by_party else None,
        row_disposition=_disposition(rows),
    )
