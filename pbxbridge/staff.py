"""What staff see and can ask: notices for Telegram and the bot's answers.

The components know nothing of Telegram and Telegram knows nothing of them; these small
adapters, built by the root, turn one side's objects into the other's words. Times are
stored in UTC and shown to staff in the service's timezone, as the CLI shows them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agi.lockout import LockEvent, LockoutGuard
from ami_listener.health import AmiHealth
from billing_client.client import BillingClient
from billing_client.outcomes import BillingResult, MoneySource
from billing_client.subscriber import STATUS_WORDS
from callfile_spooler.callbacks import CallbackService
from callfile_spooler.errors import CallbackError
from missed_calls.records import MissedCall
from missed_calls.tracker import MissedCallTracker
from notify import (
    AlertNotice,
    InboundSmsNotice,
    LinkNotice,
    LockoutNotice,
    MissedCallNotice,
    Notice,
    SmsFailedNotice,
)
from pbxbridge.lockouts import lift
from primitives.clock import Clock
from primitives.phones import PhoneNormaliser
from sms.errors import SmsRefused
from sms.outbox import Outbox
from sms.types import OutboxMessage, OutboxState, StoredSms

Notify = Callable[[Notice], Awaitable[None]]


def on_missed(notify: Notify, clock: Clock) -> Callable[[MissedCall], Awaitable[None]]:
    async def missed(call: MissedCall) -> None:
        await notify(
            MissedCallNotice(
                number=call.number,
                login=call.login,
                name=call.name,
                status=None if call.status is None else int(call.status),
                queue=call.queue,
                at=clock.local(call.at),
                waited_seconds=call.waited_seconds,
            )
        )

    return missed


def on_sms_stored(notify: Notify, clock: Clock) -> Callable[[StoredSms], Awaitable[None]]:
    async def stored(sms: StoredSms) -> None:
        if sms.duplicate:
            return
        await notify(
            InboundSmsNotice(
                sender=sms.sender,
                login=sms.login,
                name=sms.name,
                text=sms.text,
                device=sms.device,
                at=clock.local(sms.received_at),
            )
        )

    return stored


def on_sms_final(notify: Notify) -> Callable[[OutboxMessage], Awaitable[None]]:
    """Staff hear of messages that failed for good or whose fate is unknown."""

    async def final(message: OutboxMessage) -> None:
        if message.state not in (OutboxState.FAILED, OutboxState.UNKNOWN):
            return
        await notify(
            SmsFailedNotice(
                number=message.number,
                text=message.text,
                reason=f"{message.state}: {message.last_error}",
                message_id=message.id,
            )
        )

    return final


def on_ami_health(notify: Notify) -> Callable[[AmiHealth, str], Awaitable[None]]:
    """Staff hear when the link is lost (or never comes up) and when it is back.

    Connecting is no news, and neither is the first login after start-up.
    """
    told_down = False

    async def changed(health: AmiHealth, detail: str) -> None:
        nonlocal told_down
        if health in (AmiHealth.CONNECTING, AmiHealth.STOPPED):
            return
        up = health is AmiHealth.CONNECTED
        if up and told_down:
            told_down = False
            await notify(LinkNotice(link="AMI", up=True, detail=detail))
        elif not up and not told_down:
            told_down = True
            await notify(LinkNotice(link="AMI", up=False, detail=detail))

    return changed


def on_alert(notify: Notify) -> Callable[[str], Awaitable[None]]:
    """Alerts (already told once per interval by `Alerts`) as notices for the staff chats."""

    async def alert(text: str) -> None:
        await notify(AlertNotice(text))

    return alert


def missed_today(tracker: MissedCallTracker | None, clock: Clock) -> Callable[[], Awaitable[str]]:
    async def answer() -> str:
        if tracker is None:
            return "Missed calls are not tracked (missed_calls.enabled = false)."
        calls = await tracker.list()
        if not calls:
            return "No missed calls today."
        lines = [f"Missed today: {len(calls)}"]
        for call in calls[-30:]:
            who = f" {call.login} ({call.name})" if call.login else ""
            done = " ✓ recalled" if call.recalled_at else ""
            lines.append(f"{clock.local(call.at):%H:%M} {call.number}{who}{done}")
        return "\n".join(lines)

    return answer


def send_sms(outbox: Outbox) -> Callable[[str, str, str], Awaitable[str]]:
    async def answer(number: str, text: str, actor: str) -> str:
        try:
            message_id = await outbox.queue(number, text, actor=actor)
        except SmsRefused as exc:
            return f"Not queued: {exc}"
        return f"SMS #{message_id} to {number} queued."

    return answer


def whois(billing: BillingClient) -> Callable[[str], Awaitable[str]]:
    async def answer(number: str) -> str:
        lookup = await billing.find(number)
        if lookup.result == BillingResult.ERROR:
            return f"Billing error: {lookup.error}"
        info = lookup.subscriber
        if info is None:
            return f"{number}: not a subscriber."
        days = "" if info.days_left is None else f", {info.days_left} days left"
        return (
            f"{info.login} {info.name}\n"
            f"status {int(info.status)} ({STATUS_WORDS[info.status]}), balance "
            f"{info.balance}, credit {info.credit}{days}\ntariff {info.tariff} ({info.fee})"
        )

    return answer


def request_callback(callbacks: CallbackService) -> Callable[[str, str], Awaitable[str]]:
    async def answer(number: str, actor: str) -> str:
        try:
            result = await callbacks.request(number, source=actor)
        except CallbackError as exc:
            return f"Not queued: {exc}"
        return result.describe()

    return answer


LOCK_REASONS = {"INVALID": "invalid pay card", "USED": "used pay card", "pin": "wrong PIN"}


def on_lock(notify: Notify) -> Callable[[LockEvent], Awaitable[None]]:
    """Staff hear when a number or login gets locked (once per lock)."""

    async def locked(event: LockEvent) -> None:
        await notify(
            LockoutNotice(
                number=event.number,
                login=event.login,
                failures=event.failures,
                until=event.until,
                reason=LOCK_REASONS.get(event.reason, event.reason),
            )
        )

    return locked


def unlock(guard: LockoutGuard, phones: PhoneNormaliser) -> Callable[[str, str], Awaitable[str]]:
    async def answer(target: str, actor: str) -> str:
        try:
            cleared = await lift(guard, phones, target, MoneySource(kind="telegram", user=actor))
        except ValueError as exc:
            return str(exc)
        if not cleared.subjects:
            return f"{target}: not locked, no failures counted."
        return f"Unlocked {cleared.describe()}."

    return answer
