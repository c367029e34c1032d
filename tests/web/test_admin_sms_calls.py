"""/admin/sms and /admin/calls: the inbox and the outbox (unknown senders and states
highlighted, hostile texts escaped), a message sent through the outbox as staff:<name>,
journalled, its length and parts counted by the server as the page's script does; the
call log searched by number, date, direction and outcome, in pages."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from billing_client.audit import AuditJournal
from call_log.records import CallEntry
from call_log.store import CallLogStore
from primitives.clock import FixedClock
from sms import text as sms_text
from sms.types import InboundSms
from tests.conftest import Database
from tests.web.adminclient import Staff, add_user
from tests.web.conftest import OWNER, web_rig
from web.staff import Role

HOSTILE = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
START = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def marked(page: str, kind: str) -> dict[str, bool]:
    """Each row of `kind`: whether it is highlighted."""
    rows = re.findall(rf'<tr id="{kind}-(\d+)"( class="highlight")?>', page)
    return {row: bool(mark) for row, mark in rows}


async def test_sms_boxes_send_and_count(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        inbox = rig.service.inbox
        await inbox.receive(InboundSms("dongle0", OWNER, "Дякую", source="lines"))
        await inbox.receive(InboundSms("dongle0", "+380509990000", HOSTILE, source="lines"))
        await inbox.drain()
        await add_user(rig, "ivanka", Role.OPERATOR)
        browser = Staff(await aiohttp_client(rig.app))
        await browser.log_in("ivanka")
        assert 'href="/admin/sms"' in await browser.page("/admin/")
        page = await browser.page("/admin/sms")
        assert HOSTILE not in page
        assert ESCAPED in page
        known = page.split('id="sms-in-1"', 1)[1].split("</tr>", 1)[0]
        stranger = page.split('id="sms-in-2"', 1)[1].split("</tr>", 1)[0]
        assert "ivan" in known
        assert marked(page, "sms-in") == {"1": False, "2": True}  # the stranger stands out
        assert "unknown" in stranger
        assert "sms-count.js" in page

        # The server counts as the script does (no script: the Count button).
        text = "Привіт! " * 10  # 80 UCS-2 units: 2 parts of 67
        _, counted, _ = await browser.post(
            "/admin/sms", {"number": "0501234567", "text": text, "action": "count"}
        )
        assert "80 characters (UCS-2), 2 SMS" in counted
        assert sms_text.parts(text) == 2
        assert sms_text.parts("x" * 160) == 1
        assert sms_text.parts("x" * 161) == 2
        assert sms_text.parts("€" * 80) == 1  # two septets each: exactly 160
        assert await rig.service.outbox.get(1) is None  # counting sends nothing

        _, _, headers = await browser.post(
            "/admin/sms", {"number": "050 123 45 67", "text": "Баланс: 12.50", "action": "send"},
            status=303,
        )  # fmt: skip
        assert headers["Location"] == "/admin/sms?box=out&said=queued"
        queued = await rig.service.outbox.get(1)
        assert queued is not None
        assert (queued.number, queued.actor) == ("+380501234567", "staff:ivanka")
        outbox = await browser.page(headers["Location"])
        assert 'id="sms-out-1"' in outbox
        assert "Message queued" in outbox
        assert 'id="sms-out-1"' not in await browser.page("/admin/sms?box=out&state=sent")
        _, refused, _ = await browser.post(
            "/admin/sms", {"number": "0501234567", "text": "   "}, status=422
        )
        assert "The message was not queued: the text is empty" in refused
        records = await AuditJournal(rig.core.sessions, "local", clock).records(limit=20)
        assert any(
            r.source == "staff user ivanka" and r.detail.startswith("SMS #1 to 050 123 45 67")
            for r in records
        )
        await browser.post(
            "/admin/sms", {"number": "0501234567", "text": "hi"}, csrf="", status=403
        )
        assert await rig.service.outbox.get(2) is None


def call(n: int, *, number: str, direction: str = "incoming", disposition: str = "ANSWERED",
         recording: str | None = None) -> CallEntry:  # fmt: skip
    at = START + timedelta(minutes=n)
    return CallEntry(
        linkedid=f"L-{n}",
        caller=number if direction == "incoming" else "101",
        callee="100" if direction == "incoming" else number,
        number=number,
        number_valid=True,
        direction=direction,  # type: ignore[arg-type]
        disposition=disposition,
        started_at=at,
        answered_at=at if disposition == "ANSWERED" else None,
        ended_at=at + timedelta(seconds=95),
        duration=95,
        billsec=90 if disposition == "ANSWERED" else 0,
        queue="support",
        recording=recording,
    )


async def test_call_log_search_and_pages(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        log = CallLogStore(rig.core.sessions, clock)
        for n in range(1, 53):
            await log.insert(call(n, number=f"+38050300{n:04d}"))
        await log.insert(call(53, number=OWNER, recording=HOSTILE))
        await log.insert(call(54, number=OWNER, direction="outgoing", disposition="BUSY"))
        next_day = START + timedelta(days=1)
        await log.insert(replace(call(55, number=OWNER), started_at=next_day, ended_at=next_day))
        await add_user(rig, "ivanka", Role.OPERATOR)
        browser = Staff(await aiohttp_client(rig.app))
        await browser.log_in("ivanka")
        page = await browser.page("/admin/calls")
        rows = re.findall(r'<tr id="call-(\d+)"', page)
        assert len(rows) == 50
        assert rows[0] == "55"
        assert HOSTILE not in page
        assert ESCAPED in page
        nxt = re.search(r'href="(\?[^"]*cursor=[^"]+)" rel="next"', page)
        assert nxt is not None
        rest = await browser.page("/admin/calls" + nxt.group(1).replace("&amp;", "&"))
        assert re.findall(r'<tr id="call-(\d+)"', rest) == ["5", "4", "3", "2", "1"]
        owner = await browser.page("/admin/calls?number=050+111+00+01")
        assert re.findall(r'<tr id="call-(\d+)"', owner) == ["55", "54", "53"]
        busy = await browser.page("/admin/calls?number=0501110001&disposition=BUSY")
        assert re.findall(r'<tr id="call-(\d+)"', busy) == ["54"]
        out = await browser.page("/admin/calls?direction=outgoing")
        assert re.findall(r'<tr id="call-(\d+)"', out) == ["54"]
        dated = await browser.page(
            "/admin/calls?since=2026-11-21&until=2026-11-21&number=0501110001"
        )
        assert re.findall(r'<tr id="call-(\d+)"', dated) == ["54", "53"]
        wrong = await browser.page("/admin/calls?since=2026-11-22&until=2026-11-20")
        assert "This filter cannot be used: until." in wrong
        assert "This filter cannot be used: direction." in await browser.page(
            "/admin/calls?direction=sideways"
        )
