"""`/api/v1/campaigns`: create, edit, schedule, numbers, start and pause; a run placed through
the fake call-file Asterisk, read back as status, report pages and the CSV export (the same
bytes as `pbxbridge campaign report --csv`)."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from callfile_spooler.callfile import ArchivedCallFile
from pbxbridge.cli.campaign import campaign as campaign_command
from pbxbridge.cli.common import CliState
from primitives.clock import FixedClock
from tests.callfile_spooler.fake_asterisk import Fate
from tests.conftest import Database
from tests.web.apiclient import Api, make_spool, run_calls
from tests.web.conftest import web_rig
from web.tokens import Scope

ALL_DAYS_OFF = dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "00:00")


async def test_create_edit_schedule_numbers_start_pause(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        api = Api(client, await rig.token(Scope.CAMPAIGNS))
        other_id = await _create_and_list(api)
        await _edit_and_schedule(api)
        await _add_and_remove_numbers(api)
        await _start_pause_resume(api, other_id=other_id)
        # A callback's one-number campaign is no campaign here.
        await rig.service.callbacks.request("0507000000", source="test")
        callback_campaign = 3
        for path in (f"/campaigns/{callback_campaign}", "/campaigns/99"):
            assert await api.fails("GET", path, 404) == ("not_found", None)
            assert await api.fails("POST", path + "/start", 404) == ("not_found", None)
        assert len((await api.get("/campaigns"))["items"]) == 2

        callbacks_only = Api(client, await rig.token(Scope.CALLBACKS, name="callbacks"))
        for method, path in (("GET", "/campaigns"), ("POST", "/campaigns/1/start")):
            assert await callbacks_only.fails(method, path, 403) == ("forbidden", None)


async def _create_and_list(api: Api) -> int:
    """Two campaigns made and listed; the second's id."""
    made = await api.call(
        "POST",
        "/campaigns",
        201,
        json={
            "name": "december",
            "callerid": '"ISP" <0441234567>',
            "pacing": {"max_concurrent": 2, "cps": 5},
            "window": "09:00-20:00",
            "schedule": {"mon": "10:00"},
            "max_attempts": 2,
        },
    )
    assert made.headers["Location"] == "/api/v1/campaigns/1"
    created = made.body
    assert created == {
        "id": 1,
        "name": "december",
        "state": "idle",
        "run": 0,
        "context": "pbxbridge-campaign",
        "extension": "s",
        "callerid": '"ISP" <0441234567>',
        "pacing": {"bundle": 0, "delay": 0.0, "max_concurrent": 2, "cps": 5.0},
        "window": "09:00-20:00",
        "schedule": {**ALL_DAYS_OFF, "mon": "10:00"},
        "max_attempts": 2,
        "last_run_on": None,
        "created_at": "2026-11-22T10:00:00Z",
        "started_at": None,
        "finished_at": None,
    }
    assert await api.get("/campaigns/1") == created
    taken = await api.call("POST", "/campaigns", 409, json={"name": "december"})
    assert taken.error == ("conflict", "name")
    other = await api.post("/campaigns", 201, json={"name": "other"})

    assert [c["id"] for c in (await api.get("/campaigns"))["items"]] == [2, 1]
    assert (await api.get("/campaigns?name=december"))["items"] == [created]
    assert (await api.get("/campaigns?name=nope"))["items"] == []
    assert len((await api.get("/campaigns?state=idle"))["items"]) == 2
    assert (await api.get("/campaigns?state=running"))["items"] == []
    page = await api.get("/campaigns?limit=1")
    assert [c["id"] for c in page["items"]] == [2]
    rest = await api.get(f"/campaigns?cursor={page['next']}")
    assert [c["id"] for c in rest["items"]] == [1]
    return int(other["id"])


async def _edit_and_schedule(api: Api) -> None:
    # PATCH: what is given changes; null clears; pacing value by value.
    edited = await api.call(
        "PATCH",
        "/campaigns/1",
        200,
        json={"name": "december-2", "pacing": {"cps": 2}, "window": None},
    )
    assert edited.body["name"] == "december-2"
    assert edited.body["pacing"] == {
        "bundle": 0,
        "delay": 0.0,
        "max_concurrent": 2,
        "cps": 2.0,
    }
    assert (edited.body["window"], edited.body["callerid"]) == (None, '"ISP" <0441234567>')
    clash = await api.call("PATCH", "/campaigns/1", 409, json={"name": "other"})
    assert clash.error == ("conflict", "name")

    week = await api.call("PUT", "/campaigns/1/schedule", 200, json={"tue": "09:30"})
    assert week.body["schedule"] == {**ALL_DAYS_OFF, "tue": "09:30"}
    cleared = await api.call("DELETE", "/campaigns/1/schedule", 200)
    assert cleared.body["schedule"] is None


async def _add_and_remove_numbers(api: Api) -> None:
    added = await api.post(
        "/campaigns/1/numbers",
        json={
            "numbers": [
                "0501110001",
                {"number": "050 111 00 02", "extension": "2", "vars": {"DEBT": "120"}},
                "12",
                {"number": "0501110003", "vars": {"CAMPAIGN_ID": "6"}},
                {"number": "0501110004", "context": "7"},
            ]
        },
    )
    reserved = "variable CAMPAIGN_ID: CAMPAIGN_* variables are set by pbxbridge"
    assert added == {
        "added": 3,
        "updated": 0,
        "queued": 0,
        "skipped": [
            {"index": 3, "reason": "'12' is not a valid phone number"},
            {"index": 4, "reason": reserved},
        ],
    }
    updated = await api.post(
        "/campaigns/1/numbers", json={"numbers": [{"number": "0501110002", "extension": "3"}]}
    )
    assert (updated["added"], updated["updated"]) == (0, 1)
    removed = await api.call(
        "DELETE",
        "/campaigns/1/numbers",
        200,
        json={"numbers": ["0501110001", "0509999999", "abc"]},
    )
    assert removed.body == {"removed": 1, "missing": ["abc", "+380509999999"], "busy": []}
    report = await api.get("/campaigns/1/report")
    assert [(n["number"], n["extension"]) for n in report["items"]] == [
        ("+380501110002", "3"),
        ("+380501110004", "7"),
    ]


async def _start_pause_resume(api: Api, *, other_id: int) -> None:
    started = await api.post("/campaigns/1/start")
    assert started["message"] == "december-2: run 1 started, 2 number(s) queued"
    assert (started["campaign"]["state"], started["campaign"]["run"]) == ("running", 1)
    again = await api.post("/campaigns/1/start")
    assert again["message"] == "december-2: already running (run 1)"
    # Numbers added to a run under way join it.
    joined = await api.post("/campaigns/1/numbers", json={"numbers": ["0501110005"]})
    assert (joined["added"], joined["queued"]) == (1, 1)
    status = await api.get("/campaigns/1/status")
    assert (status["numbers"], status["done"]) == (3, 0)
    assert status["by_number_status"] == {"pending": 3}
    assert status["calls"] == {"queued": 3}
    assert status["message"] is None
    paused = await api.post("/campaigns/1/pause")
    assert paused["campaign"]["state"] == "paused"
    assert await api.fails("POST", "/campaigns/1/pause", 409) == ("conflict", None)
    resumed = await api.post("/campaigns/1/start")
    assert resumed["message"] == "december-2: run 1 resumed"
    empty = await api.call("POST", f"/campaigns/{other_id}/start", 409)
    assert empty.body["error"]["message"] == ("campaign 'other' has no numbers: import some first")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "callback-7"}, "name"),  # the callback requests' own names
        ({"name": "two words"}, "name"),
        ({"name": "x", "context": "two words"}, "context"),
        ({"name": "x", "extension": "h"}, "extension"),  # Asterisk's hangup extension
        ({"name": "x", "callerid": 'ISP" <1>'}, "callerid"),
        ({"name": "x", "pacing": {"cps": 0}}, "pacing.cps"),
        ({"name": "x", "pacing": {"delay": False}}, "pacing.delay"),
        ({"name": "x", "pacing": {"max_concurrent": "5"}}, "pacing.max_concurrent"),
        ({"name": "x", "window": "25:00-26:00"}, "window"),
        ({"name": "x", "window": "9-18"}, "window"),
        ({"name": "x", "schedule": {"mon": "24:00"}}, "schedule"),
        ({"name": "x", "schedule": {"monday": "10:00"}}, "schedule.monday"),
        ({"name": "x", "max_attempts": 21}, "max_attempts"),
    ],
)
async def test_campaign_values_are_refused_by_field(
    sqlite_database: Database,
    clock: FixedClock,
    tmp_path: Path,
    aiohttp_client: Any,
    body: dict[str, Any],
    field: str,
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        api = Api(await aiohttp_client(rig.app), await rig.token())
        assert await api.fails("POST", "/campaigns", 422, json=body) == ("invalid", field)
        assert await api.get("/campaigns") == {"items": [], "next": None}


async def test_query_and_path_values_are_checked(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        api = Api(await aiohttp_client(rig.app), await rig.token())
        for path, field in (
            ("/campaigns?limit=0", "limit"),
            ("/campaigns?limit=501", "limit"),
            ("/campaigns?limit=%2B5", "limit"),
            ("/campaigns?cursor=nonsense", "cursor"),
            ("/campaigns?since=yesterday", "since"),
            ("/campaigns?until=0.5", "until"),
            ("/campaigns?since=20261122", "since"),  # ISO's basic form: not in the document
            ("/campaigns?since=2026-11-22%2010:00", "since"),  # a blank for the T
            ("/campaigns?since=2026-11-23&until=2026-11-21", "until"),
            ("/campaigns?state=lost", "state"),
            ("/campaigns?colour=red", "colour"),
            (f"/campaigns/{2**31}", "id"),
            ("/campaigns/1e3", "id"),
            ("/campaigns/1/report?status=won", "status"),
        ):
            assert await api.fails("GET", path, 422) == ("invalid", field), path


async def test_a_run_read_back_as_status_report_and_csv(
    database: Database,
    clock: FixedClock,
    tmp_path: Path,
    aiohttp_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spool = make_spool(tmp_path)
    async with web_rig(database, clock, tmp_path) as rig:
        api = Api(await aiohttp_client(rig.app), await rig.token(Scope.CAMPAIGNS))
        made = await api.post(
            "/campaigns", 201, json={"name": "promo", "max_attempts": 1, "pacing": {"cps": 10}}
        )
        numbers = [{"number": "0501110001", "extension": "+1"}, "0501110002"]
        await api.post(f"/campaigns/{made['id']}/numbers", json={"numbers": numbers})
        await api.post(f"/campaigns/{made['id']}/start")

        def fate(call: ArchivedCallFile) -> Fate:
            if call.variables["CAMPAIGN_NUMBER"] == "+380501110001":
                return Fate(5, digit="1")  # answered, pressed 1
            return Fate(5, reason=5)  # busy

        await run_calls(rig, spool, clock, fate)

        status = await api.get("/campaigns/1/status")
        assert status["campaign"]["state"] == "done"
        assert (status["numbers"], status["done"]) == (2, 2)
        assert status["by_number_status"] == {"answered": 1, "given_up": 1}
        assert status["calls"] == {"answered": 1, "busy": 1}

        first = await api.get("/campaigns/1/report?limit=1")
        second = await api.get(f"/campaigns/1/report?limit=1&cursor={first['next']}")
        assert second["next"] is None
        answered, busy = first["items"][0], second["items"][0]
        assert answered == {
            "number": "+380501110001",
            "extension": "+1",
            "status": "answered",
            "attempts": 1,
            "last_outcome": "answered",
            "reason": 4,
            "reason_text": "answered",
            "digit": "1",
            "last_attempt_at": "2026-11-22T10:00:00Z",
        }
        assert (busy["status"], busy["last_outcome"], busy["reason"], busy["reason_text"]) == (
            "given_up",
            "busy",
            5,
            "busy",
        )
        only = await api.get("/campaigns/1/report?status=answered")
        assert [n["number"] for n in only["items"]] == ["+380501110001"]

        exported = await api.call("GET", "/campaigns/1/report.csv", 200)
        assert exported.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert exported.headers["Content-Disposition"] == (
            'attachment; filename="campaign-1-report.csv"'
        )
        rows = list(csv.reader(io.StringIO(exported.body)))
        assert rows == [
            [
                "number",
                "extension",
                "status",
                "attempts",
                "last_outcome",
                "reason",
                "reason_text",
                "digit",
                "last_attempt",
            ],
            [
                "+380501110001",
                "'+1",
                "answered",
                "1",
                "answered",
                "4",
                "answered",
                "1",
                "2026-11-22 12:00:00 EET",
            ],
            [
                "+380501110002",
                "",
                "given_up",
                "1",
                "busy",
                "5",
                "busy",
                "",
                "2026-11-22 12:00:00 EET",
            ],
        ]  # fmt: skip  (the extension is quoted: `+1` would be a formula in a spreadsheet)
        assert (await api.fails("GET", "/campaigns/9/report.csv", 404)) == ("not_found", None)

    # The CLI's export of the same campaign: the same bytes.
    for name in ("PBXBRIDGE_CONFIG", "PBXBRIDGE_BILLING__BACKEND"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "pbxbridge.toml"
    config.write_text(f'[database]\nurl = "{database.url}"\n', encoding="utf-8")
    cli = await asyncio.to_thread(
        CliRunner().invoke,
        campaign_command,
        ["report", "promo", "--csv"],
        obj=CliState(config=config, clock=clock),
    )
    assert cli.exit_code == 0, cli.output
    assert cli.stdout == exported.body
