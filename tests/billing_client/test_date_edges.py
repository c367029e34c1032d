"""The billing's date rules at the instants that break them, in Europe/Kyiv.

Days left (fee ÷ days of this month), credit expiry (the end of the day `credit_days` after
today) and one credit per calendar month, on: a 31-day month, 28 February 2027 (not a leap
year), 29 February 2028, the two DST switch days of 2027 (28 March 03:00 → 04:00, 31 October
04:00 → 03:00) and 31 December at 23:59 local. Instants are written in UTC with their Kyiv
time beside them (UTC+2 in winter, UTC+3 in summer); every expected value is worked out by
hand in the comment of its row, not by the formula under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from billing_client.audit import AuditJournal
from billing_client.local.admin import LocalAdmin
from billing_client.local.backend import LocalBackend
from billing_client.outcomes import CreditReason, CreditResult, MoneySource
from billing_client.subscriber import Status
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.conftest import Database

D = Decimal
CALL = MoneySource(kind="call", number="+380501234567", uniqueid="1795311406.5")
PHONE = "+380501234567"


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def parts(database: Database, clock: FixedClock) -> tuple[LocalBackend, LocalAdmin]:
    audit = AuditJournal(database.sessions, "local", clock)
    return (
        LocalBackend(database.sessions, clock, audit),
        LocalAdmin(database.sessions, clock, audit, PhoneNormaliser()),
    )


@pytest.mark.parametrize(
    ("instant", "balance", "fee", "days_left"),
    [
        # 31 January 2027 23:59 Kyiv: January has 31 days; 150 at 100/31 a day = 46.5 -> 46
        (utc(2027, 1, 31, 21, 59), "150", "100", 46),
        # one month's fee on a 31-day month lasts the 31 days, not 30
        (utc(2027, 1, 31, 21, 59), "35", "35", 31),
        # 28 February 2027 23:59 Kyiv (still the 28th in UTC too): 28 days; 150 -> 42
        (utc(2027, 2, 28, 21, 59), "150", "100", 42),
        (utc(2027, 2, 28, 21, 59), "400", "400", 28),
        # one minute later it is 1 March in Kyiv (22:00 UTC on the 28th): 31 days; 150 -> 46
        (utc(2027, 2, 28, 22, 0), "150", "100", 46),
        # 29 February 2028: 29 days; 150 -> 43.5 -> 43; 300 at 150 covers two months: 58
        (utc(2028, 2, 29, 10, 0), "150", "100", 43),
        (utc(2028, 2, 29, 10, 0), "300", "150", 58),
        # spring DST day, 02:59 then 04:00 Kyiv: March, 31 days either side; 150 -> 46
        (utc(2027, 3, 28, 0, 59), "150", "100", 46),
        (utc(2027, 3, 28, 1, 0), "150", "100", 46),
        # autumn DST day at the second 03:30 (01:30 UTC): October, 31 days; 62 at 62 -> 31
        (utc(2027, 10, 31, 1, 30), "62", "62", 31),
        # 31 October 23:59 Kyiv is 21:59 UTC after the switch; 00:00 on 1 November is
        # 22:00 UTC on the 31st: November's 30 days; 150 -> 45
        (utc(2027, 10, 31, 21, 59), "150", "100", 46),
        (utc(2027, 10, 31, 22, 0), "150", "100", 45),
        # 31 December 2027 23:59 Kyiv: 31 days; 100 at 100 -> 31
        (utc(2027, 12, 31, 21, 59), "100", "100", 31),
        # 00:00 on 1 January 2028 Kyiv (22:00 UTC on 31 December): January, 31 days
        (utc(2027, 12, 31, 22, 0), "100", "100", 31),
    ],
)
async def test_days_left_counts_the_days_of_this_local_month(
    sqlite_database: Database, instant: datetime, balance: str, fee: str, days_left: int
) -> None:
    clock = FixedClock(instant)
    backend, admin = parts(sqlite_database, clock)
    await admin.add("ivan", phones=[PHONE], balance=D(balance), fee=D(fee), actor="test")
    lookup = await backend.lookup_number(PHONE)
    assert lookup.subscriber is not None
    assert lookup.subscriber.days_left == days_left


@pytest.mark.parametrize(
    ("taken", "expire", "last_moment"),
    [
        # 31 January 2027 23:59 Kyiv + 5 days: 5 February; in force to 23:59:59 Kyiv that day
        (utc(2027, 1, 31, 21, 59), date(2027, 2, 5), utc(2027, 2, 5, 21, 59, 59)),
        # 26 February 2027 + 5: 27, 28 February, 1, 2, 3 March (no 29th this year)
        (utc(2027, 2, 26, 10, 0), date(2027, 3, 3), utc(2027, 3, 3, 21, 59, 59)),
        # 28 February 2027 23:59 Kyiv + 5: 5 March
        (utc(2027, 2, 28, 21, 59), date(2027, 3, 5), utc(2027, 3, 5, 21, 59, 59)),
        # 26 February 2028 + 5: 27, 28, 29 February, 1, 2 March
        (utc(2028, 2, 26, 10, 0), date(2028, 3, 2), utc(2028, 3, 2, 21, 59, 59)),
        # 29 February 2028 + 5: 5 March
        (utc(2028, 2, 29, 10, 0), date(2028, 3, 5), utc(2028, 3, 5, 21, 59, 59)),
        # 26 March 2027 + 5 = 31 March, past the spring switch: its end is 23:59:59 at UTC+3
        (utc(2027, 3, 26, 10, 0), date(2027, 3, 31), utc(2027, 3, 31, 20, 59, 59)),
        # taken at 04:00 on the spring DST day itself (01:00 UTC): 2 April, UTC+3
        (utc(2027, 3, 28, 1, 0), date(2027, 4, 2), utc(2027, 4, 2, 20, 59, 59)),
        # 26 October 2027 + 5 = 31 October, the autumn DST day: its end is at UTC+2
        (utc(2027, 10, 26, 10, 0), date(2027, 10, 31), utc(2027, 10, 31, 21, 59, 59)),
        # taken at the first 03:30 of 31 October (00:30 UTC, UTC+3): 5 November, UTC+2
        (utc(2027, 10, 31, 0, 30), date(2027, 11, 5), utc(2027, 11, 5, 21, 59, 59)),
        # 31 December 2027 23:59 Kyiv + 5: 5 January 2028
        (utc(2027, 12, 31, 21, 59), date(2028, 1, 5), utc(2028, 1, 5, 21, 59, 59)),
        # 00:00 on 1 January 2028 Kyiv (22:00 UTC the day before) + 5: 6 January
        (utc(2027, 12, 31, 22, 0), date(2028, 1, 6), utc(2028, 1, 6, 21, 59, 59)),
    ],
)
async def test_a_credit_lasts_to_the_end_of_its_last_local_day(
    sqlite_database: Database, taken: datetime, expire: date, last_moment: datetime
) -> None:
    clock = FixedClock(taken)
    backend, admin = parts(sqlite_database, clock)
    await admin.add("ivan", phones=[PHONE], balance=D("-50"), fee=D("100"), actor="test")
    outcome = await backend.set_credit("ivan", amount=None, days=5, source=CALL)
    assert (outcome.result, outcome.expire) == (CreditResult.OK, expire)

    clock.instant = last_moment
    info = await admin.get("ivan")
    assert info is not None
    assert (info.status, info.credit) == (Status.ACTIVE, D("100.00"))

    clock.instant = last_moment + timedelta(seconds=1)  # 00:00:00 the next local day
    info = await admin.get("ivan")
    assert info is not None
    assert (info.status, info.credit, info.days_left) == (Status.DEBTOR, D("0.00"), 0)


@pytest.mark.parametrize(
    ("first", "month_end", "next_month"),
    [
        # January 2027 (31 days): refused at 23:59 on the 31st, given at 00:00 on 1 February
        (utc(2027, 1, 1, 10, 0), utc(2027, 1, 31, 21, 59), utc(2027, 1, 31, 22, 0)),
        # February 2027: the 28th is its last day
        (utc(2027, 2, 1, 10, 0), utc(2027, 2, 28, 21, 59), utc(2027, 2, 28, 22, 0)),
        # February 2028: the 29th is its last day (the 28th at 23:59 is still February)
        (utc(2028, 2, 1, 10, 0), utc(2028, 2, 29, 21, 59), utc(2028, 2, 29, 22, 0)),
        # March 2027, spring switch on the 28th: 23:59 on the 31st is 20:59 UTC, and
        # 1 April begins at 21:00 UTC, while UTC still says 31 March
        (utc(2027, 3, 1, 10, 0), utc(2027, 3, 31, 20, 59), utc(2027, 3, 31, 21, 0)),
        # October 2027, autumn switch on the 31st: November begins at 22:00 UTC on the 31st
        (utc(2027, 10, 1, 10, 0), utc(2027, 10, 31, 21, 59), utc(2027, 10, 31, 22, 0)),
        # December 2027: 31 December 23:59 is still this month; then 2028 begins
        (utc(2027, 12, 1, 10, 0), utc(2027, 12, 31, 21, 59), utc(2027, 12, 31, 22, 0)),
        # taken at 00:30 on 1 December Kyiv (22:30 UTC on 30 November): December's credit
        (utc(2027, 11, 30, 22, 30), utc(2027, 12, 31, 21, 59), utc(2027, 12, 31, 22, 0)),
    ],
)
async def test_one_credit_per_local_calendar_month(
    sqlite_database: Database, first: datetime, month_end: datetime, next_month: datetime
) -> None:
    clock = FixedClock(first)
    backend, admin = parts(sqlite_database, clock)
    await admin.add("ivan", phones=[PHONE], balance=D("-50"), fee=D("100"), actor="test")
    taken = await backend.set_credit("ivan", amount=None, days=5, source=CALL)
    assert taken.result == CreditResult.OK

    clock.instant = month_end  # the first credit has expired; the month has not ended
    refused = await backend.set_credit("ivan", amount=None, days=5, source=CALL)
    assert (refused.result, refused.reason) == (CreditResult.DENIED, CreditReason.MONTH_LIMIT)

    clock.instant = next_month
    given = await backend.set_credit("ivan", amount=None, days=5, source=CALL)
    assert given.result == CreditResult.OK
