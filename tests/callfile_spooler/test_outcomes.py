"""Outcomes: archived Status lines, the `failed` extension's UserEvent, Hangup,
OriginateResponse, IVR digits; retries by reason; the captured AMI session replayed."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from ami_listener.framing import AmiFramer
from callfile_spooler.campaigns import CampaignSettings
from callfile_spooler.imports import parse_numbers
from callfile_spooler.models import Attempt, Campaign
from callfile_spooler.settings import RetryDelays, SpoolSettings
from callfile_spooler.spooler import Spooler
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.callfile_spooler.conftest import FIXTURES, make_spooler
from tests.callfile_spooler.fake_asterisk import FakeAsterisk, Fate, event, user_event
from tests.conftest import Database


async def campaign_with(
    spooler: Spooler, numbers: list[str], name: str = "promo", **settings: object
) -> int:
    info = await spooler.campaigns.create(
        name,
        CampaignSettings(max_concurrent=10, cps=10, **settings),  # type: ignore[arg-type]
    )
    parsed = parse_numbers("number\n" + "\n".join(numbers) + "\n", spooler.phones)
    assert not parsed.problems
    await spooler.campaigns.import_numbers(name, parsed)
    await spooler.campaigns.start(name)
    return info.id


async def attempts(database: Database) -> list[Attempt]:
    async with database.sessions() as session:
        return list(await session.scalars(select(Attempt).order_by(Attempt.id)))


async def test_answered_and_expired_from_archived_files(
    db: Database, clock: FixedClock, settings: SpoolSettings, spool_dir: Path
) -> None:
    spooler = make_spooler(db, clock, settings)
    await campaign_with(spooler, ["0501110001", "0501110002"])
    result = await spooler.tick()
    assert result.spooled == 2
    asterisk = FakeAsterisk(
        spool_dir, lambda c: Fate(1, None if c.variables["CAMPAIGN_NUMBER"].endswith("1") else 3)
    )
    asterisk.pick_up(clock.now())
    clock.instant += timedelta(seconds=1)
    await spooler.tick()
    assert [a.status for a in await attempts(db)] == ["dialing", "dialing"]
    asterisk.finish(clock.now())
    clock.instant += timedelta(seconds=1)
    await spooler.tick()
    rows = await attempts(db)
    assert [(a.attempt_no, a.status) for a in rows] == [
        (1, "answered"),
        (1, "expired"),
        (2, "queued"),
    ]
    assert rows[1].ended_at is not None
    assert spooler.alive() == 0
    assert os.listdir(spool_dir / "outgoing_done") == []  # read, recorded, removed
    report = {r.number: r for r in await spooler.campaigns.report("promo")}
    assert report["+380501110001"].status == "answered"
    assert report["+380501110002"].status == "pending"
    assert report["+380501110002"].last_outcome == "expired"
    assert report["+380501110002"].attempts == 1


async def test_failed_extension_reason_decides_and_retries_by_reason(
    db: Database, clock: FixedClock, spool_dir: Path
) -> None:
    settings = SpoolSettings(
        dir=spool_dir,
        fsync=False,
        poll_interval=0.5,
        max_attempts=2,
        retry_delays=RetryDelays(busy=60, noanswer=600, congestion=30, failed=120),
    )
    spooler = make_spooler(db, clock, settings)
    reasons = {"+380501110001": 5, "+380501110002": 3, "+380501110003": 8, "+380501110004": 0}
    await campaign_with(spooler, ["0501110001", "0501110002", "0501110003", "0501110004"])
    asterisk = FakeAsterisk(spool_dir, lambda c: Fate(0, reasons[c.variables["CAMPAIGN_NUMBER"]]))
    await spooler.tick()
    asterisk.step(clock.now())
    for message in asterisk.take_events():  # the `failed` extension's UserEvents come first
        await spooler.on_ami_event(message)
    assert spooler.alive() == 0  # the events freed the lines before the files were read
    start = clock.now()
    clock.instant += timedelta(seconds=1)
    await spooler.tick()
    rows = await attempts(db)
    first = {a.number_id: a for a in rows if a.attempt_no == 1}
    second = {a.number_id: a for a in rows if a.attempt_no == 2}
    assert sorted((a.status, a.reason) for a in first.values()) == [
        ("busy", 5),
        ("congestion", 8),
        ("failed", 0),
        ("noanswer", 3),
    ]
    delays = {
        first[n].status: (
            second[n].not_before.replace(tzinfo=None) - start.replace(tzinfo=None)
        ).total_seconds()
        for n in second
    }
    assert delays == {"busy": 60, "noanswer": 600, "congestion": 30, "failed": 120}

    # Retries go out when due, and the second failure gives up (max_attempts 2).
    clock.instant = start + timedelta(seconds=61)
    assert (await spooler.tick()).spooled == 2  # congestion (30 s) and busy (60 s)
    asterisk.step(clock.now())
    for message in asterisk.take_events():
        await spooler.on_ami_event(message)
    clock.instant += timedelta(seconds=1)
    await spooler.tick()
    report = {r.number: r for r in await spooler.campaigns.report("promo")}
    assert report["+380501110001"].status == "given_up"
    assert report["+380501110001"].attempts == 2
    assert report["+380501110001"].last_outcome == "busy"
    assert report["+380501110002"].status == "pending"


async def test_expired_file_before_the_event_is_refined(
    db: Database, clock: FixedClock, settings: SpoolSettings, spool_dir: Path
) -> None:
    spooler = make_spooler(db, clock, settings)
    await campaign_with(spooler, ["0501110001"])
    await spooler.tick()
    asterisk = FakeAsterisk(spool_dir, lambda _c: Fate(0, 5))
    asterisk.step(clock.now())
    clock.instant += timedelta(seconds=1)
    await spooler.tick()  # the archived file first: Expired
    rows = await attempts(db)
    assert [a.status for a in rows] == ["expired", "queued"]
    expired_retry = rows[1].not_before
    for message in asterisk.take_events():  # then the UserEvent with REASON 5
        await spooler.on_ami_event(message)
    rows = await attempts(db)
    assert [(a.status, a.reason) for a in rows] == [("busy", 5), ("queued", None)]
    assert rows[1].not_before < expired_retry  # busy retries sooner than expired


async def test_hangup_cause_names_the_outcome_without_a_failed_extension(
    db: Database, clock: FixedClock, settings: SpoolSettings, spool_dir: Path
) -> None:
    spooler = make_spooler(db, clock, settings)
    await campaign_with(spooler, ["0501110001"])
    await spooler.tick()
    (attempt,) = await attempts(db)
    await spooler.on_ami_event(
        event(
            "Hangup",
            ("Channel", "PJSIP/trunk-00000001"),
            ("Uniqueid", "1795311404.3"),
            ("ChanVariable", f"CAMPAIGN_ATTEMPT_ID={attempt.id}"),
            ("Cause", "17"),
            ("Cause-txt", "User busy"),
        )
    )
    assert spooler.alive() == 0  # the line is free at once
    asterisk = FakeAsterisk(spool_dir, lambda _c: Fate(0, 5))
    asterisk.step(clock.now())
    clock.instant += timedelta(seconds=1)
    await spooler.tick()
    first = (await attempts(db))[0]
    assert (first.status, first.cause) == ("busy", 17)


async def test_answer_digit_and_hangup_by_uniqueid(
    db: Database, clock: FixedClock, settings: SpoolSettings, spool_dir: Path
) -> None:
    spooler = make_spooler(db, clock, settings)
    campaign_id = await campaign_with(spooler, ["0501110001"])
    await spooler.tick()
    # As the captured dialplan sends it: Campaign and Number, no Attempt header.
    answered = event(
        "UserEvent",
        ("Channel", "PJSIP/trunk-00000003"),
        ("Uniqueid", "1795311406.6"),
        ("UserEvent", "CampaignAnswered"),
        ("Campaign", str(campaign_id)),
        ("Number", "0501110001"),
    )
    await spooler.on_ami_event(answered)
    assert spooler.alive() == 1  # answered, still talking
    await spooler.on_ami_event(
        event(
            "UserEvent",
            ("Uniqueid", "1795311406.6"),
            ("UserEvent", "CampaignDigit"),
            ("Campaign", str(campaign_id)),
            ("Number", "+380501110001"),
            ("Digit", "2"),
        )
    )
    await spooler.on_ami_event(event("Hangup", ("Uniqueid", "1795311406.6"), ("Cause", "16")))
    assert spooler.alive() == 0
    (attempt,) = await attempts(db)
    assert (attempt.status, attempt.digit, attempt.uniqueid) == ("answered", "2", "1795311406.6")
    (row,) = await spooler.campaigns.report("promo")
    assert (row.status, row.digit) == ("answered", "2")


async def test_originate_response(db: Database, clock: FixedClock, settings: SpoolSettings) -> None:
    spooler = make_spooler(db, clock, settings)
    await campaign_with(spooler, ["0501110001", "0501110002"])
    await spooler.tick()
    first, second = await attempts(db)
    await spooler.on_ami_event(
        event(
            "OriginateResponse",
            ("ActionID", f"pbxbridge-{first.id}"),
            ("Response", "Success"),
            ("Reason", "4"),
            ("Uniqueid", "1.1"),
        )
    )
    await spooler.on_ami_event(
        event(
            "OriginateResponse",
            ("ActionID", f"pbxbridge-{second.id}"),
            ("Response", "Failure"),
            ("Reason", "3"),
            ("Uniqueid", "<unknown>"),
        )
    )
    rows = await attempts(db)
    assert [(a.status, a.reason) for a in rows[:2]] == [("answered", 4), ("noanswer", 3)]
    assert spooler.alive() == 1


async def test_unrelated_events_are_ignored(
    db: Database, clock: FixedClock, settings: SpoolSettings
) -> None:
    spooler = make_spooler(db, clock, settings)
    await campaign_with(spooler, ["0501110001"])
    await spooler.tick()
    for message in (
        event("Hangup", ("Uniqueid", "999.1"), ("Cause", "16")),
        user_event("LabCyrillic", Text="Привет"),
        user_event("CallFileFailed", Reason="3", Campaign="999", Number="0501110001"),
        event("OriginateResponse", ("ActionID", "orig-1"), ("Response", "Success")),
        event("Newchannel", ("Uniqueid", "1.2")),
    ):
        await spooler.on_ami_event(message)
    assert [a.status for a in await attempts(db)] == ["spooled"]
    assert spooler.alive() == 1


async def test_captured_session_replayed(db: Database, clock: FixedClock, spool_dir: Path) -> None:
    """The real capture: two call files of campaign 7 (dialplan `campaign-test`), one
    answered, one not (its `failed` extension sent CallFileFailed Reason 3); then the
    archived files Asterisk wrote for them."""
    phones = PhoneNormaliser("RU")  # the capture's numbers are Russian (89161111111)
    settings = SpoolSettings(
        dir=spool_dir, fsync=False, poll_interval=0.5, dial_format="{national}"
    )
    spooler = make_spooler(db, clock, settings, phones)
    async with db.sessions.begin() as session:
        session.add(
            Campaign(
                id=7,
                name="capture",
                context="campaign-test",
                extension="s",
                bundle_size=0,
                bundle_delay=0.0,
                max_concurrent=5,
                cps=5.0,
                run_no=0,
                created_at=clock.now(),
                kind="campaign",
                state="idle",
            )
        )
    parsed = parse_numbers("number\n89161111111\n89502222222\n", phones)
    await spooler.campaigns.import_numbers("capture", parsed)
    await spooler.campaigns.start("capture")
    await spooler.tick()
    files = sorted(os.listdir(spool_dir / "outgoing"))
    assert len(files) == 2
    by_number = {}
    for name in files:
        text = (spool_dir / "outgoing" / name).read_text()
        assert "Channel: Local/8916" in text or "Channel: Local/8950" in text
        by_number["noans" if "89161111111" in text or "+79161111111" in text else "ok"] = name

    framer = AmiFramer()
    raw = (FIXTURES / "asterisk" / "ami-session-originate-callfiles-agi.raw").read_bytes()
    for offset in range(0, len(raw), 1000):
        for message in framer.feed(raw[offset : offset + 1000]):
            if message.kind == "event" and message.name in Spooler.ami_events:
                await spooler.on_ami_event(message)
    statuses = sorted((a.status, a.reason) for a in await attempts(db) if a.attempt_no == 1)
    assert statuses == [("answered", 4), ("noanswer", 3)]
    assert spooler.alive() == 0  # CampaignAnswered's Uniqueid, then its Hangup

    # Asterisk's archived copies (the captured bytes under our names) change nothing.
    for kind, name in by_number.items():
        os.rename(spool_dir / "outgoing" / name, spool_dir / "outgoing_done" / name)
        (spool_dir / "outgoing_done" / name).write_bytes(
            (FIXTURES / "asterisk" / "outgoing_done" / f"camp-{kind}.call").read_bytes()
        )
    clock.instant += timedelta(seconds=1)
    await spooler.tick()
    after = sorted((a.attempt_no, a.status) for a in await attempts(db))
    assert after == [(1, "answered"), (1, "noanswer"), (2, "queued")]
    assert os.listdir(spool_dir / "outgoing_done") == []


async def test_archived_without_status_waits_then_fails(
    sqlite_db: Database, clock: FixedClock, settings: SpoolSettings, spool_dir: Path
) -> None:
    """Asterisk renames into outgoing_done/ and then appends `Status:`; a file met in
    between is not an outcome yet, unless it stays like that (Asterisk died there)."""
    spooler = make_spooler(sqlite_db, clock, settings)
    await campaign_with(spooler, ["0501110001"])
    await spooler.tick()
    asterisk = FakeAsterisk(spool_dir, lambda _c: Fate(0))
    asterisk.pick_up(clock.now())
    asterisk.finish(clock.now(), append_status=False)
    clock.instant += timedelta(seconds=1)
    await spooler.tick()
    assert [a.status for a in await attempts(sqlite_db)] == ["spooled"]
    assert spooler.alive() == 1
    clock.instant += timedelta(seconds=61)
    await spooler.tick()
    (attempt,) = await attempts(sqlite_db)
    assert (attempt.status, attempt.detail) == (
        "failed",
        "archived by Asterisk without a Status line",
    )
    assert spooler.alive() == 0
