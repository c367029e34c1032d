"""The faces on the service's own application, with the reference's subscribers.

`reference_billing(core)` fills pbxbridge's embedded billing with the users, tariffs,
phones and pay cards of the live Ubilling recording (tests/fakes/ubilling.py
`UbillingState.default()`, the reference's §4), read from that state rather than typed
again, so the faces can be compared with what the real Ubilling answered for them.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

from pbxbridge.app import Core
from pbxbridge.settings import Settings
from tests.conftest import Database
from tests.fakes.ubilling import SERIAL, UbillingState

KEY = SERIAL
"""The remoteapi key of the rigs: the recorded install's serial."""
REFERENCE_CREDIT_EXPIRE = date(2026, 12, 31)
"""Stargazer's CreditExpire 0 is "never"; pbxbridge's credit always has a last day."""


async def reference_billing(core: Core) -> UbillingState:
    """The reference's subscribers and cards, in pbxbridge's embedded billing."""
    assert core.local is not None
    assert core.paycards is not None
    for rig_subscriber in await core.local.list():  # the web rig's own (ivan) goes
        await core.local.delete(rig_subscriber.login, actor="test")
    state = UbillingState.default()
    for user in state.users.values():
        tariff = state.tariffs[user.tariff]
        mobiles = [row.mobile for row in state.phones if row.login == user.login]
        await core.local.add(
            user.login,
            name=user.realname,
            phones=mobiles,
            balance=user.cash,
            credit=user.credit,
            credit_expire=REFERENCE_CREDIT_EXPIRE if user.credit > 0 else None,
            tariff=tariff.name,
            fee=tariff.fee,
            frozen=bool(user.passive),
            disabled=bool(user.down) or not user.always_online,
            actor="test",
        )
    lines = ["number,amount", *(f"{c.serial},{c.cash}" for c in state.cards.values())]
    report = await core.paycards.import_csv(io.StringIO("\n".join(lines) + "\n"))
    assert report.created == len(state.cards), report.skipped
    for card in state.cards.values():
        if not card.active:
            assert await core.paycards.deactivate(card.serial)
    return state


def settings_with(
    database: Database, folder: Path, *, askozia: dict[str, Any], **http: Any
) -> Settings:
    """The web rig's settings (tests/web/conftest.py `settings_for`) with an [askozia]."""
    return Settings(
        database={"url": database.url},
        agi={"port": 0},
        ami={"enabled": False},
        http={"port": 0, **http},
        askozia=askozia,
        spool={"dir": folder / "spool", "sounds_dir": folder / "sounds"},
    )
