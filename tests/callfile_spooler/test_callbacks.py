"""Callbacks: recorded, limited, checked against the DNC list, copied to Ubilling, dialled in
both modes (byte-exact call files) and their outcomes recorded like campaign attempts."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from billing_client.audit import AuditJournal
from billing_client.errors import BillingError, UbillingRefused
from billing_client.local import LocalBackend
from callfile_spooler.callbacks import CallbackRequest, CallbackService, callmeback_of
from callfile_spooler.callfile import ArchivedCallFile
from callfile_spooler.calls import CallDialer
from callfile_spooler.errors import CallbackError
from callfile_spooler.models import Attempt, Campaign
from callfile_spooler.settings import CallbackSettings, SpoolSettings
from callfile_spooler.spooler import Spooler
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from tests.billing_client.test_ubilling_backend import ubilling_rig
from tests.callfile_spooler.conftest import make_spooler
from tests.callfile_spooler.fake_asterisk import FakeAsterisk, Fate, user_event
from tests.conftest import Database
from tests.fakes.ubilling import Fault
from tests.schema import schema_drift

ISP = '"ISP" <0441234567>'


@dataclass
class Rig:
    db: Database
    clock: FixedClock
    spool: SpoolSettings
    spooler: Spooler
    service: CallbackService
    woken: list[bool]

    async def tick(self, seconds: float = 1.0) -> None:
        self.clock.instant += timedelta(seconds=seconds)
        await self.spooler.tick()

    def outgoing(self) -> list[Path]:
        return [self.spool.outgoing_dir / n for n in sorted(os.listdir(self.spool.outgoing_dir))]

    async def attempts(self) -> list[tuple[str, int, str]]:
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(Campaign.name, Attempt.attempt_no, Attempt.status)
                .join(Campaign, Campaign.id == Attempt.campaign_id)
                .order_by(Attempt.id)
            )
            return [(n, a, s) for n, a, s in rows]


MakeRig = Callable[..., Rig]


@pytest.fixture
def make_rig(
    db: Database, clock: FixedClock, settings: SpoolSettings, phones: PhoneNormaliser
) -> MakeRig:
    def make(**overrides: Any) -> Rig:
        service_options = {k: overrides.pop(k) for k in ("billing", "callmeback") if k in overrides}
        values: dict[str, Any] = {"callerid": ISP, "ring_time": 30, **overrides}
        callback = CallbackSettings(**values)
        spooler = make_spooler(db, clock, settings, phones)
        spooler.dialer = CallDialer(settings, phones, callback)
        woken: list[bool] = []
        service = CallbackService(
            db.sessions,
            clock,
            phones,
            callback,
            wake=lambda: woken.append(True),
            **service_options,
        )
        return Rig(db, clock, settings, spooler, service, woken)

    return make


CUSTOMER_FIRST = (
    "Channel: Local/0501234567@pbxbridge-dial\n"
    'CallerID: "ISP" <0441234567>\n'
    "MaxRetries: 0\n"
    "WaitTime: 30\n"
    "Context: pbxbridge-callback\n"
    "Extension: s\n"
    "Priority: 1\n"
    "Setvar: CAMPAIGN_ID=1\n"
    "Setvar: CAMPAIGN_ATTEMPT_ID=1\n"
    "Setvar: CAMPAIGN_NUMBER=+380501234567\n"
    "Setvar: CALLBACK_ID=1\n"
    "Setvar: CALLBACK_MODE=customer_first\n"
    "Setvar: CALLBACK_QUEUE=support\n"
    "Setvar: CALLBACK_NAME=Іван Петренко\n"
    "Archive: yes\n"
)

OPERATOR_FIRST = (
    "Channel: Local/callback-desk@pbxbridge-callback-queue\n"
    'CallerID: "Callback Іван Петренко" <0501234567>\n'
    "MaxRetries: 0\n"
    "WaitTime: 90\n"
    "Context: pbxbridge-callback-connect\n"
    "Extension: s\n"
    "Priority: 1\n"
    "Setvar: CAMPAIGN_ID=1\n"
    "Setvar: CAMPAIGN_ATTEMPT_ID=1\n"
    "Setvar: CAMPAIGN_NUMBER=+380501234567\n"
    "Setvar: CALLBACK_ID=1\n"
    "Setvar: CALLBACK_MODE=operator_first\n"
    "Setvar: CALLBACK_QUEUE=callback-desk\n"
    "Setvar: CALLBACK_NAME=Іван Петренко\n"
    "Setvar: CALLBACK_CHANNEL=Local/0501234567@pbxbridge-dial\n"
    "Setvar: CALLBACK_RING=30\n"
    "Setvar: CALLBACK_CALLERID_NUM=0441234567\n"
    "Setvar: CALLBACK_CALLERID_NAME=ISP\n"
    "Archive: yes\n"
)


async def test_customer_first_call_file_and_answered_outcome(make_rig: MakeRig) -> None:
    rig = make_rig()
    result = await rig.service.request(
        "050 123 45 67",
        name="  Іван;  Петренко\n",  # the `;` would start a comment in a call file
        comment="Інтернет не працює з ранку",
        source="web",
    )
    assert (result.accepted, result.id, result.campaign) == (True, 1, "callback-1")
    assert result.describe() == "Callback #1 to +380501234567 (not a subscriber) queued."
    assert rig.woken == [True]
    await rig.tick()
    (path,) = rig.outgoing()
    assert path.name == "pbxbridge-1-1.call"
    assert path.read_bytes() == CUSTOMER_FIRST.encode()

    asterisk = FakeAsterisk(rig.spool.dir)
    asterisk.step(rig.clock.now())
    asterisk.finish(rig.clock.now() + timedelta(seconds=5))
    await rig.tick(5)
    await rig.tick()  # nothing left: the callback's campaign is done
    (info,) = await rig.service.list_requests()
    assert (info.status, info.call, info.attempts, info.last_outcome) == (
        "queued",
        "answered",
        1,
        "answered",
    )
    assert (info.name, info.comment, info.source) == (
        "Іван; Петренко",
        "Інтернет не працює з ранку",
        "web",
    )
    assert await rig.attempts() == [("callback-1", 1, "answered")]
    async with rig.db.sessions() as session:
        campaign = await session.scalar(select(Campaign))
        assert campaign is not None
        assert (campaign.kind, campaign.state, campaign.max_attempts) == ("callback", "done", 3)


async def test_operator_first_call_file_and_outcomes_from_the_dialplan(
    make_rig: MakeRig,
) -> None:
    rig = make_rig(mode="operator_first", queue="callback-desk", operator_wait_time=90)
    result = await rig.service.request("+380501234567", name="Іван Петренко", source="cli:ops")
    assert result.accepted
    await rig.tick()
    (path,) = rig.outgoing()
    assert path.read_bytes() == OPERATOR_FIRST.encode()

    # An operator took it (Asterisk will archive it Completed), the customer was busy:
    # the connect context's `h` extension says so first, and that is the outcome.
    asterisk = FakeAsterisk(rig.spool.dir)
    asterisk.step(rig.clock.now())
    await rig.spooler.on_ami_event(
        user_event("CallFileFailed", Reason="5", Campaign="1", Attempt="1", Number="+380501234567")
    )
    asterisk.finish(rig.clock.now() + timedelta(seconds=5))
    await rig.tick(5)
    assert await rig.attempts() == [("callback-1", 1, "busy"), ("callback-1", 2, "queued")]
    await rig.tick(rig.spool.retry_delays.busy)
    second = rig.outgoing()
    assert [p.name for p in second] == ["pbxbridge-1-2.call"]
    assert "Setvar: CAMPAIGN_ATTEMPT_ID=2\n" in second[0].read_text()
    # This time the customer answers (Dial's U() gosub reports it).
    asterisk.step(rig.clock.now())
    await rig.spooler.on_ami_event(
        user_event("CampaignAnswered", Campaign="1", Attempt="2", Number="+380501234567")
    )
    asterisk.finish(rig.clock.now() + timedelta(seconds=60))
    await rig.tick(60)
    (info,) = await rig.service.list_requests()
    assert (info.call, info.attempts, info.last_outcome) == ("answered", 2, "answered")


async def test_no_operator_taking_a_callback_is_not_the_customer_s_no_answer(
    make_rig: MakeRig,
) -> None:
    """The connect context's `failed` extension runs when the queue leg fails: its event
    says `Leg: operator`, and the attempt says nobody rang the customer."""
    rig = make_rig(mode="operator_first", queue="callback-desk", operator_wait_time=90)
    await rig.service.request("+380501234567", source="cli:ops")
    await rig.tick()
    asterisk = FakeAsterisk(rig.spool.dir, lambda _c: Fate(90, reason=3))
    asterisk.step(rig.clock.now())
    asterisk.finish(rig.clock.now() + timedelta(seconds=90))
    await rig.spooler.on_ami_event(
        user_event(
            "CallFileFailed",
            Reason="3",
            Campaign="1",
            Attempt="1",
            Number="+380501234567",
            Leg="operator",
        )
    )
    await rig.tick(90)
    async with rig.db.sessions() as session:
        first = await session.get(Attempt, 1)
    assert first is not None
    assert (first.status, first.detail) == (
        "noanswer",
        "no operator took the callback; the customer was not rung",
    )


async def test_unanswered_callbacks_are_retried_then_given_up(make_rig: MakeRig) -> None:
    rig = make_rig(max_attempts=2)
    await rig.service.request("0501234567", source="web")
    asterisk = FakeAsterisk(rig.spool.dir, lambda _call: Fate(30, reason=3))
    await rig.tick()
    for _ in range(2):
        asterisk.step(rig.clock.now())
        asterisk.finish(rig.clock.now() + timedelta(seconds=30))
        for message in asterisk.take_events():
            await rig.spooler.on_ami_event(message)
        await rig.tick(30)
        await rig.tick(rig.spool.retry_delays.noanswer)
    assert await rig.attempts() == [("callback-1", 1, "noanswer"), ("callback-1", 2, "noanswer")]
    (info,) = await rig.service.list_requests()
    assert (info.call, info.attempts) == ("given_up", 2)


async def test_hourly_limit_and_one_at_a_time(make_rig: MakeRig) -> None:
    rig = make_rig(max_per_hour=2)
    asterisk = FakeAsterisk(rig.spool.dir)

    async def call_and_finish() -> None:
        await rig.tick()
        asterisk.step(rig.clock.now())
        asterisk.finish(rig.clock.now() + timedelta(seconds=10))
        await rig.tick(10)
        await rig.tick()

    first = await rig.service.request("0501234567", source="web")
    again = await rig.service.request("+380501234567", source="telegram:111")
    assert not again.accepted
    assert again.reason == "callback #1 to this number is still under way"
    assert again.describe() == (
        "Callback to +380501234567 not queued: callback #1 to this number is still under way."
    )
    await call_and_finish()
    second = await rig.service.request("0501234567", source="web")
    await call_and_finish()
    third = await rig.service.request("0501234567", source="web")
    assert [first.accepted, second.accepted, third.accepted] == [True, True, False]
    assert third.reason == (
        "2 callback(s) to this number within the hour already (callback.max_per_hour = 2)"
    )
    other = await rig.service.request("0671234567", source="web")  # another number
    assert other.accepted
    rig.clock.instant += timedelta(minutes=61)
    await call_and_finish()
    assert (await rig.service.request("0501234567", source="web")).accepted
    listed = await rig.service.list_requests()
    assert [(r.id, r.status) for r in listed] == [
        (6, "queued"),
        (5, "queued"),
        (4, "refused"),
        (3, "queued"),
        (2, "refused"),
        (1, "queued"),
    ]
    assert listed[2].call is None  # a refused request queues no call


async def test_requests_at_once_queue_one_call(make_rig: MakeRig) -> None:
    rig = make_rig(max_per_hour=10)
    results = await asyncio.gather(
        *(rig.service.request("0501234567", source=f"web:{i}") for i in range(5))
    )
    assert sorted(r.accepted for r in results) == [False, False, False, False, True]
    await rig.tick()
    assert len(rig.outgoing()) == 1


async def test_do_not_call_list_refuses(make_rig: MakeRig) -> None:
    rig = make_rig()
    await rig.spooler.campaigns.dnc_add("0501234567", "asked never to be called")
    result = await rig.service.request("0501234567", source="web")
    assert (result.accepted, result.reason) == (False, "the number is on the do-not-call list")
    await rig.tick()
    assert rig.outgoing() == []
    assert rig.woken == []
    (info,) = await rig.service.list_requests()
    assert (info.status, info.reason) == ("refused", "the number is on the do-not-call list")


async def test_bad_numbers_and_callbacks_off_are_errors(make_rig: MakeRig) -> None:
    with pytest.raises(CallbackError, match="'12' is not a valid phone number"):
        await make_rig().service.request("12", source="web")
    with pytest.raises(CallbackError, match=r"callbacks are off \(callback.enabled = false\)"):
        await make_rig(enabled=False).service.request("0501234567", source="web")
    assert await make_rig().service.list_requests() == []


async def test_a_callback_at_a_later_time_waits_for_it(make_rig: MakeRig) -> None:
    """The web form gives local times: 2 h from now in Kyiv must not become 4 h (SQLite
    keeps no offset, so a non-UTC instant was stored as its wall-clock time)."""
    rig = make_rig()
    at = rig.clock.local(rig.clock.now() + timedelta(hours=2))
    assert at.utcoffset() == timedelta(hours=2)
    result = await rig.service.request("0501234567", source="web", at=at)
    assert result.not_before == at
    await rig.tick(3600)
    assert rig.outgoing() == []
    await rig.tick(3600)
    assert len(rig.outgoing()) == 1


async def test_the_window_holds_calls_back(make_rig: MakeRig) -> None:
    rig = make_rig(window="11:00-20:00")  # it is 10:00 in Kyiv
    await rig.service.request("0501234567", source="web")
    await rig.tick()
    assert rig.outgoing() == []
    await rig.tick(3600)
    assert len(rig.outgoing()) == 1


def test_callback_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="must contain"):
        CallbackSettings(operator_channel="Local/600@from-internal")
    with pytest.raises(ValueError, match="queue"):
        CallbackSettings(queue="support\nApplication: System")
    with pytest.raises(ValueError, match="has no number"):
        CallbackSettings(callerid='"ISP" <>')
    with pytest.raises(ValueError, match="context"):
        CallbackSettings(context="a b")
    assert CallbackSettings(window="9:00-21:00").window == "09:00-21:00"


# ------------------------------------------------------------------ Ubilling


async def test_ubilling_gets_the_request_and_the_subscriber_is_resolved(
    make_rig: MakeRig, db: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(db, clock) as ub:
        assert callmeback_of(ub.backend) == ub.backend.callmeback
        local = LocalBackend(db.sessions, clock, AuditJournal(db.sessions, "local", clock))
        assert callmeback_of(local) is None
        rig = make_rig(billing=ub.client, callmeback=callmeback_of(ub.backend))
        result = await rig.service.request("+380501110001", source="web")
        assert (result.login, result.subscriber_name, result.ubilling) == (
            "testuser1",
            "Петренко Іван Петрович",
            "sent",
        )
        assert result.describe() == (
            "Callback #1 to +380501110001 (testuser1, Петренко Іван Петрович) queued. "
            "Also in Ubilling's CallMeBack list."
        )
        assert [(r.number, r.state) for r in ub.fake.state.callmeback] == [("0501110001", "undone")]
        key = ub.settings.key.get_secret_value()
        assert ub.sent("callmeback") == [
            f"module=remoteapi&key={key}&action=callmeback&param=0501110001"
        ]
        (info,) = await rig.service.list_requests()
        assert (info.login, info.subscriber_name, info.ubilling) == (
            "testuser1",
            "Петренко Іван Петрович",
            "sent",
        )


@pytest.mark.parametrize(
    ("breakage", "says"),
    [
        ("disabled", "Ubilling's CallMeBack is off (ERROR:CALLMEBACK_DISABLED); set "
                     "CALLMEBACK_ENABLED=1 in alter.ini"),
        ("http500", "callmeback: Ubilling answered HTTP 500"),
        ("dropped", "callmeback: "),
        ("slow", "Ubilling did not answer in time"),
    ],
)  # fmt: skip
async def test_a_ubilling_failure_never_loses_the_request(
    make_rig: MakeRig, db: Database, clock: FixedClock, breakage: str, says: str
) -> None:
    async with ubilling_rig(db, clock) as ub:
        if breakage == "disabled":
            ub.fake.config.callmeback_enabled = False
        elif breakage == "http500":
            ub.fake.add_fault(Fault(status=500, when={"action": "callmeback"}))
        elif breakage == "dropped":
            ub.fake.add_fault(Fault(drop=True, when={"action": "callmeback"}))
        else:
            ub.fake.add_fault(Fault(delay=1.0, when={"action": "callmeback"}))
        rig = make_rig(billing=ub.client, callmeback=ub.backend.callmeback)
        rig.service.lookup_timeout = 0.3
        result = await rig.service.request("0501110002", source="web")
        assert result.accepted
        assert result.ubilling == "failed"
        assert says in result.ubilling_error
        assert result.describe().startswith(
            "Callback #1 to +380501110002 (testuser2, Debtor Dmytro) queued. Not sent to Ubilling: "
        )
        await rig.tick()
        assert len(rig.outgoing()) == 1  # dialled all the same
        async with db.sessions() as session:
            row = await session.get(CallbackRequest, 1)
            assert row is not None
            assert (row.status, row.ubilling) == ("queued", "failed")
            assert says in row.ubilling_error


async def test_refused_requests_are_not_sent_to_ubilling(
    make_rig: MakeRig, db: Database, clock: FixedClock
) -> None:
    async with ubilling_rig(db, clock) as ub:
        rig = make_rig(billing=ub.client, callmeback=ub.backend.callmeback)
        await rig.spooler.campaigns.dnc_add("0501110001")
        result = await rig.service.request("0501110001", source="web")
        assert (result.accepted, result.ubilling) == (False, None)
        assert ub.fake.state.callmeback == []


async def test_callmeback_against_the_fake_ubilling(db: Database, clock: FixedClock) -> None:
    async with ubilling_rig(db, clock) as ub:
        await ub.backend.callmeback("+38 (050) 111-00-09")
        assert [(r.id, r.number) for r in ub.fake.state.callmeback] == [(1, "380501110009")]
        with pytest.raises(BillingError, match="has no digits"):
            await ub.backend.callmeback("ivan")
        ub.fake.config.callmeback_enabled = False
        with pytest.raises(UbillingRefused, match="CALLMEBACK_ENABLED=1"):
            await ub.backend.callmeback("0501110009")
        ub.fake.config.callmeback_enabled = True
        ub.fake.config.disabled_calls = frozenset({"callmeback"})
        with pytest.raises(UbillingRefused, match="HTML login page"):
            await ub.backend.callmeback("0501110009")
    # What a real Ubilling answers to what this backend never sends:
    async with ubilling_rig(db, clock) as ub:
        assert ub.fake.respond(_query(ub.fake.serial, "0")).body == "ERROR:EMPTY_PARAM"
        assert ub.fake.respond(_query(ub.fake.serial, "")).body == "ERROR:EMPTY_PARAM"
        assert ub.fake.respond(_query(ub.fake.serial, "abc")).body == "OK:CALLMEBACK"
        assert ub.fake.state.callmeback == []  # no digits: no row, but OK all the same


def _query(serial: str | None, param: str) -> dict[str, str]:
    return {"module": "remoteapi", "key": serial or "", "action": "callmeback", "param": param}


# ------------------------------------------------------------------ CLI


def test_cli_callback_request_and_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FixedClock
) -> None:
    from pbxbridge.cli.callback import callback
    from pbxbridge.cli.common import CliState
    from storage import DatabaseSettings, create_engine, migrate
    from tests.callfile_spooler.conftest import VERSION_LOCATIONS

    for name in ("PBXBRIDGE_CONFIG", "PBXBRIDGE_BILLING__BACKEND"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "pbxbridge.toml"
    config.write_text(
        '[database]\nurl = "sqlite+aiosqlite:///pbx.db"\n\n[callback]\nmax_per_hour = 1\n'
        '[spool]\ndir = "spool"\nsounds_dir = "sounds"\n',
        encoding="utf-8",
    )

    async def upgrade() -> None:
        engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/pbx.db"))
        try:
            await migrate.upgrade(engine, VERSION_LOCATIONS)
        finally:
            await engine.dispose()

    asyncio.run(upgrade())

    def pbx(*args: str) -> Any:
        return CliRunner().invoke(callback, list(args), obj=CliState(config=config, clock=clock))

    done = pbx("request", "0501234567", "--name", "Іван", "--comment", "router")
    assert (done.exit_code, done.stdout) == (
        0,
        "Callback #1 to +380501234567 (not a subscriber) queued.\n",
    )
    refused = pbx("request", "0501234567")
    assert refused.exit_code == 1
    assert "not queued: callback #1 to this number is still under way" in refused.stdout
    bad = pbx("request", "12")
    assert (bad.exit_code, bad.stderr) == (1, "Error: '12' is not a valid phone number\n")
    listed = pbx("list")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["id", "requested", "number", "who", "from", "call", "ubilling"]
    assert "refused: callback #1 to this number is still under way" in lines[2]
    assert "Іван" in lines[3]
    assert "pending (0 call(s))" in lines[3]

    from pbxbridge.cli.campaign import campaign

    def campaigns(*args: str) -> Any:
        return CliRunner().invoke(campaign, list(args), obj=CliState(config=config, clock=clock))

    assert campaigns("list").stdout.splitlines()[2:] == []
    with_callbacks = campaigns("list", "--callbacks").stdout.splitlines()
    assert [line.split()[:2] for line in with_callbacks[2:]] == [["callback-1", "running"]]
    for args in (("pause",), ("start",), ("delete", "--yes"), ("edit", "--cps", "5")):
        refused = campaigns(args[0], "callback-1", *args[1:])
        assert (refused.exit_code, refused.stderr) == (
            1,
            "Error: 'callback-1' is a callback request, not a campaign: "
            "see `pbxbridge callback list`\n",
        ), args
    assert "state     running" in campaigns("status", "callback-1").stdout

    cancelled = pbx("cancel", "1")
    assert cancelled.exit_code == 0, cancelled.output
    assert cancelled.stdout.startswith("Callback #1 to +380501234567: cancelled by cli:")
    assert "state     done" in campaigns("status", "callback-1").stdout
    again = pbx("cancel", "1")
    assert (again.exit_code, again.stderr) == (1, "Error: callback #1 is cancelled already\n")
    assert pbx("cancel", "2").stderr == "Error: callback #2 was refused: it has no call\n"
    assert pbx("cancel", "9").stderr == "Error: no callback #9\n"
    # A cancelled request still counts for the hourly limit (its call may have been made).
    limited = pbx("request", "0501234567")
    assert limited.exit_code == 1
    assert "within the hour already (callback.max_per_hour = 1)" in limited.stdout


def test_archived_callfile_of_a_callback_parses(tmp_path: Path) -> None:
    """What Asterisk archives is read back with the callback's variables."""
    from callfile_spooler.callfile import parse

    archived: ArchivedCallFile = parse(
        (OPERATOR_FIRST + "\nStartRetry: 4242 1 (1795311466)\nStatus: Completed\n").encode()
    )
    assert archived.status == "Completed"
    assert archived.variables["CALLBACK_CHANNEL"] == "Local/0501234567@pbxbridge-dial"
    assert archived.variables["CALLBACK_NAME"] == "Іван Петренко"


async def test_the_migration_matches_the_models(db: Database) -> None:
    from callfile_spooler.audio import CampaignAudioRow
    from callfile_spooler.models import Campaign as CampaignTable

    assert await schema_drift(db, CampaignTable, CallbackRequest, CampaignAudioRow) == []
