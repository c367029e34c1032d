"""`/sms`: send a text (queued through the outbox) and read the inbox and the outbox.

Sending only queues, as `pbxbridge sms send` does: the outbox worker of the running service
sends it once (see sms/outbox.py for its crash guarantees), so the answer is 202 with the
message's id and state, to follow with `GET /sms/out/{id}`. `actor` is `api:<token name>`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from sms.errors import SmsRefused
from sms.outbox import MAX_TEXT
from sms.types import OutboxMessage, OutboxState, StoredSms
from web.api.common import DateQuery, Page, PageQuery, RowId
from web.api.deps import ApiDeps, actor, api_deps
from web.api.routing import ApiBody, ApiInput, RouteTable
from web.errors import Invalid, NotFound
from web.tokens import Scope

log = logging.getLogger("pbxbridge.web.api")

routes = RouteTable("sms")

State = Literal["queued", "sending", "sent", "delivered", "failed", "unknown"]


class SmsIn(ApiBody):
    number: str = Field(
        min_length=1,
        max_length=64,
        description="A phone number (or a SIP user for pjsip).",
        examples=["0501234567"],
    )
    text: str = Field(min_length=1, max_length=MAX_TEXT, examples=["Your balance is low"])
    device: str | None = Field(
        default=None, max_length=64, description="Modem to send through; default sms.device."
    )
    transport: Literal["dongle", "quectel", "pjsip"] | None = Field(
        default=None, description="Default: sms.transport."
    )
    transliterate: bool | None = Field(
        default=None, description="Cyrillic to Latin; default: sms.transliterate."
    )


class OutgoingSms(BaseModel):
    """An outbox row: one SMS, or one part of a long text split for a single-PDU modem."""

    box: Literal["out"] = "out"
    id: int
    created_at: datetime
    updated_at: datetime
    number: str
    text: str
    transport: str
    device: str
    state: State
    attempts: int
    last_error: str
    group_id: int = Field(description="The first part's id (its own when not split).")
    part_no: int
    part_count: int
    transliterated: bool
    reply_to: int | None = Field(description="The inbox message this replies to.")
    actor: str = Field(description="Who sent it: api:<token>, cli:<user>, auto-reply …")

    @classmethod
    def of(cls, m: OutboxMessage) -> OutgoingSms:
        return cls(
            id=m.id,
            created_at=m.created_at,
            updated_at=m.updated_at,
            number=m.number,
            text=m.text,
            transport=m.transport,
            device=m.device,
            state=m.state.value,
            attempts=m.attempts,
            last_error=m.last_error,
            group_id=m.group_id,
            part_no=m.part_no,
            part_count=m.part_count,
            transliterated=m.transliterated,
            reply_to=m.reply_to,
            actor=m.actor,
        )


class IncomingSms(BaseModel):
    """An inbox row (a multipart SMS reassembled)."""

    box: Literal["in"] = "in"
    id: int
    received_at: datetime
    device: str
    sender: str = Field(description="E.164 when it is a phone number, else as received.")
    text: str
    driver: str | None
    parts: int
    parts_missing: int
    login: str | None = Field(description="The subscriber the sender's number belongs to.")
    name: str | None
    lookup: str = Field(description="pending, ok, notfound, skipped: the subscriber lookup.")
    reply_id: int | None = Field(description="The outbox message of the auto-reply.")

    @classmethod
    def of(cls, m: StoredSms) -> IncomingSms:
        return cls(
            id=m.id,
            received_at=m.received_at,
            device=m.device,
            sender=m.sender,
            text=m.text,
            driver=m.driver,
            parts=m.parts,
            parts_missing=m.parts_missing,
            login=m.login,
            name=m.name,
            lookup=m.lookup,
            reply_id=m.reply_id,
        )


Sms = Annotated[IncomingSms | OutgoingSms, Field(discriminator="box")]


class SmsPage(Page[Sms]):
    """One page of messages, newest first."""


class SmsQueued(BaseModel):
    id: int = Field(description="The message's id (the first part's when it was split).")
    state: State
    parts: list[OutgoingSms]


class SmsQuery(PageQuery, DateQuery):
    box: Literal["in", "out"] = Field(description="The inbox or the outbox.")
    state: State | None = Field(default=None, description="Outbox only: messages in this state.")


class SmsPath(ApiInput):
    id: RowId = Field(description="The message's id.")


def _field(refusal: str) -> str | None:
    """The input an outbox refusal is about (its messages start with what they judge)."""
    for start, name in (
        ("invalid device", "device"),
        ("unknown transport", "transport"),
        ("the text", "text"),
        ("not a", "number"),
    ):
        if refusal.startswith(start):
            return name
    return None


@routes.post("/sms", scope=Scope.SMS, status=202, location="/sms/out/{id}")
async def send_sms(request: web.Request, body: SmsIn) -> SmsQueued:
    """Send an SMS.

    It is queued in the outbox and sent by the running service through `sms.transport`
    (chan_dongle, chan_quectel or PJSIP MessageSend), once. A long text is split into parts
    for a single-PDU modem. 202 with the id and state: follow it with `GET /sms/out/{id}`
    (queued → sending → sent → delivered, or failed, or unknown when a crash or a timeout
    left it open; unknown is never resent by itself). 422 for a number, text or device the
    outbox cannot send.
    """
    deps = api_deps(request)
    try:
        first = await deps.outbox.queue(
            body.number,
            body.text,
            device=body.device,
            transliterate=body.transliterate,
            actor=actor(request),
            transport=body.transport,
        )
    except SmsRefused as exc:
        raise Invalid(str(exc), field=_field(str(exc))) from None
    parts = await deps.outbox.group(first)
    return SmsQueued(
        id=first,
        state=parts[0].state.value,
        parts=[OutgoingSms.of(p) for p in parts],
    )


@routes.get("/sms", scope=Scope.SMS)
async def list_sms(request: web.Request, query: SmsQuery) -> SmsPage:
    """List received (`box=in`) or sent (`box=out`) messages, newest first.

    `since`/`until` bound when they arrived or were queued; `state` (outbox) picks one
    state. Outbox rows are parts: a split text is one row per part (`group_id`).
    """
    return await sms_page(api_deps(request), query)


async def sms_page(deps: ApiDeps, query: SmsQuery) -> SmsPage:
    """The list's page (the admin pages' SMS lists read it too)."""
    since, until = query.bounds(deps.clock)
    items: list[IncomingSms | OutgoingSms]
    if query.box == "in":
        if query.state is not None:
            raise Invalid("state filters the outbox (box=out) only", field="state")
        received = await deps.sms.inbox_page(
            query.limit + 1, before=query.after(), since=since, until=until
        )
        items = [IncomingSms.of(m) for m in received]
    else:
        state = OutboxState(query.state) if query.state is not None else None
        sent = await deps.sms.outbox_page(
            query.limit + 1, before=query.after(), since=since, until=until, state=state
        )
        items = [OutgoingSms.of(m) for m in sent]
    page = query.page(items, lambda m: m.id, kind=SmsPage)
    assert isinstance(page, SmsPage)
    return page


@routes.get("/sms/in/{id}", scope=Scope.SMS, errors=(404,))
async def get_incoming_sms(request: web.Request, path: SmsPath) -> IncomingSms:
    """One received message."""
    message = await api_deps(request).inbox.get(path.id)
    if message is None:
        raise NotFound(f"no received message {path.id}")
    return IncomingSms.of(message)


@routes.get("/sms/out/{id}", scope=Scope.SMS, errors=(404,))
async def get_outgoing_sms(request: web.Request, path: SmsPath) -> OutgoingSms:
    """One message of the outbox (one part of a split text), with its state."""
    message = await api_deps(request).outbox.get(path.id)
    if message is None:
        raise NotFound(f"no outbox message {path.id}")
    return OutgoingSms.of(message)
