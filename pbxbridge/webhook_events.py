"""The rooms' news as webhook events: their existing hooks turned into `emit` calls.

The rooms know nothing of webhooks: the root hands each the hook it already has
(`on_stored`, `on_missed`, `on_answered`, the spooler's `on_finished`) and this module makes
the event out of what the hook receives. Each payload's fields are in the README (Webhooks).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from call_log.records import Call
from callfile_spooler.callbacks import KIND as CALLBACK_KIND
from callfile_spooler.callbacks import NAME_PREFIX, CallbackService
from callfile_spooler.campaigns import CampaignInfo, CampaignManager
from missed_calls.records import MissedCall
from sms.types import StoredSms
from webhooks.events import (
    CALL_ANSWERED,
    CALL_MISSED,
    CALLBACK_FINISHED,
    CAMPAIGN_FINISHED,
    SMS_RECEIVED,
    Emit,
)

log = logging.getLogger("pbxbridge.webhooks")

T = TypeVar("T")
Hook = Callable[[T], Awaitable[None]]


def both(first: Hook[T] | None, second: Hook[T] | None) -> Hook[T] | None:
    """One hook calling `first` then `second`; a failure of one never keeps the other
    from running (and is logged)."""
    hooks = [h for h in (first, second) if h is not None]
    if len(hooks) < 2:
        return hooks[0] if hooks else None

    async def each(value: T) -> None:
        for hook in hooks:
            try:
                await hook(value)
            except Exception:
                log.exception("a hook failed on %r", value)

    return each


def sms_payload(sms: StoredSms) -> dict[str, Any]:
    return {
        "id": sms.id,
        "received_at": sms.received_at,
        "sender": sms.sender,
        "device": sms.device,
        "text": sms.text,
        "parts": sms.parts,
        "parts_missing": sms.parts_missing,
        "login": sms.login,
        "name": sms.name,
        "lookup": sms.lookup,
    }


def on_sms_stored(emit: Emit) -> Hook[StoredSms]:
    async def stored(sms: StoredSms) -> None:
        if not sms.duplicate:
            await emit(SMS_RECEIVED, sms_payload(sms), occurred_at=sms.received_at)

    return stored


def missed_payload(call: MissedCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "linkedid": call.linkedid,
        "number": call.number,
        "raw_number": call.raw_number,
        "number_valid": call.number_valid,
        "at": call.at,
        "waited_seconds": call.waited_seconds,
        "queue": call.queue,
        "queue_position": call.queue_position,
        "login": call.login,
        "name": call.name,
        "status": None if call.status is None else int(call.status),
        "lookup": call.lookup,
    }


def on_missed(emit: Emit) -> Hook[MissedCall]:
    async def missed(call: MissedCall) -> None:
        await emit(CALL_MISSED, missed_payload(call), occurred_at=call.at)

    return missed


def answered_payload(call: Call) -> dict[str, Any]:
    """The call as `pbxbridge calls list` shows it (the README's `call.answered`)."""
    return {
        "id": call.id,
        "linkedid": call.linkedid,
        "caller": call.caller,
        "callee": call.callee,
        "number": call.number,
        "number_valid": call.number_valid,
        "direction": call.direction,
        "disposition": call.disposition,
        "started_at": call.started_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "duration": call.duration,
        "billsec": call.billsec,
        "queue": call.queue,
        "queue_position": call.queue_position,
        "answered_by": call.answered_by,
        "recording": call.recording,
        "login": call.login,
        "name": call.name,
        "status": None if call.status is None else int(call.status),
        "lookup": call.lookup,
    }


def on_answered(emit: Emit) -> Hook[Call]:
    async def answered(call: Call) -> None:
        await emit(CALL_ANSWERED, answered_payload(call), occurred_at=call.ended_at)

    return answered


def on_run_finished(
    emit: Emit, campaigns: CampaignManager, callbacks: CallbackService
) -> Hook[CampaignInfo]:
    """A callback's call over (`callback.finished`), or a campaign's run (`campaign.finished`)."""

    async def finished(info: CampaignInfo) -> None:
        if info.kind == CALLBACK_KIND:
            await _callback_finished(emit, callbacks, info)
        else:
            await _campaign_finished(emit, campaigns, info)

    return finished


async def _callback_finished(emit: Emit, callbacks: CallbackService, info: CampaignInfo) -> None:
    digits = info.name.removeprefix(NAME_PREFIX)
    request = await callbacks.get(int(digits)) if digits.isdigit() else None
    if request is None:
        log.warning("webhooks: callback campaign %s has no request; no event", info.name)
        return
    payload = {
        "id": request.id,
        "number": request.number,
        "name": request.name,
        "comment": request.comment,
        "source": request.source,
        "requested_at": request.requested_at,
        "login": request.login,
        "subscriber_name": request.subscriber_name,
        "outcome": request.state,
        "attempts": request.attempts,
        "last_outcome": request.last_outcome,
        "finished_at": info.finished_at,
    }
    await emit(CALLBACK_FINISHED, payload, occurred_at=info.finished_at)


async def _campaign_finished(emit: Emit, campaigns: CampaignManager, info: CampaignInfo) -> None:
    status = await campaigns.status(info.name)
    payload = {
        "id": info.id,
        "name": info.name,
        "run": info.run_no,
        "started_at": info.started_at,
        "finished_at": info.finished_at,
        "numbers": status.numbers,
        "by_number_status": status.by_number_status,
        "attempts_by_status": status.by_attempt_status,
    }
    await emit(CAMPAIGN_FINISHED, payload, occurred_at=info.finished_at)
