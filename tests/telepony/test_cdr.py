"""One Cdr event, one row: the headers read as cdr_mysql's columns, odd values made safe."""

from __future__ import annotations

from datetime import datetime

import pytest

from telepony.cdr import Column, Layout, leg_of
from telepony.errors import BadCdr
from tests.telepony.conftest import cdr_event

RECEIVED = datetime(2026, 11, 22, 12, 0, 7, 123456)


def test_start_time_is_the_local_calldate_as_sent() -> None:
    leg = leg_of(cdr_event("1.1", StartTime="2026-11-22 01:38:12"), RECEIVED)
    assert leg.calldate == datetime(2026, 11, 22, 1, 38, 12)
    assert leg.calldate.tzinfo is None


@pytest.mark.parametrize("start", ["", "yesterday", "2026-13-45 25:61:00", "1795311492"])
def test_a_start_time_that_cannot_be_read_is_the_time_the_event_came(start: str) -> None:
    leg = leg_of(cdr_event("1.1", StartTime=start), RECEIVED)
    assert leg.calldate == datetime(2026, 11, 22, 12, 0, 7)


def test_an_event_without_uniqueid_cannot_be_grouped_and_is_refused() -> None:
    with pytest.raises(BadCdr, match="without UniqueID"):
        leg_of(cdr_event(""), RECEIVED)


@pytest.mark.parametrize(("sent", "stored"), [("17", 17), ("", 0), ("-3", 0), ("abc", 0)])
def test_seconds_are_plain_integers(sent: str, stored: int) -> None:
    leg = leg_of(cdr_event("1.1", Duration=sent, BillableSeconds=sent), RECEIVED)
    assert (leg.duration, leg.billsec) == (stored, stored)


@pytest.mark.parametrize(
    ("flags", "number"), [("OMIT", 1), ("BILLING", 2), ("DOCUMENTATION", 3), ("Unknown", 0)]
)
def test_ama_flags_are_numbers_in_a_numeric_column_and_names_in_a_text_one(
    flags: str, number: int
) -> None:
    leg = leg_of(cdr_event("1.1", AMAFlags=flags), RECEIVED)
    numeric = Layout((Column("amaflags", numeric=True, width=None),))
    text = Layout((Column("AMAFlags", numeric=False, width=45),))
    assert numeric.values(leg) == {"amaflags": number}
    assert text.values(leg) == {"AMAFlags": flags.upper()}


def test_dispositions_are_asterisks_numbers_in_a_numeric_column() -> None:
    numeric = Layout((Column("disposition", numeric=True, width=None),))
    for name, number in [("NO ANSWER", 0), ("FAILED", 2), ("BUSY", 4), ("ANSWERED", 8)]:
        leg = leg_of(cdr_event("1.1", Disposition=name), RECEIVED)
        assert numeric.values(leg) == {"disposition": number}


def test_control_characters_go_and_text_is_cut_to_its_column() -> None:
    leg = leg_of(cdr_event("1.1", CallerID='"A\x00\x1bB" <1>', LastData="x" * 5000), RECEIVED)
    assert leg.clid == '"AB" <1>'
    assert len(leg.lastdata) == 1024  # kept in the outbox
    assert Layout.created().values(leg)["lastdata"] == "x" * 80  # cdr_mysql's width
