"""Runs: start, pause (files taken back out of outgoing/), DNC, windows, weekly schedule,
and the start-up reconciliation of attempts with the files in the spool."""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from callfile_spooler.campaigns import CampaignSettings
from callfile_spooler.errors import CampaignError, SpoolError
from callfile_spooler.imports import parse_numbers
from callfile_spooler.models import Attempt, Campaign
from callfile_spooler.schedule import WeeklySchedule
from callfile_spooler.settings import SpoolSettings
from callfile_spooler.spooler import Spooler
from callfile_spooler.writer import SpoolFolder, file_name
from primitives.clock import FixedClock
from tests.callfile_spooler.conftest import make_spooler, ua_numbers
from tests.callfile_spooler.fake_asterisk import FakeAsterisk, Fate
from tests.conftest import Database


async def setup(
    spooler: Spooler, count: int, name: str = "promo", start: bool = True, **settings: object
) -> None:
    options: dict[str, object] = {"max_concurrent": 10, "cps": 100}
    options.update(settings)
    await spooler.campaigns.create(name, CampaignSettings(**options))  # type: ignore[arg-type]
    text = "number\n" + "\n".join(ua_numbers(count)) + "\n"
    await spooler.campaigns.import_numbers(name, parse_numbers(text, spooler.phones))
    if start:
        await spooler.campaigns.start(name)


async def statuses(database: Database) -> list[str]:
    async with database.sessions() as session:
        return list(await session.scalars(select(Attempt.status).order_by(Attempt.id)))


def listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


async def test_pause_takes_back_only_files_asterisk_has_not_started(
    db: Database, clock: FixedClock, settings: SpoolSettings, spool_dir: Path
) -> None:
    spooler = make_spooler(db, clock, settings)
    await setup(spooler, 6, max_concurrent=4)
    assert (await spooler.tick()).spooled == 4
    asterisk = FakeAsterisk(spool_dir, lambda _c: Fate(3600))
    started = sorted(listing(spool_dir / "outgoing"))[:2]
    for name in started:  # Asterisk got to two of them
        with (spool_dir / "outgoing" / name).open("a") as fh:
            fh.write("\nStartRetry: 4242 1 (1795311466)\n")
    await spooler.campaigns.pause("promo")
    clock.instant += timedelta(seconds=1)
    await spooler.tick()
    assert listing(spool_dir / "outgoing") == started
    assert listing(spool_dir / "tmp") == []
    assert await statuses(db) == ["dialing", "dialing", "queued", "queued", "queued", "queued"]
    status = await spooler.campaigns.status("promo")
    assert status.info.state == "paused"
    assert status.by_number_status == {"calling": 2, "pending": 4}
    assert spooler.alive() == 2
    report = {r.number: r.attempts for r in await spooler.campaigns.report("promo")}
    assert sorted(report.values()) == [0, 0, 0, 0, 1, 1]

    # Resume: the four come back, never twice.
    assert "resumed" in await spooler.campaigns.start("promo")
    clock.instant += timedelta(seconds=1)
    assert (await spooler.tick()).spooled == 2  # 4 lines, 2 busy with the started calls
    asterisk.pick_up(clock.now())
    assert len(listing(spool_dir / "outgoing")) == 4


async def test_dnc_numbers_are_never_called(
    db: Database, clock: FixedClock, settings: SpoolSettings, spool_dir: Path
) -> None:
    spooler = make_spooler(db, clock, settings)
    await spooler.campaigns.dnc_add("+38 (050) 100-00-00", "asked by phone")
    await setup(spooler, 3, start=False)
    await spooler.campaigns.start("promo")
    await spooler.campaigns.dnc_add("0501000001")  # listed after the run began
    await spooler.tick()
    files = listing(spool_dir / "outgoing")
    assert len(files) == 1
    assert "+380501000002" in (spool_dir / "outgoing" / files[0]).read_text()
    report = {r.number: r.status for r in await spooler.campaigns.report("promo")}
    assert report == {"+380501000000": "dnc", "+380501000001": "dnc", "+380501000002": "calling"}
    assert [n for n, _, _ in await spooler.campaigns.dnc_list()] == [
        "+380501000000",
        "+380501000001",
    ]
    assert await spooler.campaigns.dnc_remove("0501000001")
    with pytest.raises(CampaignError, match="not a valid phone number"):
        await spooler.campaigns.dnc_add("12")


async def test_window_and_weekly_schedule(
    db: Database, settings: SpoolSettings, spool_dir: Path
) -> None:
    # Monday 2026-11-23 07:00 Kyiv (05:00 UTC)
    clock = FixedClock(datetime(2026, 11, 23, 5, 0, tzinfo=UTC))
    spooler = make_spooler(db, clock, settings)
    schedule = WeeklySchedule.from_json('{"mon": "08:00", "tue": "00:00", "wed": "08:00"}')
    await setup(spooler, 2, start=False, schedule=schedule, window="09:00-18:00")
    assert (await spooler.tick()).spooled == 0
    assert (await spooler.campaigns.get("promo")).state == "idle"
    clock.instant += timedelta(hours=1, minutes=30)  # 08:30: the run begins, the window is shut
    assert (await spooler.tick()).spooled == 0
    info = await spooler.campaigns.get("promo")
    assert (info.state, info.run_no, str(info.last_run_on)) == ("running", 1, "2026-11-23")
    clock.instant += timedelta(minutes=30)  # 09:00
    assert (await spooler.tick()).spooled == 2
    asterisk = FakeAsterisk(spool_dir)
    asterisk.step(clock.now())
    asterisk.finish(clock.now() + timedelta(seconds=5))
    clock.instant += timedelta(seconds=5)
    await spooler.tick()
    clock.instant += timedelta(seconds=1)
    await spooler.tick()
    info = await spooler.campaigns.get("promo")
    assert info.state == "done"
    clock.instant += timedelta(hours=3)  # still Monday: no second run
    await spooler.tick()
    assert (await spooler.campaigns.get("promo")).run_no == 1
    clock.instant += timedelta(days=1)  # Tuesday "00:00": no run
    await spooler.tick()
    assert (await spooler.campaigns.get("promo")).run_no == 1
    clock.instant += timedelta(days=1)  # Wednesday 12:00
    assert (await spooler.tick()).spooled == 2
    assert (await spooler.campaigns.get("promo")).run_no == 2


async def test_manual_start_counts_for_the_day_and_new_numbers_join_the_run(
    db: Database, clock: FixedClock, settings: SpoolSettings, spool_dir: Path
) -> None:
    spooler = make_spooler(db, clock, settings)
    schedule = WeeklySchedule.from_json('{"mon": "11:00"}')
    await setup(spooler, 2, schedule=schedule)  # started by hand at 10:00
    await spooler.tick()
    extra = parse_numbers("number\n0507777777\n0501000000\n", spooler.phones)
    report = await spooler.campaigns.import_numbers("promo", extra)
    assert (report.added, report.updated, report.queued) == (1, 1, 1)
    clock.instant += timedelta(hours=2)  # 12:00: the schedule does not start another run
    assert (await spooler.tick()).spooled == 1
    assert (await spooler.campaigns.get("promo")).run_no == 1
    assert len(listing(spool_dir / "outgoing")) == 3


async def test_start_without_numbers_and_unknown_campaign(db: Database, clock: FixedClock) -> None:
    spooler = make_spooler(db, clock, SpoolSettings())
    await spooler.campaigns.create("empty")
    with pytest.raises(CampaignError, match="no numbers"):
        await spooler.campaigns.start("empty")
    with pytest.raises(CampaignError, match="no campaign"):
        await spooler.campaigns.pause("nope")
    with pytest.raises(CampaignError, match="not running"):
        await spooler.campaigns.pause("empty")
    with pytest.raises(CampaignError, match="exists"):
        await spooler.campaigns.create("empty")
    with pytest.raises(CampaignError, match="context"):
        await spooler.campaigns.create("bad", CampaignSettings(context="a\nApplication: System"))
    with pytest.raises(CampaignError, match="cps"):
        await spooler.campaigns.edit("empty", cps=0)
    info = await spooler.campaigns.edit("empty", cps=2.5, window="21:00-09:00")
    assert (info.settings.cps, str(info.time_window)) == (2.5, "21:00-09:00")


async def test_restart_matches_attempts_to_files(
    sqlite_db: Database, clock: FixedClock, settings: SpoolSettings, spool_dir: Path
) -> None:
    """The state a crash can leave: a file in tmp/ never renamed in (attempt spooled), a
    file in tmp/ of an attempt never committed (queued), one in outgoing/ started by
    Asterisk, one archived, and one gone without a trace."""
    db = sqlite_db
    spooler = make_spooler(db, clock, settings)
    await setup(spooler, 6)
    await spooler.tick()
    names = listing(spool_dir / "outgoing")
    assert len(names) == 6
    tmp_spooled, tmp_queued, started, archived, vanished, waiting = names
    os.rename(spool_dir / "outgoing" / tmp_spooled, spool_dir / "tmp" / tmp_spooled)
    os.rename(spool_dir / "outgoing" / tmp_queued, spool_dir / "tmp" / tmp_queued)
    async with db.sessions.begin() as session:
        queued_id = int(tmp_queued.split("-")[2].split(".")[0])
        attempt = await session.get(Attempt, queued_id)
        assert attempt is not None
        attempt.status = "queued"
    asterisk = FakeAsterisk(spool_dir, lambda _c: Fate(0))
    with (spool_dir / "outgoing" / started).open("a") as fh:
        fh.write("\nStartRetry: 4242 1 (1795311466)\n")
    os.rename(spool_dir / "outgoing" / archived, spool_dir / "outgoing_done" / archived)
    with (spool_dir / "outgoing_done" / archived).open("a") as fh:
        fh.write("\nStartRetry: 4242 1 (1795311466)\nStatus: Completed\n")
    (spool_dir / "outgoing" / vanished).unlink()

    restarted = make_spooler(db, clock, settings)
    await restarted.recover()
    assert listing(spool_dir / "tmp") == []
    assert listing(spool_dir / "outgoing") == sorted([started, waiting])
    assert listing(spool_dir / "outgoing_done") == []
    by_name = dict(zip(names, await statuses(db), strict=False))
    assert by_name == {
        tmp_spooled: "queued",
        tmp_queued: "queued",
        started: "dialing",
        archived: "answered",
        vanished: "failed",
        waiting: "spooled",
    }
    assert restarted.alive() == 2
    clock.instant += timedelta(seconds=1)
    assert (await restarted.tick()).spooled == 2  # the two that never reached Asterisk
    asterisk.step(clock.now())
    numbers = sorted(n for _, _, n in asterisk.arrivals)
    assert len(numbers) == len(set(numbers)) == 4  # nobody twice


def test_folder_checks(tmp_path: Path) -> None:
    with pytest.raises(SpoolError, match="Asterisk creates it"):
        SpoolFolder(SpoolSettings(dir=tmp_path / "spool")).prepare()
    (tmp_path / "spool" / "outgoing").mkdir(parents=True)
    SpoolFolder(SpoolSettings(dir=tmp_path / "spool")).prepare()  # creates tmp/ only
    assert {p.name for p in (tmp_path / "spool").iterdir()} == {"tmp", "outgoing"}
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem here")
    spool = Path("/dev/shm") / f"pbxbridge-test-{os.getpid()}"
    try:
        spool.mkdir()
        (spool / "tmp").mkdir()
        os.symlink(tmp_path / "spool" / "outgoing", spool / "outgoing")
        with pytest.raises(SpoolError, match="different filesystems"):
            SpoolFolder(SpoolSettings(dir=spool)).prepare()
    finally:
        for item in ("outgoing", "tmp"):
            path = spool / item
            if path.is_symlink():
                path.unlink()
            elif path.is_dir():
                path.rmdir()
        spool.rmdir()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_chown_user(tmp_path: Path) -> None:
    import pwd

    from callfile_spooler.callfile import CallFile
    from callfile_spooler.writer import file_name

    (tmp_path / "outgoing").mkdir()
    folder = SpoolFolder(SpoolSettings(dir=tmp_path, chown_user="nobody", fsync=False))
    folder.prepare()
    name = file_name(1, 1)
    folder.spool(name, CallFile(channel="Local/1@x", context="c", extension="s"))
    assert (tmp_path / "outgoing" / name).stat().st_uid == pwd.getpwnam("nobody").pw_uid
    with pytest.raises(SpoolError, match="no such user"):
        SpoolFolder(SpoolSettings(dir=tmp_path, chown_user="no-such-user-here")).prepare()


def test_relative_spool_dir_resolves_against_the_config_folder(tmp_path: Path) -> None:
    settings = SpoolSettings(dir=Path("spool")).resolved(tmp_path)
    assert settings.dir == tmp_path / "spool"
    assert settings.outgoing_dir == tmp_path / "spool" / "outgoing"
    assert SpoolSettings().resolved(tmp_path).dir == Path("/var/spool/asterisk")


def test_atomic_write_then_rename(tmp_path: Path) -> None:
    (tmp_path / "outgoing").mkdir()
    settings = SpoolSettings(dir=tmp_path, fsync=True)
    folder = SpoolFolder(settings)
    folder.prepare()
    from callfile_spooler.callfile import CallFile, render
    from callfile_spooler.writer import file_name

    call = CallFile(channel="Local/1@x", context="c", extension="s")
    name = file_name(3, 9)
    result = folder.write([(name, call)], mtime=datetime(2030, 1, 1, tzinfo=UTC))
    assert result.written == [name]
    assert listing(settings.outgoing_dir) == []  # not visible to Asterisk yet
    tmp_file = settings.tmp_dir / name
    inode = tmp_file.stat().st_ino
    assert tmp_file.stat().st_mtime == datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    assert oct(tmp_file.stat().st_mode & 0o777) in ("0o660", "0o640", "0o600")
    folder.publish([name])
    moved = settings.outgoing_dir / name
    assert moved.stat().st_ino == inode  # renamed, not copied
    assert moved.read_bytes() == render(call)
    assert listing(settings.tmp_dir) == []
    with pytest.raises(ValueError, match="not a pbxbridge call-file name"):
        folder.publish(["../../etc/passwd"])


async def test_limits_that_overflow_are_refused_when_set(
    db: Database, clock: FixedClock, settings: SpoolSettings
) -> None:
    spooler = make_spooler(db, clock, settings)
    for bad in ({"bundle_size": 1, "bundle_delay": 1e12}, {"cps": 1e-15}, {"cps": math.inf}):
        with pytest.raises(CampaignError, match=r"cps|delay"):
            await spooler.campaigns.create("bad", CampaignSettings(**bad))  # type: ignore[arg-type]
    await spooler.campaigns.create("slow", CampaignSettings(cps=1 / 86_400))


async def test_one_broken_campaign_holds_back_only_itself(
    db: Database,
    clock: FixedClock,
    settings: SpoolSettings,
    spool_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A row whose limits no check would let in now (written by an older version, or by
    hand): that campaign is skipped with one log line; the others, and later ticks, run."""
    spooler = make_spooler(db, clock, settings)
    await setup(spooler, 2, name="broken")
    await setup(spooler, 3, name="fine")
    async with db.sessions.begin() as session:
        await session.execute(
            update(Campaign).where(Campaign.name == "broken").values(bundle_delay=1e12)
        )
    assert (await spooler.tick()).spooled == 3
    clock.instant += timedelta(seconds=2)
    await spooler.tick()
    skipped = [r for r in caplog.records if "campaign broken skipped" in r.getMessage()]
    assert len(skipped) == 1
    assert "delay between bundles" in skipped[0].getMessage()
    assert {n.split("-")[1] for n in listing(spool_dir / "outgoing")} == {"2"}


async def test_callback_names_are_reserved(
    db: Database, clock: FixedClock, settings: SpoolSettings
) -> None:
    """A campaign called `callback-13` would take request 13's name, and every request
    after would fail on the unique name."""
    spooler = make_spooler(db, clock, settings)
    for name in ("callback-13", "Callback-1"):
        with pytest.raises(CampaignError, match="callback requests' own"):
            await spooler.campaigns.create(name)
    await spooler.campaigns.create("callbacks-weekly")


async def test_an_archived_file_of_the_same_name_is_not_the_new_call_s_outcome(
    db: Database, clock: FixedClock, settings: SpoolSettings, spool_dir: Path
) -> None:
    """SQLite gives a new campaign a deleted one's id, and a database started afresh on an
    old spool starts ids at 1: a new call file can have the name of an archived one kept
    in outgoing_done/. That old Completed must not end the new call."""
    settings = settings.model_copy(update={"keep_done_files": True})
    spooler = make_spooler(db, clock, settings)
    await setup(spooler, 1, name="real")
    async with db.sessions() as session:
        attempt = await session.scalar(select(Attempt))
    assert attempt is not None
    name = file_name(attempt.campaign_id, attempt.id)
    old = spool_dir / "outgoing_done" / name
    old.write_text("Channel: Local/0501234567@pbxbridge-dial\nStatus: Completed\n")
    assert (await spooler.tick()).spooled == 1
    clock.instant += timedelta(seconds=2)
    await spooler.tick()
    assert (await spooler.campaigns.status("real")).by_number_status == {"calling": 1}
    assert spooler.alive() == 1
    (kept,) = listing(spool_dir / "outgoing_done")
    assert kept.startswith(f"{name}.stale-")
    assert (spool_dir / "outgoing_done" / kept).read_text().endswith("Status: Completed\n")
