"""A change staff make on the pages that no store journals itself (a campaign started,
numbers removed …) goes into the audit journal (billing_client/audit.py) with the user's
name: source `staff`, user the account's name, `kind` what was changed."""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from billing_client.outcomes import MoneySource
from web.admin.deps import admin_deps
from web.admin.session_middleware import staff_user


async def staff_journal(request: web.Request, kind: str, detail: str, *, login: str = "") -> None:
    deps = admin_deps(request)
    audit = deps.audit
    async with deps.sessions.begin() as session:
        session.add(
            audit.entry(
                login=login,
                kind=kind,
                field=kind,
                amount=Decimal(0),
                source=MoneySource.of_actor(staff_user(request).actor),
                outcome="ok",
                detail=detail,
            )
        )
