"""Numbers from CSV and JSON (bad rows reported by line, good rows land); schedules."""

from __future__ import annotations

import json
from datetime import datetime, time
from pathlib import Path

import pytest
from sqlalchemy import select

from callfile_spooler.campaigns import CampaignManager
from callfile_spooler.errors import NumbersFileError, ScheduleError
from callfile_spooler.imports import parse_csv, parse_json, parse_numbers
from callfile_spooler.models import CampaignNumber
from callfile_spooler.schedule import TimeWindow, WeeklySchedule
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.conftest import Database

PHONES = PhoneNormaliser("UA")

CSV = (
    "number,extension,VAR_GREETING,VAR_dtmf\n"  # line 1
    "0501110001,1,Добрий день,1\n"  # 2
    "+38 (050) 111-00-02,,,\n"  # 3
    "12345,1,,\n"  # 4 not a number
    "0501110003,#1,,\n"  # 5 an extension starting a comment
    '0501110004,2,"Hi\nApplication: System",\n'  # 6-7 a value with a newline
    "0501110001,3,,\n"  # 8 repeats line 2
    "0501110005,s,a;b,\n"  # 9 ';'
    '0501110006,ivr-2,"x, y",2\n'  # 10
    "0501110007\n"  # 11 too few cells
)


def test_csv_bad_rows_reported_by_line_good_rows_kept() -> None:
    parsed = parse_csv(CSV, PHONES)
    assert [(r.line, r.number) for r in parsed.rows] == [
        (2, "+380501110001"),
        (3, "+380501110002"),
        (10, "+380501110006"),
    ]
    assert parsed.rows[0].extension == "1"
    assert parsed.rows[0].variables == (("GREETING", "Добрий день"), ("dtmf", "1"))
    assert parsed.rows[1].extension is None
    assert parsed.rows[1].variables == ()
    assert parsed.rows[2].variables == (("GREETING", "x, y"), ("dtmf", "2"))
    problems = dict(parsed.problems)
    assert sorted(problems) == [4, 5, 6, 8, 9, 11]
    assert "not a valid phone number" in problems[4]
    assert "not _ or # first" in problems[5]
    assert "control or line-break" in problems[6]
    assert "repeats line 2" in problems[8]
    assert "';'" in problems[9]
    assert "cells" in problems[11]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("phone\n0501110001\n", "no `number` column"),
        ("number,extention\n0501110001,1\n", "unknown column"),
        ("number,number\n1,2\n", "twice"),
    ],
)
def test_csv_whole_file_problems(text: str, message: str) -> None:
    with pytest.raises(NumbersFileError, match=message):
        parse_csv(text, PHONES)


def test_reserved_and_bad_variable_names() -> None:
    """In CSV they are the header's fault: said once for the file, not once per row."""
    for header, why in (("VAR_CAMPAIGN_ID", "set by pbxbridge"), ("VAR_1x", "variable name")):
        with pytest.raises(NumbersFileError, match=f"header: .*{why}"):
            parse_csv(f"number,{header}\n0501110001,5\n0501110002,6\n", PHONES)
    parsed = parse_json('[{"number": "0501110001", "vars": {"CAMPAIGN_ID": "5"}}]', PHONES)
    assert not parsed.rows
    assert "set by pbxbridge" in parsed.problems[0][1]


def test_a_row_that_lands_can_be_written() -> None:
    """What the call file could not carry is refused at import, by line, not at spool time
    (where the number would silently end as failed)."""
    long = "x" * 300
    parsed = parse_json(
        "[\n"
        f'{{"number": "0501110001", "vars": {{"NOTE": "{long}"}}}},\n'
        '{"number": "0501110002", "vars": {"N": 1e400}},\n'
        '{"number": "0501110003", "vars": {"N": NaN}},\n'
        '{"number": "0501110004", "extension": "failed"},\n'
        '{"number": "0501110005", "extension": "h"},\n'
        '{"number": "0501110006", "extension": "2", "vars": {"N": 1.5}}\n'
        "]",
        PHONES,
    )
    assert [r.number for r in parsed.rows] == ["+380501110006"]
    lines = dict(parsed.problems)
    assert "longer than 255" in lines[2]
    assert "not a number a call can carry" in lines[3]
    assert "not a number a call can carry" in lines[4]
    assert "Asterisk keeps for its own events" in lines[5]
    assert "Asterisk keeps for its own events" in lines[6]


def test_json_lines_and_the_seeds_todo_format() -> None:
    text = json.dumps(
        [
            {"number": "0501110001", "extension": "1", "vars": {"GREETING": "Привіт"}},
            {"phone": "+7 916 111-11-11", "context": "2"},  # the seed's todo.json
            "0501110003",
            {"number": "nope"},
            {"number": "0501110004", "vars": {"X": "a\nApplication: System"}},
            {"extension": "1"},
            {"number": "0501110005", "vars": ["not", "an", "object"]},
            {"number": 501110006},
        ],
        indent=2,
        ensure_ascii=False,
    )
    parsed = parse_json(text, PHONES)
    assert [(r.number, r.extension) for r in parsed.rows] == [
        ("+380501110001", "1"),
        ("+79161111111", "2"),
        ("+380501110003", None),
        ("+380501110006", None),
    ]
    assert parsed.rows[0].variables == (("GREETING", "Привіт"),)
    lines = [line for line, _ in parsed.problems]
    # Each problem names the line its item starts on.
    assert [text.splitlines()[n - 1].strip()[:1] for n in lines] == ["{", "{", "{", "{"]
    assert len(lines) == 4
    assert parse_numbers(text, PHONES).rows == parsed.rows  # guessed as JSON


@pytest.mark.parametrize(
    ("text", "message"),
    [("{}", "array"), ("[1, 2", "not JSON"), ('[{"number": "1"} {}]', "expected , or ]")],
)
def test_json_whole_file_problems(text: str, message: str) -> None:
    with pytest.raises(NumbersFileError, match=message):
        parse_json(text, PHONES)


async def test_import_file_into_a_campaign(db: Database, clock: FixedClock, tmp_path: Path) -> None:
    manager = CampaignManager(db.sessions, clock, PHONES)
    await manager.create("promo")
    path = tmp_path / "numbers.csv"
    path.write_text(CSV, encoding="utf-8")
    report = await manager.import_file("promo", path)
    assert (report.added, report.updated, len(report.skipped)) == (3, 0, 6)
    again = tmp_path / "again.json"
    again.write_text(
        json.dumps([{"number": "0501110001", "extension": "9"}, {"number": "0501110099"}]),
        encoding="utf-8",
    )
    report = await manager.import_file("promo", again)
    assert (report.added, report.updated, report.skipped) == (1, 1, [])
    async with db.sessions() as session:
        rows = {
            n.number: (n.extension, json.loads(n.variables), n.status)
            for n in await session.scalars(select(CampaignNumber))
        }
    assert rows["+380501110001"] == ("9", {}, "idle")
    assert rows["+380501110006"] == ("ivr-2", {"GREETING": "x, y", "dtmf": "2"}, "idle")
    assert len(rows) == 4


def test_weekly_schedule_json() -> None:
    schedule = WeeklySchedule.from_json(
        '{"mon": "09:00", "tue": "09-00", "wed": "09:00", "thu": "09:00", "fri": "10:36",'
        ' "sat": "13:17", "sun": "00:00"}'
    )
    assert dict(schedule.starts)["fri"] == time(10, 36)
    assert "sun" not in dict(schedule.starts)
    assert schedule.start_on(datetime(2026, 11, 29, 12, 0)) is None  # a Sunday
    assert schedule.start_on(datetime(2026, 11, 28, 12, 0)) == time(13, 17)  # a Saturday
    assert json.loads(schedule.to_json())["sun"] == "00:00"
    assert WeeklySchedule.from_json(schedule.to_json()) == schedule
    russian = WeeklySchedule.from_mapping({"Пн": "09-00", "Вс": "00:00"})
    assert russian.starts == (("mon", time(9, 0)),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"mon": "25:00"}', "time of day"),
        ('{"moon": "09:00"}', "unknown day"),
        ('{"mon": 9}', "not a time"),
        ('{"mon": "09:00", "monday": "10:00"}', "twice"),
        ("[]", "an object"),
        ("{", "not JSON"),
    ],
)
def test_bad_schedules(text: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        WeeklySchedule.from_json(text)


def test_time_windows() -> None:
    day = TimeWindow.parse("09:00-18:00")
    assert day.contains(time(9, 0))
    assert not day.contains(time(18, 0))
    night = TimeWindow.parse("21:00-09:00")
    assert night.contains(time(23, 59))
    assert night.contains(time(8, 59))
    assert not night.contains(time(12, 0))
    assert TimeWindow.parse("00:00-24:00").contains(time(23, 59))
    for bad in ("09:00", "9-18", "10:00-10:00", "18:00-25:00"):
        with pytest.raises(ScheduleError):
            TimeWindow.parse(bad)
