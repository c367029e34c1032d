"""/admin/subscribers: look a subscriber up by phone number or login through the billing
client (whatever the backend: `BillingClient.find`, as the CLI and the bot do). With the
embedded billing: edit the profile (name, phones, tariff, fee: what `pbxbridge subscribers
edit` changes), freeze and unfreeze, and, for admins only, payments (`Permission.MONEY`:
the server refuses an operator with 403 whatever the page shows).

Every change goes through billing_client/local's `LocalAdmin`, the CLI's own path, with
its checks (phones normalised and not another's, amounts, the journal); a payment above
`billing.max_payment` needs its confirmation as the CLI's needs --force. The changes are
in the audit journal with the staff user's name (`staff:<name>`).
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiMapping

from billing_client.errors import AdminError, MoneyError
from billing_client.local.admin import LocalAdmin, over_payment_limit
from billing_client.money import parse_amount
from billing_client.outcomes import BillingResult, MoneySource
from web.admin.deps import admin_deps
from web.admin.journal import staff_journal
from web.admin.layout import admin_page
from web.admin.lists import Notices, said, words
from web.admin.roles import Permission
from web.admin.routing import AdminRoutes
from web.admin.session_middleware import refuse, see_other, staff_user
from web.api.subscribers import Subscriber

routes = AdminRoutes()

BASE = "/admin/subscribers"
QUERY_MAX = 64
LIMITS: Final = {"login": 64, "name": 200, "tariff": 100, "fee": 20, "phones": 2000}
LIMITS_MONEY: Final = {"amount": 20, "note": 1000}

MESSAGES: Final = {
    "saved": "Saved.",
    "frozen": "Frozen.",
    "unfrozen": "Unfrozen.",
    "paid": "Payment booked.",
    "not_found": "No subscriber has this number or login.",
    "not_answering": "The billing does not answer; try again later.",
    "not_saved": "Not saved: %(problem)s",
    "not_over_limit": (
        "%(amount)s is more than billing.max_payment (%(limit)s); nothing was booked. "
        "If the amount is right, tick the confirmation and book it again."
    ),
}
"""What the page says in English (web/i18n.py has the Ukrainian)."""
SAID: Final = {k: MESSAGES[k] for k in ("saved", "frozen", "unfrozen", "paid")}
STATUSES: Final = {"unknown": "unknown", "active": "active", "debtor": "debtor", "frozen": "frozen"}


def _text(form: MultiMapping[Any], name: str, limit: int) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _back(login: str, key: str) -> web.Response:
    return see_other(f"{BASE}?{urlencode([('q', login), ('said', key)])}")


async def _lookup(request: web.Request, q: str) -> tuple[Subscriber | None, Notices]:
    if not q:
        return None, []
    lookup = await admin_deps(request).api.billing.find(q)
    if lookup.subscriber is not None:
        return Subscriber.of(lookup.subscriber, lookup.source), []
    key = "not_answering" if lookup.result == BillingResult.ERROR else "not_found"
    return None, [("error", words(request)(MESSAGES[key]))]


async def _page(
    request: web.Request, q: str, notices: Notices | None = None, status: int = 200
) -> web.Response:
    deps = admin_deps(request)
    found, problems = await _lookup(request, q)
    context = {
        "q": q,
        "found": found,
        "notices": (notices if notices is not None else said(request, SAID)) + problems,
        "local": deps.local is not None,
        "statuses": STATUSES,
        "max_payment": deps.max_payment,
    }
    return admin_page(request, "admin/subscribers.html", context, status=status)


@routes.get("/subscribers", Permission.VIEW)
async def subscribers(request: web.Request) -> web.StreamResponse:
    return await _page(request, request.query.get("q", "").strip()[:QUERY_MAX])


def _local(request: web.Request) -> LocalAdmin | None:
    return admin_deps(request).local


async def _refused(request: web.Request, login: str, problem: str) -> web.Response:
    """The page again with what was refused (422)."""
    text = words(request)(MESSAGES["not_saved"], problem=problem)
    return await _page(request, login, [("error", text)], status=422)


@routes.post("/subscribers/edit", Permission.SUBSCRIBERS)
async def edit(request: web.Request) -> web.StreamResponse:
    local = _local(request)
    if local is None:
        return refuse(404, "404: the embedded billing is not in use")
    form = await request.post()
    login = _text(form, "login", LIMITS["login"])
    phones = [p.strip() for p in _text(form, "phones", LIMITS["phones"]).splitlines()]
    fee_text = _text(form, "fee", LIMITS["fee"])
    actor = staff_user(request).actor
    try:
        before = await local.get(login)
        info = await local.edit(
            login,
            name=_text(form, "name", LIMITS["name"]) or None,
            phones=[p for p in phones if p],
            tariff=_text(form, "tariff", LIMITS["tariff"]),
            fee=parse_amount(fee_text) if fee_text else None,
            actor=actor,
        )
    except (AdminError, MoneyError) as exc:
        return await _refused(request, login, str(exc))
    changed = [
        f"{name} {getattr(before, name)!s} → {getattr(info, name)!s}"
        for name in ("name", "phones", "tariff", "fee")
        if before is not None and getattr(before, name) != getattr(info, name)
    ]
    if changed:
        await staff_journal(request, "edit", "; ".join(changed)[:1000], login=login)
    return _back(login, "saved")


async def _set_frozen(request: web.Request, frozen: bool) -> web.StreamResponse:
    local = _local(request)
    if local is None:
        return refuse(404, "404: the embedded billing is not in use")
    form = await request.post()
    login = _text(form, "login", LIMITS["login"])
    actor = staff_user(request).actor
    try:
        await local.set_frozen(login, frozen, actor, source=MoneySource.of_actor(actor))
    except AdminError as exc:
        return await _refused(request, login, str(exc))
    return _back(login, "frozen" if frozen else "unfrozen")


@routes.post("/subscribers/freeze", Permission.SUBSCRIBERS)
async def freeze(request: web.Request) -> web.StreamResponse:
    return await _set_frozen(request, True)


@routes.post("/subscribers/unfreeze", Permission.SUBSCRIBERS)
async def unfreeze(request: web.Request) -> web.StreamResponse:
    return await _set_frozen(request, False)


@routes.post("/subscribers/payment", Permission.MONEY)
async def payment(request: web.Request) -> web.StreamResponse:
    """A payment (negative: a correction), admins only; journalled by LocalAdmin."""
    local = _local(request)
    if local is None:
        return refuse(404, "404: the embedded billing is not in use")
    form = await request.post()
    login = _text(form, "login", LIMITS["login"])
    limit = admin_deps(request).max_payment
    try:
        amount = parse_amount(_text(form, "amount", LIMITS_MONEY["amount"]))
        if over_payment_limit(amount, limit) and form.get("confirm") != "yes":
            text = words(request)(MESSAGES["not_over_limit"], amount=amount, limit=limit)
            return await _page(request, login, [("error", text)], status=422)
        await local.add_payment(
            login,
            amount,
            note=_text(form, "note", LIMITS_MONEY["note"]),
            actor=staff_user(request).actor,
        )
    except (AdminError, MoneyError) as exc:
        return await _refused(request, login, str(exc))
    return _back(login, "paid")
