"""The limits hold: 10,000 numbers through a fake spool on a fake clock.

Asterisk is `FakeAsterisk` (picks up what lands in outgoing/, archives it when the call's
time is up, sends the `failed` extension's UserEvent for busy calls); time moves in fixed
steps, so the run is the same every time. What Asterisk *saw* is checked: never more than
max_concurrent calls at once, never more than cps new calls in any one-second window,
bundles of `bundle_size` separated by `bundle_delay`, every number called, nobody more
often than max_attempts.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from callfile_spooler.callfile import ArchivedCallFile, CallFile
from callfile_spooler.campaigns import CampaignSettings
from callfile_spooler.imports import parse_numbers
from callfile_spooler.pacing import Limits, Pacer
from callfile_spooler.settings import RetryDelays, SpoolSettings
from callfile_spooler.writer import WriteResult
from primitives.clock import FixedClock
from tests.callfile_spooler.conftest import make_spooler, ua_numbers
from tests.callfile_spooler.fake_asterisk import FakeAsterisk, Fate
from tests.conftest import Database

NUMBERS = 10_000
MAX_CONCURRENT = 150
CPS = 100
BUNDLE = 2500
BUNDLE_DELAY = 3.0
STEP = timedelta(milliseconds=500)


def fate(call: ArchivedCallFile) -> Fate:
    """Deterministic per attempt: 0.5-3 s calls; 5 % busy (with the UserEvent), 3 % not
    answered without any event (Expired only), the rest answered."""
    roll = zlib.crc32(call.variables["CAMPAIGN_ATTEMPT_ID"].encode()) % 1000
    seconds = 0.5 + (roll % 11) * 0.25
    if roll < 50:
        return Fate(seconds, 5)
    if roll < 80:
        return Fate(seconds, 3)
    return Fate(seconds)


class NoEventsFor3(FakeAsterisk):
    """Unanswered (REASON 3) calls send no UserEvent: only the archived `Expired` tells."""

    def end(self, name: str, *, append_status: bool = True) -> None:
        reason = self.running[name].fate.reason
        before = len(self.events)
        super().end(name, append_status=append_status)
        if reason == 3:
            del self.events[before:]


async def test_ten_thousand_numbers_within_every_limit(
    sqlite_db: Database, clock: FixedClock, spool_dir: Path
) -> None:
    settings = SpoolSettings(
        dir=spool_dir,
        fsync=False,
        poll_interval=STEP.total_seconds(),
        max_attempts=2,
        retry_delays=RetryDelays(busy=5, noanswer=10, expired=10),
    )
    spooler = make_spooler(sqlite_db, clock, settings)
    await spooler.campaigns.create(
        "big",
        CampaignSettings(
            max_concurrent=MAX_CONCURRENT, cps=CPS, bundle_size=BUNDLE, bundle_delay=BUNDLE_DELAY
        ),
    )
    text = "number\n" + "\n".join(ua_numbers(NUMBERS)) + "\n"
    report = await spooler.campaigns.import_numbers("big", parse_numbers(text, spooler.phones))
    assert report.added == NUMBERS
    await spooler.campaigns.start("big")

    asterisk = NoEventsFor3(spool_dir, fate)
    start = clock.now()
    for _ in range(20_000):
        asterisk.finish(clock.now())
        for message in asterisk.take_events():
            await spooler.on_ami_event(message)
        await spooler.tick()
        assert spooler.alive() <= MAX_CONCURRENT
        asterisk.pick_up(clock.now())
        assert len(asterisk.running) <= MAX_CONCURRENT
        if not spooler.alive() and (await spooler.campaigns.get("big")).state == "done":
            break
        clock.instant += STEP
    else:
        raise AssertionError("the campaign did not finish")

    # What Asterisk saw.
    times = sorted(t for t, _, _ in asterisk.arrivals)
    assert asterisk.peak == MAX_CONCURRENT  # the limit was reached, and held
    worst = max(bisect_left(times, t + timedelta(seconds=1)) - i for i, t in enumerate(times))
    assert worst == CPS  # reached, never passed
    for k in range(BUNDLE, len(times), BUNDLE):
        assert times[k] - times[k - 1] >= timedelta(seconds=BUNDLE_DELAY), k
    per_number = Counter(number for _, _, number in asterisk.arrivals)
    assert len(per_number) == NUMBERS
    assert max(per_number.values()) == 2

    # What the database says agrees.
    rows = await spooler.campaigns.report("big")
    outcomes = Counter(r.status for r in rows)
    assert set(outcomes) == {"answered", "given_up"}
    assert sum(r.attempts for r in rows) == len(asterisk.arrivals)
    assert all(per_number[r.number] == r.attempts for r in rows)
    status = await spooler.campaigns.status("big")
    assert status.by_attempt_status.get("queued", 0) == 0
    assert status.by_attempt_status["busy"] > 0
    assert status.by_attempt_status["expired"] > 0  # Expired alone: no reason known
    elapsed = (clock.now() - start).total_seconds()
    assert len(asterisk.arrivals) / elapsed <= CPS


def test_pacer_window_for_fractional_and_small_cps() -> None:
    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    half = Pacer(Limits(max_concurrent=10, cps=0.5))
    assert half.allowance(now, 0) == 1
    half.record(now, 1)
    assert half.allowance(now + timedelta(seconds=1.999), 0) == 0
    assert half.allowance(now + timedelta(seconds=2), 0) == 1
    frac = Pacer(Limits(max_concurrent=10, cps=2.5))
    assert frac.allowance(now, 0) == 2  # never 3 in a second
    frac.record(now, 2)
    assert frac.next_opening(now) == now + timedelta(seconds=1)
    bundles = Pacer(Limits(max_concurrent=100, cps=100, bundle_size=3, bundle_delay=10))
    assert bundles.allowance(now, 0) == 3
    bundles.record(now, 3)
    assert bundles.allowance(now + timedelta(seconds=9), 0) == 0
    assert bundles.next_opening(now) == now + timedelta(seconds=10)
    assert bundles.allowance(now + timedelta(seconds=10), 0) == 3
    lines = Pacer(Limits(max_concurrent=100, cps=100))
    assert lines.allowance(now, 99) == 1
    assert lines.allowance(now, 100) == 0
    restarted = Pacer(Limits(10, 5, 3, 10), recent=[now] * 5, last_spooled=now)
    assert restarted.allowance(now + timedelta(milliseconds=500), 0) == 0
    assert restarted.allowance(now + timedelta(seconds=10), 0) == 3


async def test_the_window_counts_from_when_files_appear(
    sqlite_db: Database, clock: FixedClock, spool_dir: Path
) -> None:
    """Writing a batch takes time (here 20 ms a file), so files appear later than the tick
    began, and a big batch later than a small one: a batch of five then a batch of one a
    second after the tick that wrote the five must still be a second after the five
    *appeared*."""
    settings = SpoolSettings(dir=spool_dir, fsync=False, poll_interval=0.05)
    spooler = make_spooler(sqlite_db, clock, settings)
    write = spooler.folder.write

    def slow_write(
        entries: Sequence[tuple[str, CallFile]], mtime: datetime | None = None
    ) -> WriteResult:
        clock.instant += timedelta(milliseconds=20) * len(entries)
        return write(entries, mtime)

    spooler.folder.write = slow_write  # type: ignore[method-assign]
    await spooler.campaigns.create("slow", CampaignSettings(max_concurrent=5, cps=5))
    text = "number\n" + "\n".join(ua_numbers(30)) + "\n"
    await spooler.campaigns.import_numbers("slow", parse_numbers(text, spooler.phones))
    await spooler.campaigns.start("slow")
    first_call = {"seen": False}

    def fate(_call: ArchivedCallFile) -> Fate:  # the first call is short, the rest long
        short = not first_call["seen"]
        first_call["seen"] = True
        return Fate(0.5 if short else 30)

    asterisk = FakeAsterisk(spool_dir, fate)
    while len(asterisk.arrivals) < 6:
        asterisk.finish(clock.instant)
        await spooler.tick()
        asterisk.pick_up(clock.instant)  # what Asterisk sees, once the files are there
        clock.instant += timedelta(milliseconds=50)
    times = [t for t, _, _ in asterisk.arrivals]
    assert times[5] - times[4] >= timedelta(seconds=1)


async def test_max_cps_holds_over_every_campaign_together(
    sqlite_db: Database, clock: FixedClock, spool_dir: Path
) -> None:
    """Each campaign keeps its own cps; spool.max_cps is what the trunk takes from all of
    them at once (callback requests are one-call campaigns of their own, so many add up)."""
    settings = SpoolSettings(dir=spool_dir, fsync=False, poll_interval=0.1, max_cps=3)
    spooler = make_spooler(sqlite_db, clock, settings)
    numbers = iter(ua_numbers(40))
    for name in ("a", "b", "c", "d"):
        await spooler.campaigns.create(name, CampaignSettings(max_concurrent=100, cps=5))
        text = "number\n" + "\n".join(next(numbers) for _ in range(10)) + "\n"
        await spooler.campaigns.import_numbers(name, parse_numbers(text, spooler.phones))
        await spooler.campaigns.start(name)
    asterisk = FakeAsterisk(spool_dir, lambda _c: Fate(3600))
    for _ in range(200):
        result = await spooler.tick()
        asterisk.pick_up(clock.now())
        clock.instant += timedelta(seconds=min(result.next_in, 0.25))
        if len(asterisk.arrivals) == 40:
            break
    times = sorted(t for t, _, _ in asterisk.arrivals)
    assert len(times) == 40
    worst = max(bisect_left(times, t + timedelta(seconds=1)) - i for i, t in enumerate(times))
    assert worst == 3
    assert len({name.split("-")[1] for _, name, _ in asterisk.arrivals}) == 4
