"""/admin/campaigns as staff use it: create and edit with the weekly schedule and pacing,
numbers pasted and uploaded, one removed, start and pause, the run's outcomes through the
fake call-file Asterisk, the CSV export, the message uploaded and played, and the time a
page takes with 10,000 numbers. Real application, real database."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import aiohttp

from billing_client.audit import AuditJournal
from callfile_spooler.callfile import ArchivedCallFile
from primitives.clock import FixedClock
from tests.callfile_spooler.fake_asterisk import Fate
from tests.conftest import Database
from tests.web.adminclient import Staff, add_user
from tests.web.apiclient import make_spool, run_calls
from tests.web.conftest import Rig, web_rig
from web.staff import Role

HOSTILE = "<script>alert(1)</script>"

SETTINGS = {
    "name": "trucks",
    "day_mon": "09:00",
    "day_fri": "10:36",
    "day_sun": "",
    "window": "09:00-20:00",
    "bundle": "2",
    "delay": "10",
    "max_concurrent": "3",
    "cps": "0.5",
    "context": "",
    "extension": "",
    "callerid": "",
    "max_attempts": "1",
}


async def operator(rig: Rig, aiohttp_client: Any) -> Staff:
    await add_user(rig, "ivanka", Role.OPERATOR)
    browser = Staff(await aiohttp_client(rig.app))
    await browser.log_in("ivanka")
    return browser


async def upload(
    browser: Staff, path: str, fields: dict[str, tuple[bytes, str, str] | str], *, status: int
) -> str:
    """A multipart form as a browser sends one; the CSRF token in the action URL."""
    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields.items():
        if isinstance(value, tuple):
            data, filename, kind = value
            form.add_field(name, data, filename=filename, content_type=kind)
        else:
            form.add_field(name, value)
    answer = await browser.client.post(
        f"{path}?csrf_token={browser.csrf}",
        data=form,
        headers={"Accept-Language": "en"},
        allow_redirects=False,
    )
    text = await answer.text()
    assert answer.status == status, (path, answer.status, text[:300])
    return text


async def test_create_edit_numbers_start_pause_export(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path) as rig:
        browser = await operator(rig, aiohttp_client)
        await _create(browser, rig)
        await _numbers(browser, rig)
        await _edit_start_pause(browser, rig)
        await _export_and_journal(browser, rig, clock)


async def _create(browser: Staff, rig: Rig) -> None:
    assert 'href="/admin/campaigns"' in await browser.page("/admin/")
    assert "No campaigns yet." in await browser.page("/admin/campaigns")
    await browser.page("/admin/campaigns/new")
    # Refused by field, the values kept.
    _, page, _ = await browser.post(
        "/admin/campaigns", {**SETTINGS, "cps": "fast", "window": "25:00-26:00"}, status=422
    )
    assert "pacing.cps" in page
    assert "window" in page
    assert 'value="fast"' in page
    _, page, _ = await browser.post(
        "/admin/campaigns", {**SETTINGS, "name": HOSTILE, "callerid": HOSTILE}, status=422
    )
    assert HOSTILE not in page
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    _, _, headers = await browser.post("/admin/campaigns", SETTINGS, status=303)
    assert headers["Location"] == "/admin/campaigns/1?said=created"
    page = await browser.page("/admin/campaigns/1?said=created")
    assert "Campaign created." in page
    assert 'name="day_mon" type="time" value="09:00"' in page
    assert 'name="day_fri" type="time" value="10:36"' in page
    assert 'name="day_tue" type="time" value=""' in page
    await browser.post("/admin/campaigns", SETTINGS, status=422)  # the name is taken
    info = await rig.service.spooler.campaigns.get("trucks")
    assert info.settings.schedule is not None
    assert str(info.settings.schedule) == "mon 09:00 fri 10:36"
    assert (info.settings.bundle_size, info.settings.bundle_delay) == (2, 10.0)
    assert (info.settings.max_concurrent, info.settings.cps) == (3, 0.5)
    assert info.settings.window == "09:00-20:00"


async def _numbers(browser: Staff, rig: Rig) -> None:
    # Numbers pasted (with their IVR extensions, as in the call-out service) …
    await browser.page("/admin/campaigns/1")
    page = await upload(
        browser,
        "/admin/campaigns/1/numbers",
        {"numbers": f"0501110001,1\n0501110002,2\n{HOSTILE},3\n"},
        status=200,
    )
    assert "Numbers: 2 added, 0 updated, 1 skipped." in page
    assert HOSTILE not in page
    assert "&lt;script&gt;" in page
    # … and uploaded: the call-out service's todo.json (phone, context = the extension).
    todo = json.dumps([{"phone": "0501110003", "context": "3"}]).encode()
    page = await upload(
        browser,
        "/admin/campaigns/1/numbers",
        {"numbers": "", "file": (todo, "todo.json", "application/json")},
        status=200,
    )
    assert "Numbers: 1 added" in page
    assert "+380501110003" in page
    report = await rig.service.spooler.campaigns.report("trucks")
    assert [(r.number, r.extension) for r in report] == [
        ("+380501110001", "1"),
        ("+380501110002", "2"),
        ("+380501110003", "3"),
    ]
    # An upload form whose URL lacks the token (or has another) is refused.
    browser_csrf = browser.csrf
    browser.csrf = "0" * 64
    await upload(browser, "/admin/campaigns/1/numbers", {"numbers": "0501110009"}, status=403)
    browser.csrf = browser_csrf
    # One number removed.
    _, page, _ = await browser.post(
        "/admin/campaigns/1/numbers/remove", {"number": "+380501110003"}
    )
    assert "+380501110003 removed." in page
    assert len(await rig.service.spooler.campaigns.report("trucks")) == 2


async def _edit_start_pause(browser: Staff, rig: Rig) -> None:
    # Edit: other pacing, no schedule.
    edited = {**SETTINGS, "day_mon": "", "day_fri": "", "cps": "2", "max_concurrent": "5"}
    _, _, headers = await browser.post("/admin/campaigns/1", edited, status=303)
    assert headers["Location"] == "/admin/campaigns/1?said=saved"
    info = await rig.service.spooler.campaigns.get("trucks")
    assert info.settings.schedule is None
    assert (info.settings.max_concurrent, info.settings.cps) == (5, 2.0)

    # Start and pause; a POST without its token changes nothing.
    assert (await browser.client.post("/admin/campaigns/1/start")).status == 403
    await browser.page("/admin/campaigns/1")
    await browser.post("/admin/campaigns/1/start", status=303)
    page = await browser.page("/admin/campaigns/1?said=started")
    assert "Campaign started." in page
    assert 'action="/admin/campaigns/1/pause"' in page
    assert (await rig.service.spooler.campaigns.get("trucks")).state.value == "running"
    await browser.post("/admin/campaigns/1/pause", status=303)
    assert (await rig.service.spooler.campaigns.get("trucks")).state.value == "paused"
    await browser.post("/admin/campaigns/1/pause", status=409)  # not running


async def _export_and_journal(browser: Staff, rig: Rig, clock: FixedClock) -> None:
    exported = await browser.client.get("/admin/campaigns/1/report.csv")
    assert exported.status == 200
    assert exported.headers["Content-Disposition"] == (
        'attachment; filename="campaign-1-report.csv"'
    )
    rows = list(csv.reader(io.StringIO(await exported.text())))
    assert rows[0][:3] == ["number", "extension", "status"]
    assert [r[0] for r in rows[1:]] == ["+380501110001", "+380501110002"]
    await browser.page("/admin/campaigns/99", status=404)
    await browser.page("/admin/campaigns/x", status=404)

    journal = await AuditJournal(rig.core.sessions, "local", clock).records(limit=50)
    by_ivanka = [r.detail for r in journal if r.source == "staff user ivanka"]
    assert "campaign trucks (id 1) created" in by_ivanka
    assert "campaign trucks: settings saved" in by_ivanka
    assert "campaign trucks: +380501110003 removed" in by_ivanka
    assert any(d.startswith("campaign trucks: numbers added 2") for d in by_ivanka)
    assert sum("campaign trucks: " in d for d in by_ivanka) == 6  # + start, pause


async def test_progress_and_per_number_outcomes(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    spool = make_spool(tmp_path)
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        browser = await operator(rig, aiohttp_client)
        await browser.page("/admin/campaigns/new")
        await browser.post("/admin/campaigns", {**SETTINGS, "cps": "10"}, status=303)
        await browser.page("/admin/campaigns/1")
        await upload(
            browser,
            "/admin/campaigns/1/numbers",
            {"numbers": "0501110001,1\n0501110002"},
            status=200,
        )
        await browser.post("/admin/campaigns/1/start", status=303)
        listed = await browser.page("/admin/campaigns")
        assert '<progress max="2" value="0" data-campaign-progress="1">' in listed
        assert 'http-equiv="refresh"' in listed  # a running campaign: the list reloads

        def fate(call: ArchivedCallFile) -> Fate:
            if call.variables["CAMPAIGN_NUMBER"] == "+380501110001":
                return Fate(5, digit="1")  # answered, pressed 1
            return Fate(5, reason=5)  # busy

        await run_calls(rig, spool, clock, fate)

        listed = await browser.page("/admin/campaigns")
        assert '<progress max="2" value="2" data-campaign-progress="1">' in listed
        row = listed.split('id="campaign-1"', 1)[1].split("</tr>", 1)[0]
        assert re.findall(r'<td class="num">(\d+)</td>', row) == ["2", "1", "1", "0"]
        page = await browser.page("/admin/campaigns/1")
        assert "2 of 2 numbers done" in page
        answered = page.split("<td>+380501110001</td>", 1)[1].split("</tr>", 1)[0]
        assert "<td>answered</td>" in answered
        assert "<td>1</td>" in answered  # pressed 1
        busy = page.split("<td>+380501110002</td>", 1)[1].split("</tr>", 1)[0]
        assert "given up" in busy
        assert "busy (5)" in busy
        only = await browser.page("/admin/campaigns/1?status=answered")
        assert "+380501110001" in only
        assert "+380501110002" not in only


async def test_the_message_is_uploaded_converted_and_played(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any, tone: bytes
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        browser = await operator(rig, aiohttp_client)
        await browser.page("/admin/campaigns/new")
        await browser.post("/admin/campaigns", SETTINGS, status=303)
        page = await browser.page("/admin/campaigns/1")
        assert "No message yet" in page
        assert (await browser.client.get("/admin/campaigns/1/audio.wav")).status == 404
        not_audio = await upload(
            browser,
            "/admin/campaigns/1/audio",
            {"file": (b"<html>" + HOSTILE.encode(), "x.mp3", "audio/mpeg")},
            status=415,
        )
        assert "not an audio file" in not_audio
        page = await upload(
            browser,
            "/admin/campaigns/1/audio",
            {"file": (tone, "hello.mp3", "audio/mpeg")},
            status=200,
        )
        assert "Message uploaded (1.0 s)." in page
        assert '<audio controls preload="none" src="/admin/campaigns/1/audio.wav">' in page
        played = await browser.client.get("/admin/campaigns/1/audio.wav")
        assert played.status == 200
        assert played.headers["Content-Type"] == "audio/wav"
        assert (await played.read())[:4] == b"RIFF"
        anonymous = Staff(await aiohttp_client(rig.app))
        answer = await anonymous.client.get("/admin/campaigns/1/audio.wav", allow_redirects=False)
        assert answer.status == 303


async def test_a_campaign_of_10000_numbers_pages_fast(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        browser = await operator(rig, aiohttp_client)
        await browser.page("/admin/campaigns/new")
        await browser.post("/admin/campaigns", SETTINGS, status=303)
        await browser.page("/admin/campaigns/1")
        pasted = "\n".join(f"0501{n:06d},{n % 9 + 1}" for n in range(10_000))
        started = time.perf_counter()
        page = await upload(browser, "/admin/campaigns/1/numbers", {"numbers": pasted}, status=200)
        imported = time.perf_counter() - started
        assert "Numbers: 10000 added" in page
        timings = {}
        for label, path in [
            ("list", "/admin/campaigns"),
            ("first page", "/admin/campaigns/1"),
        ]:
            started = time.perf_counter()
            page = await browser.page(path)
            timings[label] = time.perf_counter() - started
        # 100 pages on: the cursor of the 100th page (the API's), same cost as the first.
        cursor = re.search(r'href="\?cursor=([^"]+)"', page)
        assert cursor is not None
        for _ in range(3):
            deeper = await browser.page(f"/admin/campaigns/1?cursor={cursor.group(1)}")
            cursor = re.search(r'href="\?cursor=([^"]+)"', deeper)
            assert cursor is not None
        started = time.perf_counter()
        await browser.page(f"/admin/campaigns/1?cursor={cursor.group(1)}")
        timings["a later page"] = time.perf_counter() - started
        print(f"\n10,000 numbers: paste-import {imported:.2f} s; " + ", ".join(
            f"{k} {v * 1000:.0f} ms" for k, v in timings.items()
        ))  # fmt: skip
        assert all(seconds < 1.0 for seconds in timings.values()), timings
