"""The Askozia face over the call log: the capture replayed through the real recorder,
served by the running web application, read by Ubilling's WhyDoYouCall parser; recalls
shown as the parser recognises them; the status line's total from the log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from askozia_api.call_log_cdr import CallLogCdrSource
from call_log.store import CallLogStore
from missed_calls import MissedCallSettings, MissedCallTracker
from primitives.clock import FixedClock
from tests.askozia_api.test_askozia import FIELDS, askozia_app, curl_post, served, with_askozia
from tests.call_log.conftest import outgoing_call
from tests.conftest import Database
from tests.fakes.ubilling_wdyc import wdyc_parse
from tests.missed_calls.conftest import capture_messages
from tests.web.conftest import web_rig
from web.server import WebServer


async def test_the_call_log_as_the_source(
    database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    async with web_rig(database, clock, tmp_path, settings=with_askozia(database, tmp_path)) as rig:
        async with MissedCallTracker(
            rig.core.sessions, clock, rig.core.billing, MissedCallSettings()
        ) as tracker:
            for message in capture_messages():
                await tracker.on_ami_event(message)
            await tracker.flush()
        source = CallLogCdrSource(CallLogStore(rig.core.sessions, clock))
        assert await source.count_calls(clock.now() - timedelta(minutes=1)) == 3
        server = WebServer(rig.core.settings.http, rig.app)
        await server.start()
        try:
            status, csv = await curl_post(f"http://127.0.0.1:{server.port}", FIELDS)
        finally:
            await server.stop()
    assert status == 200
    rows = [line.split(";") for line in csv.splitlines()[1:]]
    # src, dst, dstchannel, lastapp, disposition, direction, duration, billsec, called
    assert [(r[1], r[2], r[6], r[7], r[14], r[16], r[12], r[13], r[18]) for r in rows] == [
        ("0671234567", "100", "", "", "NO ANSWER", "incoming", "4", "0", "100"),
        (
            "0939876543",
            "101",
            "Local/s@campaign-test-00000009,1",
            "",
            "ANSWERED",
            "incoming",
            "2",
            "1",
            "101",
        ),
        ("+380501112233", "102", "", "Queue", "NO ANSWER", "incoming", "3", "0", "102"),
    ]
    assert rows[0][9] == "2026-11-22 12:00:00"  # the call's start, local
    assert rows[1][10] == "2026-11-22 12:00:01"  # answered a second before its end
    assert wdyc_parse(csv).misscount == {"0671234567": 1, "+380501112233": 1}


async def test_recalls_as_ubillings_parser_counts_them(
    database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    """0671234567 is called back by operator 101, who dials it in another written form;
    +380501112233 by a callback the spooler saw answered (no call of the log)."""
    async with web_rig(database, clock, tmp_path) as rig:
        async with MissedCallTracker(
            rig.core.sessions, clock, rig.core.billing, MissedCallSettings()
        ) as tracker:
            for message in capture_messages():
                await tracker.on_ami_event(message)
            await tracker.flush()
            clock.instant += timedelta(minutes=10)
            for message in outgoing_call(number="+380671234567"):
                await tracker.on_ami_event(message)
            await tracker.flush()
            clock.instant += timedelta(minutes=5)
            assert await tracker.mark_recalled("0501112233", by="campaign-3-attempt-8") == 1
        source = CallLogCdrSource(CallLogStore(rig.core.sessions, clock))
        async for url in served(askozia_app(clock, source, tmp_path)):
            status, csv = await curl_post(url, FIELDS)
    assert status == 200
    rows = [line.split(";") for line in csv.splitlines()[1:]]
    assert [(r[1], r[2], r[14], r[16], r[9][11:]) for r in rows] == [
        ("0671234567", "100", "NO ANSWER", "incoming", "12:00:00"),
        ("0939876543", "101", "ANSWERED", "incoming", "12:00:00"),
        ("+380501112233", "102", "NO ANSWER", "incoming", "12:00:00"),
        ("101", "0671234567", "ANSWERED", "outgoing", "12:10:00"),  # dialled +380671234567
        ("", "+380501112233", "ANSWERED", "outgoing", "12:15:00"),  # the callback
    ]
    parsed = wdyc_parse(csv)
    assert parsed.misscount == {}
    assert parsed.recalled == {
        "0671234567": {"time": 60, "count": 1, "trytime": 600},
        "+380501112233": {"time": 0, "count": 1, "trytime": 900},
    }
