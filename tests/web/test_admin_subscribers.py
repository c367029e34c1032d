"""/admin/subscribers: lookups by number or login through the billing client; with the
embedded billing, edit, freeze and payments through LocalAdmin (the CLI's path and rules),
journalled with the staff user's name; operators are refused money moves (403)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from billing_client.audit import AuditJournal
from primitives.clock import FixedClock
from tests.conftest import Database
from tests.fakes.ubilling import FakeUbilling
from tests.web.adminclient import Staff, add_user
from tests.web.conftest import settings_for, web_rig
from web.staff import Role

HOSTILE = '<b onmouseover="x()">Ivan</b>'
ESCAPED = "&lt;b onmouseover=&#34;x()&#34;&gt;Ivan&lt;/b&gt;"


async def test_lookup_edit_freeze_and_payments_by_role(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path) as rig:
        local = rig.core.local
        assert local is not None
        await local.edit("ivan", name=HOSTILE, actor="cli:test")
        await local.add("petro", name="Petro", phones=["+380671112233"], actor="cli:test")
        await add_user(rig, "ivanka", Role.OPERATOR)
        await add_user(rig, "olena", Role.ADMIN)
        operator = Staff(await aiohttp_client(rig.app))
        await operator.log_in("ivanka")
        assert 'href="/admin/subscribers"' in await operator.page("/admin/")

        by_number = await operator.page("/admin/subscribers?q=050+111+00+01")
        assert ESCAPED in by_number
        assert HOSTILE not in by_number
        assert 'id="balance">12.50<' in by_number
        assert 'action="/admin/subscribers/freeze"' in by_number
        assert 'action="/admin/subscribers/payment"' not in by_number  # not for operators
        assert "Petro" in await operator.page("/admin/subscribers?q=petro")
        assert "No subscriber has this" in await operator.page("/admin/subscribers?q=nobody")

        # Edit: the CLI's fields, through LocalAdmin, in the journal by name.
        form = {"login": "ivan", "name": "Ivan Franko", "phones": "0501110001\n067 000 11 22",
                "tariff": "Home 100", "fee": "150.00"}  # fmt: skip
        _, _, headers = await operator.post("/admin/subscribers/edit", form, status=303)
        assert headers["Location"] == "/admin/subscribers?q=ivan&said=saved"
        info = await local.get("ivan")
        assert info is not None
        assert (info.name, info.tariff, info.fee) == ("Ivan Franko", "Home 100", Decimal("150.00"))
        assert info.phones == ("+380501110001", "+380670001122")
        # Another's phone: refused by LocalAdmin's rules, shown, nothing changed.
        taken = {**form, "phones": "0671112233"}
        _, page, _ = await operator.post("/admin/subscribers/edit", taken, status=422)
        assert "Not saved:" in page
        assert (await local.get("ivan")).phones == info.phones  # type: ignore[union-attr]

        await operator.post("/admin/subscribers/freeze", {"login": "ivan"}, status=303)
        assert (await local.get("ivan")).frozen  # type: ignore[union-attr]
        assert "Unfreeze" in await operator.page("/admin/subscribers?q=ivan")
        await operator.post("/admin/subscribers/unfreeze", {"login": "ivan"}, status=303)
        assert not (await local.get("ivan")).frozen  # type: ignore[union-attr]

        journal = await AuditJournal(rig.core.sessions, "local", clock).records("ivan", limit=50)
        said = [(r.source, r.kind, r.detail) for r in journal]
        assert any(s == "staff user ivanka" and k == "edit" and "Home 100" in d for s, k, d in said)
        assert sum(1 for s, k, _ in said if s == "staff user ivanka" and k != "edit") == 2


async def test_payments_are_for_admins_only(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path) as rig:
        local = rig.core.local
        assert local is not None
        await add_user(rig, "ivanka", Role.OPERATOR)
        await add_user(rig, "olena", Role.ADMIN)
        operator = Staff(await aiohttp_client(rig.app))
        await operator.log_in("ivanka")
        await operator.page("/admin/subscribers?q=ivan")
        # Money moves: operators are refused by the server, whatever they post.
        await operator.post("/admin/subscribers/payment", {"login": "ivan", "amount": "100"},
                            status=403)  # fmt: skip
        assert (await local.get("ivan")).balance == Decimal("12.50")  # type: ignore[union-attr]
        admin = Staff(await aiohttp_client(rig.app))
        await admin.log_in("olena")
        assert 'action="/admin/subscribers/payment"' in await admin.page(
            "/admin/subscribers?q=ivan"
        )
        cash = {"login": "ivan", "amount": "100,00", "note": "cash"}
        await admin.post("/admin/subscribers/payment", cash, status=303)
        assert (await local.get("ivan")).balance == Decimal("112.50")  # type: ignore[union-attr]
        # Above billing.max_payment: confirmed, as the CLI's --force.
        big = {"login": "ivan", "amount": "1000000"}
        _, page, _ = await admin.post("/admin/subscribers/payment", big, status=422)
        assert "is more than billing.max_payment" in page
        await admin.post("/admin/subscribers/payment", {**big, "confirm": "yes"}, status=303)
        assert (await local.get("ivan")).balance == Decimal("1000112.50")  # type: ignore[union-attr]
        _, page, _ = await admin.post("/admin/subscribers/payment",
                                      {"login": "ivan", "amount": "lots"}, status=422)  # fmt: skip
        assert "Not saved: not an amount" in page
        # Without the CSRF token: 403, nothing booked.
        await admin.post("/admin/subscribers/payment", {"login": "ivan", "amount": "1"},
                         csrf="", status=403)  # fmt: skip

        journal = await AuditJournal(rig.core.sessions, "local", clock).records("ivan", limit=50)
        said = [(r.source, r.kind, r.detail) for r in journal]
        assert ("staff user olena", "payment", "cash") in said
        assert all(s != "staff user ivanka" or k != "payment" for s, k, _ in said)


async def test_lookups_through_ubilling_and_no_edits_there(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with FakeUbilling(clock=clock) as ubilling:
        billing = {
            "backend": "ubilling",
            "url": ubilling.url,
            "key": SecretStr(ubilling.serial or ""),
        }
        settings = settings_for(sqlite_database, tmp_path, sections={"billing": billing})
        async with web_rig(sqlite_database, clock, tmp_path, settings=settings) as rig:
            assert rig.core.local is None
            await add_user(rig, "olena", Role.ADMIN)
            admin = Staff(await aiohttp_client(rig.app))
            await admin.log_in("olena")
            card = await admin.page("/admin/subscribers?q=0501110001")
            assert "testuser1" in card
            assert "Петренко Іван Петрович" in card
            assert 'id="balance">150' in card
            assert "/admin/subscribers/edit" not in card  # Ubilling's own pages do that
            frozen = await admin.page("/admin/subscribers?q=testuser3")
            assert "Frozen Fedir" in frozen
            await admin.post("/admin/subscribers/freeze", {"login": "testuser1"}, status=404)
            await admin.post(
                "/admin/subscribers/payment", {"login": "x", "amount": "1"}, status=404
            )
