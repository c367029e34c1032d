"""The `sms_in` FastAGI route: chan_dongle's sms context and PJSIP MESSAGE, through a real
FastAGI server and the fake Asterisk, into the inbox."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, text

from agi import AgiSettings, FastAgiServer
from sms.models import InboxRow
from sms.sms_in import PJSIP_BODY, PJSIP_FROM, build_handlers, sip_user
from sms.types import InboundHandler, InboundSms, StoredSms
from tests.fakes.agi_asterisk import FakeAsterisk, FakeCall
from tests.sms.conftest import MakeRig, Rig

TEXT = "Добрий день!\n\nБаланс?"


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class MessageChannel(FakeAsterisk):
    """The fake Asterisk, also evaluating the nested MESSAGE() expressions `sms_in` reads
    the way Asterisk does (the fake's own substitution handles one level only)."""

    def __init__(self, port: int, *, expressions: Mapping[str, str], **kwargs: object) -> None:
        super().__init__(port, **kwargs)  # type: ignore[arg-type]
        self.expressions = dict(expressions)

    def _dynamic(self, name: str, argv: list[str]) -> bytes | None:
        if name == "get full variable" and len(argv) == 4 and argv[3] in self.expressions:
            return f"200 result=1 ({self.expressions[argv[3]]})\n".encode()
        return super()._dynamic(name, argv)


Call = Callable[..., Awaitable[FakeCall]]


@dataclass
class Storage:
    """What the route stores through, swappable by a test, and the alerts it raised."""

    receive: InboundHandler
    alerts: list[str] = field(default_factory=list)


@pytest.fixture
async def route(make_sqlite_rig: MakeRig) -> AsyncIterator[tuple[Rig, Storage, Call]]:
    rig = make_sqlite_rig()
    settings = AgiSettings(port=0, command_timeout=5, session_timeout=10, drain_timeout=1)
    storage = Storage(rig.inbox.receive)

    async def receive(sms: InboundSms) -> StoredSms | None:
        return await storage.receive(sms)

    async def alert(message: str) -> None:
        storage.alerts.append(message)

    server = FastAgiServer(settings, build_handlers(receive, alert))  # as the root does
    await server.start()

    async def call(
        script: str = "sms_in",
        *,
        callerid: str = "+380501110001",
        calleridname: str = "dongle0",
        variables: Mapping[str, str] | None = None,
        expressions: Mapping[str, str] | None = None,
    ) -> FakeCall:
        env = {
            "agi_network_script": script,
            "agi_request": f"agi://127.0.0.1:{server.port}/{script}",
            "agi_callerid": callerid,
            "agi_calleridname": calleridname,
            "agi_channel": "Local/sms@dongle-incoming-00000001;2",
        }
        fake = MessageChannel(
            server.port, env=env, variables=variables or {}, expressions=expressions or {}
        )
        return await fake.call()

    yield rig, storage, call
    await server.stop()
    await rig.inbox.stop()


async def rows(rig: Rig) -> list[InboxRow]:
    async with rig.db.sessions() as session:
        return list(await session.scalars(select(InboxRow).order_by(InboxRow.id)))


async def test_dongle_sms_context(route: tuple[Rig, Storage, Call]) -> None:
    rig, _, call = route
    result = await call(variables={"SMS_BASE64": b64(TEXT), "DONGLENAME": "dongle3"})
    (row,) = await rows(rig)
    assert (row.device, row.sender, row.text, row.source, row.driver) == (
        "dongle3",
        "+380501110001",
        TEXT,
        "agi",
        None,  # chan_dongle or chan_quectel: the reply goes by [sms] transport
    )
    assert result.set_variables == {"SMS_RESULT": "OK", "SMS_ID": str(row.id)}


async def test_device_from_callerid_name_or_query(route: tuple[Rig, Storage, Call]) -> None:
    rig, _, call = route
    await call(variables={"SMS_BASE64": b64("one")}, calleridname="dongle5")
    await call("sms_in?device=quectel2", variables={"SMS_BASE64": b64("two")})
    assert [(r.device, r.text) for r in await rows(rig)] == [
        ("dongle5", "one"),
        ("quectel2", "two"),
    ]


async def test_same_sms_from_ami_and_dialplan_is_stored_once(
    route: tuple[Rig, Storage, Call],
) -> None:
    rig, _, call = route
    await rig.inbox.receive(InboundSms("dongle0", "+380501110001", TEXT, "base64"))
    result = await call(variables={"SMS_BASE64": b64(TEXT)})
    (row,) = await rows(rig)
    assert row.duplicates == 1
    assert result.set_variables["SMS_ID"] == str(row.id)
    copy = InboundSms("dongle0", "+380501110001", TEXT, "base64", driver="quectel")
    await rig.inbox.receive(copy)
    (row,) = await rows(rig)
    assert row.driver == "quectel"  # an AMI copy tells what the dialplan could not


async def test_pjsip_message(route: tuple[Rig, Storage, Call]) -> None:
    rig, _, call = route
    result = await call(
        "sms_in?device=pjsip:trunk1",
        callerid="",
        calleridname="",
        expressions={PJSIP_BODY: b64(TEXT), PJSIP_FROM: '"Оля" <sip:0501110007@10.0.0.5:5060>'},
    )
    (row,) = await rows(rig)
    assert (row.device, row.sender, row.sender_raw, row.text, row.source, row.driver) == (
        "pjsip:trunk1",
        "+380501110007",
        "0501110007",
        TEXT,
        "pjsip",
        "pjsip",
    )
    assert result.set_variables["SMS_RESULT"] == "OK"


async def test_errors_set_sms_result_error(route: tuple[Rig, Storage, Call]) -> None:
    rig, storage, call = route
    nothing = await call(expressions={PJSIP_BODY: "", PJSIP_FROM: ""})
    assert nothing.set_variables == {"SMS_RESULT": "ERROR", "SMS_ID": ""}
    garbled = await call(variables={"SMS_BASE64": "%%%not base64"})
    assert garbled.set_variables["SMS_RESULT"] == "ERROR"

    async def broken(sms: InboundSms) -> StoredSms | None:
        raise RuntimeError("database is gone")

    storage.receive = broken
    failed = await call(variables={"SMS_BASE64": b64("x")})
    assert failed.set_variables["SMS_RESULT"] == "ERROR"
    assert await rows(rig) == []


async def test_an_sms_the_database_refuses_is_told_to_staff(
    route: tuple[Rig, Storage, Call],
) -> None:
    """A SIP MESSAGE has no other way in: when the inbox cannot store it, staff hear of it
    (once), besides Asterisk getting SMS_RESULT=ERROR."""
    rig, storage, call = route
    alerts = storage.alerts
    garbled = await call(variables={"SMS_BASE64": "%%%not base64"})
    assert garbled.set_variables["SMS_RESULT"] == "ERROR"
    assert alerts == []  # nothing was read: nothing to lose
    async with rig.db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE sms_inbox RENAME TO sms_inbox_away"))
    failed = await call(
        "sms_in?device=pjsip:trunk1",
        expressions={PJSIP_BODY: b64(TEXT), PJSIP_FROM: "<sip:0501110007@10.0.0.5>"},
    )
    assert failed.set_variables == {"SMS_RESULT": "ERROR", "SMS_ID": ""}
    assert len(alerts) == 1, alerts
    assert alerts[0].startswith(
        "an SMS from 0501110007 on pjsip:trunk1 could not be stored "
        "(Asterisk told SMS_RESULT=ERROR): OperationalError: "
    )
    assert "[SQL" not in alerts[0]
    assert TEXT not in alerts[0]  # the text stays out of chats and logs


def test_sip_user() -> None:
    assert sip_user('"Name" <sip:100@host>') == "100"
    assert sip_user("sip:+380501110001@10.0.0.1;transport=udp") == "+380501110001"
    assert sip_user("<sips:alice@example.net>") == "alice"
    assert sip_user("0501110001") == "0501110001"
