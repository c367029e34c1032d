"""A failing /metrics refresher is told once per streak and interval, not once per scrape."""

from __future__ import annotations

import logging

import pytest

from web.metrics import FAILURE_REPEAT, Metrics


class Database:
    """A refresher whose database can go away and come back."""

    def __init__(self) -> None:
        self.down = False
        self.reads = 0

    async def refresh(self) -> None:
        if self.down:
            raise ConnectionError("database is locked")
        self.reads += 1


async def test_a_failing_refresher_is_logged_at_start_per_interval_and_at_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [1000.0]
    metrics = Metrics(monotonic=lambda: now[0])
    db = Database()
    metrics.add_refresh(db.refresh)
    caplog.set_level(logging.INFO, logger="pbxbridge.web")

    await metrics.render()
    assert db.reads == 1
    assert not caplog.records

    db.down = True
    for _ in range(20):
        await metrics.render()
        now[0] += 5
    failing = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(caplog.records) == 1
    assert len(failing) == 1
    assert "database is locked" in failing[0].getMessage()

    now[0] += FAILURE_REPEAT
    await metrics.render()
    await metrics.render()
    reminders = [r for r in caplog.records if "still fails" in r.getMessage()]
    assert len(reminders) == 1
    assert "21 scrapes" in reminders[0].getMessage()

    db.down = False
    await metrics.render()
    await metrics.render()
    recovered = [r for r in caplog.records if "reads again" in r.getMessage()]
    assert len(recovered) == 1
    assert "after 22 failed scrapes" in recovered[0].getMessage()
    assert len(caplog.records) == 3
