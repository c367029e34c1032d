"""The texts: single notices are covered with exact payloads in test_notifier; here the edges."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from notify import (
    AlertNotice,
    InboundSmsNotice,
    LinkNotice,
    LockoutNotice,
    MissedCallNotice,
    Notice,
)
from notify.render import TEXT_LIMIT, clip, fit, render, render_summary, status_name, utf16_len

AT = datetime(2024, 5, 1, 9, 5, 0)


def test_fit_counts_utf16_units_like_telegram() -> None:
    assert utf16_len("Привіт") == 6
    assert utf16_len("🙂") == 2
    assert fit("abc", 3) == "abc"
    assert fit("abcd", 3) == "ab…"
    # An emoji is never split in half at the boundary.
    cut = fit("ab🙂cd", 4)
    assert cut == "ab…"
    assert utf16_len(fit("🙂" * 3000)) <= TEXT_LIMIT


@pytest.mark.parametrize(
    ("code", "name"),
    [(None, None), (0, "unknown"), (1, "active"), (2, "debtor"), (3, "frozen"), (9, "status 9")],
)
def test_status_names_follow_ubilling_codes(code: int | None, name: str | None) -> None:
    assert status_name(code) == name


def test_clip_makes_one_short_line() -> None:
    assert clip("Коли\n  підключите?", 40) == "Коли підключите?"
    assert clip("x" * 50, 10) == "x" * 9 + "…"


def test_a_missed_call_without_queue_says_how_long_it_rang() -> None:
    notice = MissedCallNotice("0501234567", "ivan", None, 1, None, AT, 12)
    assert render(notice) == (
        "Missed call from 0501234567\nSubscriber: ivan, active\nWaited 12 s\nAt 2024-05-01 09:05:00"
    )


def test_a_huge_sms_is_cut_to_the_limit() -> None:
    notice = InboundSmsNotice("0501234567", None, None, "Я" * 5000, "dongle0", AT)
    text = render(notice)
    assert utf16_len(text) == TEXT_LIMIT
    assert text.endswith("Я…")


def test_summary_keeps_every_kind_s_header_however_long_the_first_list() -> None:
    floods = [
        MissedCallNotice(f"+38050{i:07d}", f"login{i}", "Ім'я", 1, "q", AT, 1) for i in range(800)
    ]
    text = render_summary([*floods, LinkNotice("AMI", False, "x" * 30)], 10)
    lines = text.split("\n")
    assert lines[0] == "1 link change in the last 10 s: AMI down (" + "x" * 30 + ")"
    assert lines[1].startswith("800 missed calls in the last 10 s: +380500000000 (login0), ")
    assert lines[1].endswith(", …")
    assert utf16_len(text) <= TEXT_LIMIT


def test_summary_counts_what_was_only_counted() -> None:
    notices = [MissedCallNotice("0501234567", None, None, None, None, AT, None)]
    text = render_summary(notices, 3, Counter({"missed calls": 99, "inbound SMS": 2}))
    assert text == ("100 missed calls in the last 3 s: 0501234567\n2 inbound SMS in the last 3 s")


def test_a_lockout_says_who_why_until_when_with_its_zone_and_how_to_lift_it() -> None:
    until = datetime(2026, 11, 22, 13, 0, tzinfo=ZoneInfo("Europe/Kyiv"))
    notice = LockoutNotice("+380501110002", "debtor", 5, until, "used pay card")
    assert render(notice) == (
        "Locked out of self-service: number +380501110002 and login debtor\n"
        "After 5 failures, the last a used pay card\n"
        "Until 2026-11-22 13:00:00 EET\n"
        "To lift it: /unlock debtor"
    )
    only_number = LockoutNotice("+380501110002", None, 6, until, "wrong PIN")
    assert render(only_number).endswith("To lift it: /unlock +380501110002")
    summary = render_summary([notice, only_number], 10)
    assert summary == (
        "2 lockouts in the last 10 s: number +380501110002 and login debtor, number +380501110002"
    )


def test_alerts_come_first_in_a_summary_folded_and_clipped() -> None:
    assert render(AlertNotice("Ubilling answers again")) == "ALERT: Ubilling answers again"
    long = "audit 7: " + "x" * 300
    notices: list[Notice] = [
        LinkNotice("AMI", False, "refused"),
        AlertNotice("spooler stopped"),
        AlertNotice("spooler stopped"),
        AlertNotice(long),
    ]
    lines = render_summary(notices, 10).splitlines()
    assert lines[0].startswith("3 alerts in the last 10 s: spooler stopped ×2, audit 7: x")
    assert lines[0].endswith("…")
    assert len(lines[0]) < 200
    assert lines[1] == "1 link change in the last 10 s: AMI down (refused)"
