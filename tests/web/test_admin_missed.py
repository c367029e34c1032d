"""/admin/missed and /admin/callbacks: missed calls with the subscriber, the queue, the wait
and the recall, the date filter and pages, the chart, a one-click callback (CallbackService,
source staff:<name>, journalled), the callback queue with the web form's address, cancel."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from billing_client.audit import AuditJournal
from missed_calls.calls import Missed
from missed_calls.store import MissedCallStore
from primitives.clock import FixedClock
from tests.conftest import Database
from tests.web.adminclient import Staff, add_user
from tests.web.conftest import OWNER, web_rig
from web.staff import Role

HOSTILE = '<img src=x onerror="alert(1)">'
ESCAPED = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"
CALLER = "+380501112233"
TODAY = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)  # the rig's clock: 10:00 Kyiv, 22 Nov


def missed(number: str, queue: str = "support", waited: int = 75) -> Missed:
    return Missed(number, number, True, queue, 2, waited)


async def journal(rig: Any, clock: FixedClock) -> list[str]:
    records = await AuditJournal(rig.core.sessions, "local", clock).records(limit=100)
    return [f"{r.source}: {r.detail}" for r in records]


async def test_missed_calls_today_history_chart_and_call_back(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        store = MissedCallStore(rig.core.sessions, clock)
        yesterday = TODAY - timedelta(days=1)
        for n in range(52):  # more than a page, yesterday
            at = yesterday + timedelta(minutes=n)
            await store.insert(f"Y-{n}", missed(f"+38050200{n:04d}"), at=at, ended_at=at)
        await store.insert("T-1", missed(CALLER, HOSTILE), at=TODAY, ended_at=TODAY)
        await store.insert("T-2", missed(OWNER), at=TODAY, ended_at=TODAY)
        await store.mark_recalled(
            ["+380502000000"], at=yesterday + timedelta(minutes=30), by="R-1",
            window=timedelta(hours=2),
        )  # fmt: skip
        await add_user(rig, "ivanka", Role.OPERATOR)
        browser = Staff(await aiohttp_client(rig.app))
        await browser.log_in("ivanka")
        assert 'href="/admin/missed"' in await browser.page("/admin/")

        today = await browser.page("/admin/missed")
        rows = re.findall(r'<tr id="missed-(\d+)"', today)
        assert rows == ["54", "53"]  # today's only, newest first
        assert HOSTILE not in today
        assert ESCAPED in today
        assert "1:15" in today  # waited 75 s
        # The chart: a bar per day for 7 days, the recall's time on its line.
        assert today.count('class="bar-missed"') == 7
        assert "<polyline" in today

        history = await browser.page("/admin/missed?since=2026-11-21&until=2026-11-21")
        first = re.findall(r'<tr id="missed-(\d+)"', history)
        assert len(first) == 50
        assert first[0] == "52"
        following = re.search(r'href="(\?[^"]*cursor=[^"]+)" rel="next"', history)
        assert following is not None
        second = await browser.page("/admin/missed" + following.group(1).replace("&amp;", "&"))
        assert re.findall(r'<tr id="missed-(\d+)"', second) == ["2", "1"]
        recalled = await browser.page("/admin/missed?all=1&recalled=true")
        assert re.findall(r'<tr id="missed-(\d+)"', recalled) == ["1"]
        assert 'name="all" value="1"' in recalled  # the history's filters stay in the history
        bad = await browser.page("/admin/missed?since=yesterday")
        assert "This filter cannot be used: since." in bad

        # One click: a callback to the caller, by ivanka, in the journal.
        await browser.page("/admin/missed")
        _, _, headers = await browser.post(
            "/admin/missed/53/callback", {"back": "/admin/missed?all=1"}, status=303
        )
        assert headers["Location"] == "/admin/missed?all=1&said=requested"
        page = await browser.page("/admin/callbacks")
        assert 'id="callback-1"' in page
        assert "staff:ivanka" in page
        assert any(
            "staff user ivanka: callback #1 to " + CALLER in e for e in await journal(rig, clock)
        )
        # A second click is refused by the service (one callback per number at a time).
        await browser.post("/admin/missed/53/callback", status=303)
        assert "The callback was refused" in await browser.page("/admin/callbacks?said=not_refused")
        # Without the CSRF token: 403, nothing asked.
        await browser.post("/admin/missed/54/callback", csrf="0" * 64, status=403)
        await browser.post("/admin/missed/999/callback", status=404)


async def test_callbacks_queue_shows_the_web_address_and_cancels(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        callbacks = rig.service.callbacks
        asked = await callbacks.request(
            "0501112233", name=HOSTILE, comment="no internet", source="web", client_ip="203.0.113.9"
        )
        await add_user(rig, "olena", Role.ADMIN)
        browser = Staff(await aiohttp_client(rig.app))
        await browser.log_in("olena")
        page = await browser.page("/admin/callbacks")
        row = page.split(f'id="callback-{asked.id}"', 1)[1].split("</tr>", 1)[0]
        assert "from 203.0.113.9" in row
        assert ESCAPED in row
        assert HOSTILE not in page
        assert "pending" in row
        await browser.post(f"/admin/callbacks/{asked.id}/cancel", status=303)
        info = await callbacks.get(asked.id)
        assert info is not None
        assert info.state == "cancelled"
        assert info.reason.startswith("cancelled by staff:olena")
        assert "cancelled" in (await browser.page("/admin/callbacks?state=cancelled"))
        assert f'id="callback-{asked.id}"' not in await browser.page(
            "/admin/callbacks?state=pending"
        )
        # Nothing left to cancel: said so, nothing changed.
        _, _, headers = await browser.post(f"/admin/callbacks/{asked.id}/cancel", status=303)
        assert headers["Location"].endswith("said=not_cancellable")
        # A request by hand, refused for no number, then made.
        _, _, headers = await browser.post("/admin/callbacks", {"number": "call me"}, status=303)
        assert headers["Location"].endswith("said=not_number")
        await browser.post(
            "/admin/callbacks", {"number": "050 999 88 77", "name": "Petro"}, status=303
        )
        made = await callbacks.page(1)
        assert made[0].number == "+380509998877"
        assert made[0].source == "staff:olena"
        entries = await journal(rig, clock)
        assert any(e.startswith(f"staff user olena: callback #{asked.id} to ") for e in entries)
        assert any("+380509998877 requested by hand" in e for e in entries)


def test_every_message_of_these_pages_has_its_ukrainian() -> None:
    from web.admin import callbacks, calls, lists, sms, subscribers
    from web.admin import missed as missed_page
    from web.i18n import UK

    said = [callbacks.MESSAGES, callbacks.STATES, missed_page.RECALLED, lists.LIST_MESSAGES]
    said += [sms.MESSAGES, sms.BOXES, sms.STATES, calls.DIRECTIONS, calls.DISPOSITIONS]
    said += [subscribers.MESSAGES, subscribers.STATUSES]
    messages = {m for table in said for m in table.values()}
    assert sorted(m for m in messages if m not in UK) == []


PAGES = {
    "/admin/missed": "Пропущені дзвінки",
    "/admin/callbacks": "Зворотні дзвінки",
    "/admin/sms": "Надіслати SMS",
    "/admin/calls": "Журнал дзвінків",
    "/admin/subscribers?q=ivan": "Абонплата",
}


async def test_the_pages_speak_ukrainian(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        await add_user(rig, "olena", Role.ADMIN)
        browser = Staff(await aiohttp_client(rig.app))
        await browser.log_in("olena")
        home = await browser.page("/admin/")
        for path, words in PAGES.items():
            assert f'href="{path.split("?")[0]}"' in home
            answer = await browser.client.get(path, headers={"Accept-Language": "uk"})
            text = await answer.text()
            assert answer.status == 200, path
            assert answer.headers["Content-Language"] == "uk"
            assert words in text, path
