"""The operator's screen pop: an incoming call and its caller's subscriber card, on the feed.

Two sources meet here, both handed in by the root:

- **AMI `Newchannel`** (`on_ami_event`): the first channel of a call (its Uniqueid is its
  Linkedid) with a caller number of `min_digits` or more, created in a context that is not
  one of pbxbridge's own outgoing ones (campaigns, callbacks), is a call ringing in: `call`
  is published at once, with the number. The call's other channels (Local legs, the
  operator's phone) only teach which call their uniqueid belongs to; its first channel's
  `Hangup` publishes `hangup`.
- **The FastAGI lookup** (`on_lookup`, agi's RouteDeps hook): the IVR asks the billing who
  is calling as the call comes in; that answer becomes the card, so the billing is not
  asked twice. When no lookup came for the call within `wait` seconds (a dialplan without
  pbxbridge's IVR), or it left the card's details unknown (a status-only route on Ubilling),
  the card asks the billing itself (`BillingClient.by_number`, a lookup that is not a call).

The card's last payments come from the audit journal (money in: payments and pay cards
booked through pbxbridge; with Ubilling, only the cards paid through pbxbridge's IVR).
Calls waiting for their card are bounded (`MAX_CALLS`); cards are made in tasks, so the
AMI reader is never held up.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from agi.routes.deps import LookupSeen
from billing_client.audit import AuditRecord
from billing_client.outcomes import BillingResult, Lookup
from billing_client.subscriber import STATUS_WORDS
from primitives.ami import AmiEvent
from primitives.phones import PhoneNormaliser

log = logging.getLogger("pbxbridge.web.feed")

Publish = Callable[[str, Mapping[str, Any]], None]
ByNumber = Callable[[str], Awaitable[Lookup]]
Payments = Callable[[str, int], Awaitable[list[AuditRecord]]]

MAX_CALLS: Final = 500
"""Calls remembered at once (waiting for their card, or ringing); the oldest go first."""
MAX_CHANNELS: Final = 4000
"""uniqueid → call entries remembered, for lookups made on a call's other channels."""
PAYMENTS_SHOWN: Final = 3
PAYMENT_KINDS: Final = frozenset({"payment", "paycard"})
CARD_DETAILS: Final = frozenset({"name", "days_left", "tariff", "credit"})
"""Details the card shows: an IVR lookup without them (askozianum on Ubilling asks the
status only) is completed by a lookup of the card's own."""
UNKNOWN_CALLERIDS: Final = frozenset({"", "<unknown>", "anonymous", "unknown"})


@dataclass
class RingingCall:
    id: str
    number: str
    looked_up: asyncio.Future[Lookup] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ScreenPop:
    """An AMI consumer (Newchannel, Hangup) and the AGI routes' `on_lookup`."""

    ami_events: tuple[str, ...] = ("Newchannel", "Hangup")

    def __init__(
        self,
        publish: Publish,
        *,
        by_number: ByNumber,
        payments: Payments,
        phones: PhoneNormaliser,
        outbound_contexts: Iterable[str],
        min_digits: int = 7,
        wait: float = 2.0,
    ) -> None:
        self._publish = publish
        self._by_number = by_number
        self._payments = payments
        self._phones = phones
        self._outbound = frozenset(outbound_contexts)
        self._min_digits = min_digits
        self.wait = wait
        self._calls: OrderedDict[str, RingingCall] = OrderedDict()
        self._channels: OrderedDict[str, str] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    async def on_ami_event(self, event: AmiEvent) -> None:
        uniqueid = event.get("Uniqueid") or ""
        linkedid = event.get("Linkedid") or uniqueid
        if not uniqueid:
            return
        if event.name.lower() == "hangup":
            self._hung_up(uniqueid)
            return
        self._remember(self._channels, uniqueid, linkedid, MAX_CHANNELS)
        if uniqueid != linkedid or (event.get("Context") or "") in self._outbound:
            return
        number = self._caller(event.get("CallerIDNum") or "")
        if number is None:
            return
        call = RingingCall(linkedid, number)
        self._remember(self._calls, linkedid, call, MAX_CALLS)
        self._publish(
            "call",
            {
                "id": linkedid,
                "number": number,
                "channel": event.get("Channel") or "",
                "exten": event.get("Exten") or "",
            },
        )
        task = asyncio.get_running_loop().create_task(self._card(call), name="screen-pop card")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def on_lookup(self, seen: LookupSeen) -> None:
        """The IVR's lookup of a call's caller: that call's card (agi's OnLookup)."""
        call = self._calls.get(self._channels.get(seen.uniqueid, seen.uniqueid))
        if call is not None and not call.looked_up.done():
            call.looked_up.set_result(seen.lookup)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _caller(self, raw: str) -> str | None:
        if raw.strip().lower() in UNKNOWN_CALLERIDS:
            return None
        if sum(c.isdigit() for c in raw) < self._min_digits:
            return None  # an internal extension calling
        return self._phones.normalise(raw) or raw

    def _hung_up(self, uniqueid: str) -> None:
        call = self._calls.pop(uniqueid, None)
        if call is None:
            return
        if not call.looked_up.done():
            call.looked_up.cancel()
        self._publish("hangup", {"id": call.id})

    @staticmethod
    def _remember(book: OrderedDict[str, Any], key: str, value: Any, limit: int) -> None:
        book[key] = value
        book.move_to_end(key)
        while len(book) > limit:
            book.popitem(last=False)

    async def _card(self, call: RingingCall) -> None:
        try:
            try:
                lookup = await asyncio.wait_for(asyncio.shield(call.looked_up), self.wait)
            except TimeoutError:
                lookup = await self._by_number(call.number)
            else:
                if lookup.subscriber is not None and lookup.subscriber.unknown & CARD_DETAILS:
                    lookup = await self._by_number(call.number)
            self._publish("card", await self._card_data(call, lookup))
        except asyncio.CancelledError:
            return  # hung up before its card was made
        except Exception:
            log.exception("screen pop: no card for %s", call.number)

    async def _card_data(self, call: RingingCall, lookup: Lookup) -> dict[str, Any]:
        info = lookup.subscriber
        data: dict[str, Any] = {
            "id": call.id,
            "number": call.number,
            "result": str(lookup.result),
            "found": info is not None,
            "stale": lookup.source == "stale",
        }
        if info is None:
            if lookup.result == BillingResult.ERROR:
                data["error"] = lookup.error or "billing error"
            return data
        payments = await self._payments(info.login, 50) if info.known("login") else []
        data |= {
            "login": info.login if info.known("login") else "",
            "name": info.name if info.known("name") else "",
            "status": int(info.status),
            "status_word": STATUS_WORDS[info.status],
            "balance": _money(info.balance),
            "credit": _money(info.credit) if info.known("credit") else None,
            "days_left": info.days_left if info.known("days_left") else None,
            "tariff": info.tariff if info.known("tariff") else "",
            "payments": [
                {"at": p.at.strftime("%Y-%m-%d %H:%M"), "amount": _money(p.amount), "kind": p.kind}
                for p in payments
                if p.kind in PAYMENT_KINDS and p.outcome == "ok" and p.amount > 0
            ][:PAYMENTS_SHOWN],
        }
        return data


def _money(value: Decimal) -> str:
    return f"{value:.2f}"
