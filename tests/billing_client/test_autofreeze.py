"""Job autofreeze: debtors frozen after N days below the limit, unfrozen when they pay."""

from __future__ import annotations

import asyncio
from datetime import date

from billing_client.audit import AuditJournal
from billing_client.local.admin import LocalAdmin
from billing_client.local.autofreeze import autofreeze
from billing_client.local.backend import LocalBackend
from billing_client.local.paycards import PaycardAdmin
from billing_client.outcomes import MoneySource, PaycardResult
from billing_client.subscriber import Status
from primitives.clock import FixedClock
from primitives.job_result import JobResult
from primitives.phones import PhoneNormaliser
from storage import DatabaseSettings, create_engine, session_factory
from tests.billing_client.jobs_rig import D, Rig, make_rig, utc
from tests.conftest import Database


async def run(rig: Rig) -> JobResult:
    return await autofreeze(rig.database.sessions, rig.clock, rig.settings, rig.admin)


async def frozen(rig: Rig) -> list[str]:
    return sorted(i.login for i in await rig.admin.list() if i.frozen)


async def flag_entries(rig: Rig, login: str) -> list[tuple[str, str, str]]:
    records = await rig.audit.records(login)
    return [(r.kind, r.source, r.detail) for r in reversed(records) if r.field == "frozen"]


async def test_who_is_frozen_at_the_first_sighting(database: Database) -> None:
    """Limit 0, no waiting: below 0 with no credit in force is frozen; the rest are not."""
    rig = make_rig(database, utc(2027, 2, 28, 21, 59))  # 23:59 Kyiv, 28 February
    await rig.add("debtor", balance=D("-0.01"))
    await rig.add("zero", balance=D("0"))  # exactly the limit: no debt
    await rig.add("credited", balance=D("-50"), credit=D("100"), credit_expire=date(2027, 2, 28))
    await rig.add("lapsed", balance=D("-50"), credit=D("100"), credit_expire=date(2027, 2, 27))
    await rig.add("off", balance=D("-50"), disabled=True)
    await rig.add("paused", balance=D("-50"), frozen=True)
    result = await run(rig)
    assert await frozen(rig) == ["debtor", "lapsed", "paused"]
    assert result.counts == {"frozen": 2, "unfrozen": 0, "waiting": 0}
    assert await flag_entries(rig, "debtor") == [
        ("freeze", "job autofreeze", "balance below 0.00 since 2027-02-28: frozen no -> yes")
    ]
    # one minute later it is 1 March: the credit of the 28th is over
    rig.clock.instant = utc(2027, 2, 28, 22, 0)
    await run(rig)
    assert await frozen(rig) == ["credited", "debtor", "lapsed", "paused"]


async def test_frozen_after_days_below_the_limit_across_a_month_end(database: Database) -> None:
    """after_days 2, limit 10: seen below on 27 February 2027, frozen on 1 March; a payment
    in between starts the count again."""
    rig = make_rig(database, utc(2027, 2, 27, 7), autofreeze_limit="10", autofreeze_after_days=2)
    await rig.add("ivan", balance=D("9.99"))
    await rig.add("olena", balance=D("5"))
    await run(rig)  # 27 Feb: both seen
    rig.clock.instant = utc(2027, 2, 28, 7)
    await rig.admin.add_payment("olena", D("10"), actor="kasa")  # 15: out of debt
    result = await run(rig)
    assert await frozen(rig) == []
    assert result.counts["waiting"] == 1
    await rig.admin.add_payment("olena", D("-10"), actor="kasa")  # back to 5, seen again now
    rig.clock.instant = utc(2027, 2, 28, 21, 59)  # 23:59 Kyiv on the 28th: one day only
    await run(rig)
    assert await frozen(rig) == []
    rig.clock.instant = utc(2027, 2, 28, 22, 0)  # 1 March 00:00 Kyiv: ivan's second day
    result = await run(rig)
    assert await frozen(rig) == ["ivan"]
    assert result.counts == {"frozen": 1, "unfrozen": 0, "waiting": 1}
    assert await flag_entries(rig, "ivan") == [
        ("freeze", "job autofreeze", "balance below 10.00 since 2027-02-27: frozen no -> yes")
    ]
    rig.clock.instant = utc(2027, 3, 2, 7)
    await run(rig)
    assert await frozen(rig) == ["ivan", "olena"]


async def test_unfrozen_when_paid_whatever_the_payment_path(database: Database) -> None:
    rig = make_rig(database, utc(2027, 10, 31, 0, 30))  # 03:30 Kyiv, summer time
    await rig.add("card", phones=["0501234567"], balance=D("-20"))
    await rig.add("cash", balance=D("-20"))
    await rig.add("staff", balance=D("-20"))
    await rig.admin.set_frozen("staff", True, actor="boss")  # frozen by a person
    await run(rig)
    assert await frozen(rig) == ["card", "cash", "staff"]

    rig.clock.instant = utc(2027, 10, 31, 1, 30)  # 03:30 Kyiv again, winter time
    await rig.admin.add_payment("cash", D("20"), actor="kasa")  # exactly 0: paid
    await rig.admin.add_payment("staff", D("100"), actor="kasa")
    cards = PaycardAdmin(database.sessions, rig.clock)
    (number,) = await cards.generate(1, D("30"))
    backend = LocalBackend(database.sessions, rig.clock, rig.audit)
    call = MoneySource(kind="call", number="+380501234567", uniqueid="1.1")
    paid = await backend.pay_card("card", number, source=call)
    assert paid.result == PaycardResult.OK
    result = await run(rig)
    assert await frozen(rig) == ["staff"]
    assert result.counts == {"frozen": 0, "unfrozen": 2, "waiting": 0}
    assert await flag_entries(rig, "cash") == [
        ("freeze", "job autofreeze", "balance below 0.00 since 2027-10-31: frozen no -> yes"),
        ("unfreeze", "job autofreeze", "balance back at or above 0.00: frozen yes -> no"),
    ]
    info = await rig.admin.get("card")
    assert info is not None
    assert info.status == Status.ACTIVE


async def test_no_unfreeze_when_turned_off(database: Database) -> None:
    rig = make_rig(database, utc(2027, 6, 1), autofreeze_unfreeze_on_payment=False)
    await rig.add("ivan", balance=D("-1"))
    await run(rig)
    await rig.admin.add_payment("ivan", D("50"), actor="kasa")
    result = await run(rig)
    assert await frozen(rig) == ["ivan"]
    assert result.counts["unfrozen"] == 0


async def test_a_subscriber_unfrozen_by_staff_and_back_in_debt_is_frozen_again(
    database: Database,
) -> None:
    rig = make_rig(database, utc(2027, 6, 1))
    await rig.add("ivan", balance=D("-1"))
    await run(rig)
    await rig.admin.set_frozen("ivan", False, actor="boss")  # staff let them in for a day
    await run(rig)
    assert await frozen(rig) == ["ivan"]
    assert [k for k, _, _ in await flag_entries(rig, "ivan")] == ["freeze", "unfreeze", "freeze"]


async def test_two_instances_freeze_each_debtor_once(database: Database) -> None:
    rig = make_rig(database, utc(2027, 3, 28, 0, 59))  # 02:59 Kyiv, before the spring switch
    for n in range(20):
        await rig.add(f"s{n:02}", balance=D("-5") if n % 2 else D("5"))
    other = create_engine(DatabaseSettings(url=database.url))
    try:
        sessions = session_factory(other)
        clock = FixedClock(rig.clock.instant)
        audit = AuditJournal(sessions, "local", clock)
        results = await asyncio.gather(
            run(rig),
            autofreeze(
                sessions, clock, rig.settings, LocalAdmin(sessions, clock, audit, PhoneNormaliser())
            ),
        )
    finally:
        await other.dispose()
    assert sum(r.counts["frozen"] for r in results) == 10
    assert await frozen(rig) == [f"s{n:02}" for n in range(1, 20, 2)]
    for n in range(1, 20, 2):
        assert len(await flag_entries(rig, f"s{n:02}")) == 1
