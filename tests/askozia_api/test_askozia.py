"""The Askozia PBX face: Basic auth, the CDR CSV as Ubilling's parser reads it, the status.

`wdyc_parse` is Ubilling's WhyDoYouCall parser of the Askozia CSV
(api/libs/api.wdyc.php `fetchAskoziaCalls`, reference §1.4), re-implemented in
tests/fakes/ubilling_wdyc.py: explode on `\\n`, drop empty lines, explode on `;`, delete
`"`, skip the header, the "CFE fix" (more than 25 fields: drop field 3), fields 1, 2, 7, 9,
13, 14 and 16, rows of a day of billsec or more ignored. It is fed what the face answers
over HTTP, as curl sends Ubilling's request (multipart, Basic auth).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ami_listener import AmiClient, AmiSettings
from ami_listener.message import AmiMessage
from askozia_api.askozia import AskoziaDeps, askozia_face
from askozia_api.auth_log import AuthFailures
from askozia_api.cdr import CdrRecord, csv_line
from askozia_api.cdr import field as cdr_field
from askozia_api.settings import AskoziaSettings
from askozia_api.status import PbxStatus, StatusProbe, ram_percent, uptime_text
from pbxbridge.settings import Settings
from primitives.clock import Clock, FixedClock
from tests.ami_listener.conftest import TEST_SETTINGS, connected
from tests.askozia_api.conftest import settings_with
from tests.conftest import Database
from tests.fakes.ami_asterisk import FakeAmi, success
from tests.fakes.ubilling_wdyc import wdyc_parse
from tests.missed_calls.conftest import capture_messages
from tests.web.conftest import web_rig

Client = TestClient[web.Request, web.Application]

USER, PASSWORD = "admin", "askozia-secret-Zq9"
DAY = "2026-11-22"
FIELDS = {
    "extension_number": "all",
    "cdr_filter": "incomingoutgoing",
    "period_from": DAY,
    "period_to": DAY,
    "date_format": "Y-m-d",
    "time_format": "H:i:s",
    "page_format": "A4",
    "SubmitCSVCDR": "Download CSV",
}


# ------------------------------------------------------------------ a call log of the capture


def _when(text: str, clock: Clock) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=clock.tz)


def from_cdr_event(event: AmiMessage, clock: Clock) -> CdrRecord:
    """One captured `Cdr` event as the call log will keep it: `UserField: out` is an
    outgoing call, every other row of the capture is inbound (all its calls are)."""
    start = _when(event.get("StartTime") or "", clock)
    assert start is not None
    userfield = event.get("UserField") or ""
    return CdrRecord(
        accountcode=event.get("AccountCode") or "",
        src=event.get("Source") or "",
        dst=event.get("Destination") or "",
        dcontext=event.get("DestinationContext") or "",
        clid=event.get("CallerID") or "",
        channel=event.get("Channel") or "",
        dstchannel=event.get("DestinationChannel") or "",
        lastapp=event.get("LastApplication") or "",
        lastdata=event.get("LastData") or "",
        start=start,
        answer=_when(event.get("AnswerTime") or "", clock),
        end=_when(event.get("EndTime") or "", clock),
        duration=int(event.get("Duration") or 0),
        billsec=int(event.get("BillableSeconds") or 0),
        disposition=event.get("Disposition") or "",
        amaflags=event.get("AMAFlags") or "",
        uniqueid=event.get("UniqueID") or "",
        userfield=userfield,
        direction="outgoing" if userfield == "out" else "incoming",
        called=event.get("Destination") or "",
    )


class CapturedCalls:
    """A CdrSource stub over rows built from the capture's real Cdr events."""

    def __init__(self, rows: Iterable[CdrRecord], clock: Clock) -> None:
        self.rows = sorted(rows, key=lambda r: r.start)  # stable: capture order within a second
        self.clock = clock

    async def records(self, first: date, last: date) -> AsyncIterator[CdrRecord]:
        for row in self.rows:
            if first <= self.clock.local(row.start).date() <= last:
                yield row

    async def count_calls(self, since: datetime) -> int | None:
        return len({r.uniqueid.split(".")[0] for r in self.rows if r.start >= since})


def captured_rows(clock: Clock) -> list[CdrRecord]:
    return [from_cdr_event(m, clock) for m in capture_messages() if m.name == "Cdr"]


def recall_of(number: str, rows: list[CdrRecord], after: timedelta) -> list[CdrRecord]:
    """The capture's answered call (0939876543 → 101) placed the other way: operator 101
    calls `number` back, `after` later (its real rows re-addressed, userfield out)."""
    answered = [r for r in rows if r.src == "0939876543"]
    return [
        CdrRecord(
            src="101",
            dst=number,
            start=r.start + after,
            answer=r.answer + after if r.answer else None,
            end=r.end + after if r.end else None,
            duration=r.duration,
            billsec=r.billsec,
            disposition=r.disposition,
            dcontext=r.dcontext,
            channel=r.channel,
            dstchannel=r.dstchannel,
            lastapp=r.lastapp,
            lastdata=r.lastdata,
            amaflags=r.amaflags,
            uniqueid=r.uniqueid,
            userfield="out",
            direction="outgoing",
        )
        for r in answered
    ]


# ------------------------------------------------------------------ rigs


def with_askozia(database: Database, folder: Path) -> Settings:
    return settings_with(database, folder, askozia={"username": USER, "password": PASSWORD})


def askozia_app(
    clock: FixedClock, calls: Any, tmp_path: Path, probe: StatusProbe | None = None
) -> web.Application:
    settings = AskoziaSettings(username=USER, password=PASSWORD)
    status = probe or StatusProbe(clock, ami=None, disk=tmp_path)
    app = web.Application()
    askozia_face(AskoziaDeps(settings, clock, calls, status, AuthFailures(clock)))(app)
    return app


def basic(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def curl_post(url: str, fields: dict[str, str], user: str = USER) -> tuple[int, str]:
    """What Ubilling does: curl, CURLOPT_USERPWD, CURLOPT_POSTFIELDS as an array (multipart)."""
    args = ["curl", "-s", "-w", "\n%{http_code}", "-u", f"{user}:{PASSWORD}"]
    for name, value in fields.items():
        args += ["-F", f"{name}={value}"]
    process = await asyncio.create_subprocess_exec(
        *args, url + "/status_cdr.php", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    text, _, code = out.decode().rpartition("\n")
    return int(code), text


async def served(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


# ------------------------------------------------------------------ the CDR export


async def test_ubillings_parser_finds_the_captures_missed_calls(
    clock: FixedClock, tmp_path: Path
) -> None:
    calls = CapturedCalls(captured_rows(clock), clock)
    assert len(calls.rows) == 9
    async for url in served(askozia_app(clock, calls, tmp_path)):
        status, csv = await curl_post(url, FIELDS)
    assert status == 200
    assert csv.startswith("accountcode;src;dst;")
    lines = csv.split("\n")
    assert len(lines) == 1 + 9 + 1  # header, 9 rows…
    assert lines[-1] == ""  # …each ending in a newline
    assert all(len(line.split(";")) == 20 for line in lines[:-1])  # never the CFE fix
    # a Local channel's ;2 cannot shift the columns
    assert "Local/100@inbound-test-00000006,2" in csv
    parsed = wdyc_parse(csv)
    assert parsed.misscount == {"0671234567": 3, "+380501112233": 2}
    assert parsed.recalled == {}
    assert parsed.unanswered["0671234567"][9] == "2026-11-22 01:38:09"  # the last try


async def test_ubillings_parser_sees_the_recall(clock: FixedClock, tmp_path: Path) -> None:
    rows = captured_rows(clock)
    calls = CapturedCalls([*rows, *recall_of("0671234567", rows, timedelta(minutes=10))], clock)
    async for url in served(askozia_app(clock, calls, tmp_path)):
        status, csv = await curl_post(url, FIELDS)
    assert status == 200
    parsed = wdyc_parse(csv)
    assert parsed.misscount == {"+380501112233": 2}
    # 01:48:12 (the recall) - 01:38:09 (the last miss); talk time of its first row
    assert parsed.recalled == {"0671234567": {"time": 1, "count": 1, "trytime": 603}}


async def test_filters_and_bad_requests(
    clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    rows = captured_rows(clock)
    calls = CapturedCalls([*rows, *recall_of("0671234567", rows, timedelta(minutes=10))], clock)
    client: Client = await aiohttp_client(askozia_app(clock, calls, tmp_path))

    async def post(**changes: str) -> tuple[int, str]:
        answer = await client.post("/status_cdr.php", data={**FIELDS, **changes}, headers=basic())
        return answer.status, await answer.text()

    status, outgoing = await post(cdr_filter="outgoing")
    assert status == 200
    assert [line.split(";")[2] for line in outgoing.splitlines()[1:]] == ["0671234567"] * 3
    _, extension = await post(extension_number="102")
    assert {line.split(";")[1] for line in extension.splitlines()[1:]} == {"+380501112233"}
    _, other_day = await post(period_from="2026-11-23", period_to="2026-11-23")
    assert other_day.splitlines() == [other_day.splitlines()[0]]  # the header alone
    for bad in (
        {"period_from": "22.11.2026"},
        {"period_to": "2026-11-21"},
        {"period_from": "2020-01-01"},
        {"date_format": "d.m.Y"},
        {"cdr_filter": "everything"},
    ):
        assert (await post(**bad))[0] == 400, bad


def test_a_value_cannot_break_the_columns(clock: FixedClock) -> None:
    hostile = CdrRecord(
        src='0501;2"3\n4',
        dst="100",
        start=clock.now(),
        disposition="NO ANSWER",
        clid='"Evil;Name" <1>',
    )
    line = csv_line(hostile, clock.tz)
    assert line.endswith("\n")
    assert line.count("\n") == 1
    assert len(line.rstrip("\n").split(";")) == 20
    assert '"' not in line
    assert cdr_field("a;b\r\x00c") == "a,b  c"


# ------------------------------------------------------------------ Basic auth


async def test_basic_auth(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path, settings=with_askozia(database, tmp_path)) as rig:
        client: Client = await aiohttp_client(rig.app)
        for headers in (
            {},
            basic(password="wrong"),
            basic(user="root"),
            {"Authorization": "Basic !!!"},
            {"Authorization": "Bearer x"},
            {"Authorization": "Basic " + base64.b64encode(PASSWORD.encode()).decode()},
        ):
            for method, url in (
                ("POST", "/status_cdr.php"),
                ("GET", "/external_get_info.php?data=main"),
            ):
                answer = await client.request(method, url, headers=headers, data=FIELDS)
                assert answer.status == 401, (headers, url)
                assert answer.headers["WWW-Authenticate"].startswith("Basic realm=")
                assert PASSWORD not in await answer.text()
        good = await client.get("/external_get_info.php?data=main", headers=basic())
        assert good.status == 200
        assert (await client.get("/external_get_info.php?data=x", headers=basic())).status == 400
        assert (await client.get("/status_cdr.php", headers=basic())).status == 405


# ------------------------------------------------------------------ the status line


def test_status_line_and_uptime_words() -> None:
    line = PbxStatus(2, None, 4, 3, timedelta(days=3, hours=4, minutes=5), 41, 7).line()
    assert line == "main;2;;4;3;3 days 4 hours;41;7"
    assert uptime_text(timedelta(hours=1, minutes=5)) == "1 hour 5 min"
    assert uptime_text(timedelta(minutes=59, seconds=59)) == "59 min"
    assert uptime_text(timedelta(days=1, hours=1)) == "1 day 1 hour"
    assert PbxStatus().line() == "main;;;;;;;"


def test_ram_percent_reads_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       8000000 kB\nMemFree: 1 kB\nMemAvailable:   2000000 kB\n")
    assert ram_percent(meminfo) == 75
    meminfo.write_text("MemTotal: 0 kB\n")
    assert ram_percent(meminfo) is None
    assert ram_percent(tmp_path / "missing") is None


async def test_status_from_the_ami_link(clock: FixedClock, tmp_path: Path) -> None:
    """CoreShowChannels answers from the capture (4 channels of 2 calls); CoreStatus and
    DeviceStateList are HAND-MADE replies in manager.c's shapes."""
    async with FakeAmi(secret="s3cret") as fake:
        fake.on_action(
            "CoreStatus",
            lambda a: success(
                CoreStartupDate="2026-11-20",
                CoreStartupTime="09:30:00",
                CoreReloadDate="2026-11-20",
                CoreReloadTime="09:30:00",
                CoreCurrentCalls="4",
            ),
        )

        def devices(action: AmiMessage) -> list[dict[str, str]]:
            states = [
                ("PJSIP/101", "NOT_INUSE"),
                ("PJSIP/102", "INUSE"),
                ("PJSIP/103", "UNAVAILABLE"),
                ("SIP/104", "RINGING"),
                ("Local/100@ctx", "NOT_INUSE"),
                ("Queue:support", "NOT_INUSE"),
            ]
            return [
                success(EventList="start", Message="Device State Changes will follow"),
                *({"Event": "DeviceStateChange", "Device": d, "State": s} for d, s in states),
                {"Event": "DeviceStateListComplete", "EventList": "Complete", "ListItems": "6"},
            ]

        fake.on_action("DeviceStateList", devices)
        client = AmiClient(AmiSettings(**{**TEST_SETTINGS, "port": fake.port, "secret": "s3cret"}))
        await client.start()
        try:
            await connected(client)
            calls = CapturedCalls(captured_rows(clock), clock)
            meminfo = tmp_path / "meminfo"
            meminfo.write_text("MemTotal: 1000 kB\nMemAvailable: 590 kB\n")
            probe = StatusProbe(clock, ami=client, disk=tmp_path, calls=calls, meminfo=meminfo)
            status = await probe.status()
            assert (status.channels, status.current_calls, status.phones) == (4, 2, 3)
            # 2026-11-22 12:00 Kyiv - 2026-11-20 09:30 Kyiv
            assert status.uptime == timedelta(days=2, hours=2, minutes=30)
            assert status.total_calls == 3  # the capture's three calls, all since then
            assert status.ram_percent == 41
            assert status.disk_percent is not None
            assert 0 <= status.disk_percent <= 100
            assert status.line().startswith("main;2;3;4;3;2 days 2 hours;41;")

            # an AMI user without `reporting`: those figures are left empty, not made up
            fake.fail_action("CoreShowChannels", "Permission denied")
            fake.fail_action("CoreStatus", "Permission denied")
            limited = await probe.status()
            assert (limited.channels, limited.current_calls, limited.uptime) == (None, None, None)
            assert (limited.phones, limited.total_calls) == (3, None)
        finally:
            await client.stop()
    down = await StatusProbe(clock, ami=client, disk=tmp_path / "nowhere").status()
    assert down == PbxStatus(ram_percent=down.ram_percent)  # AMI stopped, no disk: empty


@pytest.mark.parametrize("data", ["main"])
async def test_external_get_info_over_http(
    clock: FixedClock, tmp_path: Path, aiohttp_client: Any, data: str
) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 1000 kB\nMemAvailable: 250 kB\n")
    probe = StatusProbe(clock, ami=None, disk=tmp_path, meminfo=meminfo)
    client: Client = await aiohttp_client(askozia_app(clock, None, tmp_path, probe))
    answer = await client.get(f"/external_get_info.php?data={data}", headers=basic())
    text = await answer.text()
    assert text.startswith("main;;;;;;75;")
    assert text.endswith("\n")
    # Ubilling's zb_AskoziaParseStatus: the last line holding a ';'
    parse = [line for line in text.split("\n") if ";" in line][-1].split(";")
    assert (parse[1], parse[2], parse[4], parse[6]) == ("", "", "", "75")
