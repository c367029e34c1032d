"""A billing outage is told once when it starts and once when it ends, not once per call."""

from __future__ import annotations

import pytest

from billing_client.breaker import CircuitBreaker
from billing_client.errors import BillingUnavailable
from billing_client.outcomes import BillingResult
from primitives.clock import FixedClock
from tests.ami_listener.conftest import until
from tests.billing_client.test_ubilling_backend import FakeMonotonic, ubilling_rig
from tests.conftest import Database
from tests.fakes.ubilling import Fault

sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def test_the_breaker_tells_an_outage_start_and_end_once_each() -> None:
    clock = FakeMonotonic()
    breaker = CircuitBreaker(2, 10.0, monotonic=clock)
    heard: list[tuple[bool, str]] = []
    breaker.watch(lambda down, detail: heard.append((down, detail)))

    breaker.failure(reason="one")
    breaker.success()  # a success before the threshold: no outage at all
    breaker.failure(reason="a")
    breaker.failure(reason="userstatus: Ubilling answered HTTP 500")
    down = (True, "2 failures in a row, the last: userstatus: Ubilling answered HTTP 500")
    assert heard == [down]
    for _ in range(10):
        with pytest.raises(BillingUnavailable):
            breaker.acquire()
    clock.advance(10.0)
    breaker.failure(trial=breaker.acquire(), reason="still down")  # the same outage goes on
    clock.advance(10.0)
    breaker.success(trial=breaker.acquire())
    breaker.success()
    breaker.failure()
    assert heard == [down, (False, "answering again")]


def test_a_failing_watcher_does_not_break_the_breaker() -> None:
    breaker = CircuitBreaker(1, 10.0, monotonic=FakeMonotonic())

    def broken(down: bool, detail: str) -> None:
        raise RuntimeError("watcher bug")

    breaker.watch(broken)
    breaker.failure()
    with pytest.raises(BillingUnavailable):
        breaker.acquire()


@sqlite_only
async def test_ubilling_outage_is_one_alert_and_its_end_another(
    database: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(database, clock) as rig:
        rig.fake.add_fault(Fault(status=500))
        for _ in range(20):
            lookup = await rig.client.lookup_call("0501110001")
            assert lookup.result == BillingResult.ERROR
        await until(lambda: len(rig.alerts) >= 1)
        # a failed trial after breaker_reset is the same outage
        rig.monotonic.advance(rig.settings.breaker_reset)
        assert (await rig.client.find("testuser1")).result == BillingResult.ERROR
        rig.fake.faults.clear()
        rig.monotonic.advance(rig.settings.breaker_reset)
        for _ in range(5):
            assert (await rig.client.find("testuser1")).result == BillingResult.OK
        await until(lambda: len(rig.alerts) >= 2)
        await rig.backend.aclose()  # waits for alerts still being passed on
    assert len(rig.alerts) == 2, rig.alerts
    assert rig.alerts[0].startswith("Ubilling does not answer (3 failures in a row, the last: ")
    assert "HTTP 500" in rig.alerts[0]
    assert rig.alerts[1] == "Ubilling answers again"
    assert rig.fake.serial is not None
    assert all(rig.fake.serial not in a for a in rig.alerts)
