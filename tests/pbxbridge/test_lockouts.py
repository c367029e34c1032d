"""Lockouts as staff meet them: the IVR locks a guesser, staff hear of it, list and lift it
from the CLI or the bot, and the journal records who did."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pydantic import SecretStr

from pbxbridge.app import Service, open_core
from pbxbridge.cli.common import CliState
from pbxbridge.cli.main import cli
from pbxbridge.settings import Settings
from primitives.clock import FixedClock
from tests.agi.routes_rig import RouteRig
from tests.conftest import Database
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
"""12:00 in Kyiv (EET, UTC+2)."""
STAFF = 111
BAD_CARDS = ["1234567812345678", "9999", "0000111122223333", "1111222233334444", "42"]


@asynccontextmanager
async def running(url: str, clock: FixedClock, **extra: Any) -> AsyncIterator[RouteRig]:
    """The service as `pbxbridge run` wires it (FastAGI on a free port)."""
    settings = Settings(database={"url": url}, agi={"port": 0}, ami={"enabled": False}, **extra)
    async with open_core(settings, clock=clock) as core:
        service = Service(core)
        await service.start()
        try:
            yield RouteRig(core, service)
        finally:
            await service.stop()


async def guess_cards(rig: RouteRig) -> list[str]:
    await rig.add("debtor", "0501110002", balance=Decimal("-50"))
    await rig.add("other", "0671110009")
    results = [
        (await rig.call(f"paycardpay?card={card}", callerid="0501110002")).set_variables[
            "PAYCARD_RESULT"
        ]
        for card in BAD_CARDS
    ]
    await rig.call("paycardpay?card=77", callerid="0671110009")
    return results


# The CLI


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PBXBRIDGE_CONFIG", "PBXBRIDGE_DATABASE__URL", "PBXBRIDGE_BILLING__BACKEND"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "pbxbridge.toml"
    path.write_text(f'[database]\nurl = "{sqlite_url(tmp_path)}"\n', encoding="utf-8")
    return path


def sqlite_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'pbx.db'}"


def pbx(config: Path, *args: str) -> Result:
    obj = CliState(config=None, clock=FixedClock(NOW))
    return CliRunner().invoke(cli, ["--config", str(config), *args], obj=obj)


def ok(result: Result) -> str:
    """What the command printed on stdout (the log goes to stderr)."""
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.stdout


def rows(output: str) -> list[list[str]]:
    """The table's rows, cells split on the two-space gaps `table()` puts between them."""
    lines = output.splitlines()
    return [re.split(r"\s{2,}", line.strip()) for line in lines[2:] if "  " in line]


def test_list_and_clear_from_the_command_line(config: Path, tmp_path: Path) -> None:
    ok(pbx(config, "db", "upgrade"))
    assert ok(pbx(config, "lockouts", "list")).startswith("Nothing is locked")

    async def guess() -> list[str]:
        async with running(sqlite_url(tmp_path), FixedClock(NOW)) as rig:
            return await guess_cards(rig)

    assert asyncio.run(guess()) == ["INVALID"] * 5

    listed = ok(pbx(config, "lockouts", "list"))
    assert rows(listed) == [
        ["number +380501110002", "5", "2026-11-22 13:00:00 EET", "2026-11-22 12:00:00 EET"],
        ["login debtor", "5", "2026-11-22 13:00:00 EET", "2026-11-22 12:00:00 EET"],
        ["number +380671110009", "1", "not locked", "2026-11-22 12:00:00 EET"],
        ["login other", "1", "not locked", "2026-11-22 12:00:00 EET"],
    ]
    assert listed.splitlines()[-1] == (
        "2 locked; 5 failures within 3600 s lock a number and its login for 3600 s."
    )

    # The number in any spelling staff have in front of them; its login goes with it.
    cleared = ok(pbx(config, "lockouts", "clear", "+38 (050) 111-00-02".replace(" ", "")))
    assert cleared == (
        "Unlocked number +380501110002 and login debtor: "
        "2 lock(s) lifted, 5 failure(s) forgotten.\n"
    )
    assert [row[0] for row in rows(ok(pbx(config, "lockouts", "list")))] == [
        "number +380671110009",
        "login other",
    ]
    again = pbx(config, "lockouts", "clear", "debtor")
    assert again.exit_code == 1
    assert "debtor: not locked and no failures counted" in again.stderr
    bad = pbx(config, "lockouts", "clear", "two words")
    assert bad.exit_code == 2
    assert "not a number or a login" in bad.stderr

    audit = ok(pbx(config, "audit", "--login", "debtor"))
    (entry,) = [line for line in audit.splitlines() if " unlock " in line]
    assert "lockout lifted: number +380501110002 and login debtor" in entry
    assert "cli user cli:" in entry


# Staff on Telegram


async def test_staff_hear_of_the_lock_once_and_lift_it_with_the_bot(
    database: Database, clock: FixedClock
) -> None:
    async with FakeTelegram() as telegram:
        telegram_settings = {
            "enabled": True,
            "token": SecretStr(telegram.token),
            "api_server": telegram.url,
            "staff_chats": [STAFF],
            "poll_timeout": 1,
        }
        async with running(database.url, clock, telegram=telegram_settings) as rig:
            good = await rig.card("50")
            assert await guess_cards(rig) == ["INVALID"] * 5
            # racing calls after the lock: refused, no second notice
            late = await asyncio.gather(
                *(rig.call(f"paycardpay?card={good}", callerid="0501110002") for _ in range(5))
            )
            assert {c.set_variables["PAYCARD_RESULT"] for c in late} == {"LOCKED"}
            (notice,) = await telegram.wait_sent(1)
            assert notice["text"] == (
                "Locked out of self-service: number +380501110002 and login debtor\n"
                "After 5 failures, the last a invalid pay card\n"
                "Until 2026-11-22 13:00:00 EET\n"
                "To lift it: /unlock debtor"
            )

            telegram.add_message(STAFF, "/unlock debtor")
            sent = await telegram.wait_sent(2)
            assert sent[1]["text"] == (
                "Unlocked number +380501110002 and login debtor: "
                "2 lock(s) lifted, 5 failure(s) forgotten."
            )
            paid = await rig.call(f"paycardpay?card={good}", callerid="0501110002")
            assert paid.set_variables["PAYCARD_RESULT"] == "OK"
            records = await rig.core.audit.records(login="debtor")
    # newest first: the card paid after the unlock, which staff did from the bot
    assert [(r.kind, r.source) for r in records if r.kind != "payment"] == [
        ("paycard", "call from +380501110002 uniqueid 1795311406.5"),
        ("unlock", "telegram user telegram:111"),
    ]
    assert len(telegram.sent) == 2
