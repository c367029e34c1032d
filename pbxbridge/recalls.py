"""Glue between the spooler and the missed-call tracker: neither knows the other."""

from __future__ import annotations

from callfile_spooler.spooler import Answered, OnAnswered
from missed_calls.tracker import MissedCallTracker


def on_answered(tracker: MissedCallTracker | None) -> OnAnswered | None:
    """An answered campaign or callback call closes the open misses of its number.

    The tracker would see most of these in the call's own events, but not when Cdr events
    are off, nor when the call file's channel is the trunk's (no Local leg with the number
    in its CDR); the spooler's answer comes from the dialplan's CampaignAnswered, the
    moment the customer picks up.
    """
    if tracker is None:
        return None

    async def answered(call: Answered) -> None:
        await tracker.mark_recalled(
            call.number, by=f"campaign-{call.campaign_id}-attempt-{call.attempt_id}", at=call.at
        )

    return answered
