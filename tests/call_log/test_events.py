"""What the call log reads from events it did not see in the capture: VarSet (only
MIXMONITOR_FILENAME, checked like any header), and Cdr times that are missing or odd."""

from __future__ import annotations

import pytest

from call_log.errors import BadEvent
from call_log.events import CdrRow, Recording, parse_event
from tests.call_log.conftest import leg, recording
from tests.missed_calls.conftest import channel_event, event


def test_only_mixmonitors_variable_is_read() -> None:
    other = channel_event("VarSet", "1.1", "1.1", Variable="DIALSTATUS", Value="ANSWER")
    assert parse_event(other) is None
    parsed = parse_event(recording("1.1", "/var/spool/asterisk/monitor/a\x07b.wav"))
    assert parsed is not None
    assert isinstance(parsed.body, Recording)
    assert parsed.body.filename == "/var/spool/asterisk/monitor/ab.wav"  # control gone
    assert parsed.body.channel.linkedid == "1.1"
    lower = channel_event("VarSet", "1.1", "1.1", Variable="mixmonitor_filename", Value="x.wav")
    assert parse_event(lower) is not None


@pytest.mark.parametrize("value", ["", "x" * 300])
def test_an_unusable_file_name_is_refused(value: str) -> None:
    with pytest.raises(BadEvent, match="MIXMONITOR_FILENAME"):
        parse_event(recording("1.1", value))


def test_cdr_times_missing_or_odd_read_as_unknown() -> None:
    fine = leg("1.1", src="101", dst="102", disposition="NO ANSWER", channel="PJSIP/101-1")
    headers = {k: v for k, v in fine.headers if k != "Event"}
    odd = event("Cdr", **{**headers, "StartTime": "2026-13-45 99:00:00"})
    parsed = parse_event(odd)
    assert parsed is not None
    assert isinstance(parsed.body, CdrRow)
    assert parsed.body.start is None
    assert parsed.body.answer is None  # empty AnswerTime
    assert parsed.body.end is not None
