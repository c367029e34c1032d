"""What the CLI prints for a person: times with their zone (as the logs show them), numbers
instead of setting names, reasons in words, the real status word, import progress, what
`db upgrade` applied, `--version`, and a clear refusal of an unknown AGI route.

Every command runs in-process through click on a real SQLite file, with the clock injected
(`CliState(clock=…)`): nothing here reads today's date.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from billing_client.outcomes import MoneySource
from callfile_spooler.spooler import Spooler
from missed_calls.calls import Missed
from missed_calls.store import MissedCallStore
from pbxbridge.app import open_core
from pbxbridge.cli.common import CliState
from pbxbridge.cli.main import cli
from pbxbridge.cli.progress import Progress
from pbxbridge.logs import configure_logging
from pbxbridge.settings import LoggingSettings, load_settings
from primitives.clock import FixedClock
from primitives.phones import PhoneNormaliser
from storage import DatabaseSettings, create_engine, migrate
from tests.callfile_spooler.fake_asterisk import FakeAsterisk, Fate

WINTER = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # 12:00 in Kyiv, EET (+02:00)
SUMMER = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)  # 12:00 in Kyiv, EEST (+03:00)
HEADER = "login,name,phones,balance,credit,credit_expire,tariff,fee,frozen,disabled\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "pbxbridge.toml"
    path.write_text(
        '[database]\nurl = "sqlite+aiosqlite:///pbx.db"\n[spool]\ndir = "spool"\nfsync = false\n',
        encoding="utf-8",
    )
    for sub in ("outgoing", "outgoing_done", "tmp"):
        (tmp_path / "spool" / sub).mkdir(parents=True)
    return path


def pbx(config: Path, clock: FixedClock, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--config", str(config), *args], obj=CliState(None, clock=clock)
    )


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.stdout


def row_of(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


async def pay_card(config: Path, clock: FixedClock, card: str, login: str) -> None:
    settings, _ = load_settings(config)
    async with open_core(settings, clock=clock) as core:
        await core.billing.pay_card(card, login=login, source=MoneySource(kind="cli", user="t"))


async def miss_a_call(config: Path, clock: FixedClock) -> None:
    settings, _ = load_settings(config)
    async with open_core(settings, clock=clock) as core:
        missed = Missed("+380501110009", "0501110009", True, "support", 1, 30)
        now = clock.now()
        await MissedCallStore(core.sessions, clock).insert("1.1", missed, at=now, ended_at=now)


def log_time(clock: FixedClock, stream: io.StringIO, fmt: str = "text") -> str:
    """The time a log line written at `clock`'s instant shows."""
    configure_logging(LoggingSettings(format=fmt), timezone="Europe/Kyiv")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    record = logging.LogRecord("pbxbridge.t", logging.INFO, __file__, 1, "x", None, None)
    record.created, record.msecs = clock.now().timestamp(), 0.0
    handler.handle(record)
    return stream.getvalue()


def test_every_time_the_cli_prints_carries_its_zone_as_the_logs_do(config: Path) -> None:
    clock = FixedClock(WINTER)
    shown = "2026-11-22 12:00:00 EET"
    assert log_time(clock, io.StringIO()).startswith("2026-11-22 12:00:00,000 EET INFO")
    assert '"ts": "2026-11-22T12:00:00.000+02:00"' in log_time(clock, io.StringIO(), "json")

    ok(pbx(config, clock, "db", "upgrade"))
    ok(pbx(config, clock, "subscribers", "add", "ivan", "--phone", "0501110001"))
    ok(pbx(config, clock, "payments", "add", "ivan", "5", "--note", "cash"))
    assert row_of(ok(pbx(config, clock, "audit")), "cash").startswith(shown)

    card = ok(pbx(config, clock, "paycards", "generate", "--count", "1", "--amount", "50")).strip()
    asyncio.run(pay_card(config, clock, card, "ivan"))
    assert "2026-11-22 12:00 EET" in row_of(ok(pbx(config, clock, "paycards", "list")), card)

    ok(pbx(config, clock, "sms", "send", "0501110001", "hello"))
    assert f"#1  {shown}  to +380501110001" in ok(pbx(config, clock, "sms", "list"))

    ok(pbx(config, clock, "callback", "request", "0501110002"))
    assert "2026-11-22 12:00 EET" in row_of(ok(pbx(config, clock, "callback", "list")), "050")

    ok(pbx(config, clock, "campaign", "create", "promo"))
    numbers = config.parent / "numbers.csv"
    numbers.write_text("number\n0501110003\n", encoding="utf-8")
    ok(pbx(config, clock, "campaign", "import", "promo", str(numbers)))
    ok(pbx(config, clock, "campaign", "start", "promo"))
    assert row_of(ok(pbx(config, clock, "campaign", "status", "promo")), "started").endswith(shown)
    ok(pbx(config, clock, "campaign", "dnc", "add", "0501110004"))
    assert shown in ok(pbx(config, clock, "campaign", "dnc", "list"))

    asyncio.run(miss_a_call(config, clock))
    day = ok(pbx(config, clock, "missed", "list", "--day", "2026-11-22"))
    assert row_of(day, "+380501110009").startswith("12:00:00 EET")
    week = ok(pbx(config, clock, "missed", "list"))
    assert row_of(week, "+380501110009").startswith(shown)

    summer = FixedClock(SUMMER)
    assert log_time(summer, io.StringIO()).startswith("2026-07-01 12:00:00,000 EEST")
    ok(pbx(config, summer, "payments", "add", "ivan", "1", "--note", "summer"))
    assert row_of(ok(pbx(config, summer, "audit")), "summer").startswith("2026-07-01 12:00:00 EEST")


def test_campaign_status_shows_the_values_in_force(config: Path) -> None:
    clock = FixedClock(WINTER)
    ok(pbx(config, clock, "db", "upgrade"))
    status = ok(pbx(config, clock, "campaign", "create", "promo"))
    assert row_of(status, "attempts").split() == ["attempts", "3", "(spool.max_attempts)"]
    assert row_of(status, "callerid").endswith("the trunk's (spool.callerid unset)")
    config.write_text(
        config.read_text(encoding="utf-8") + 'max_attempts = 5\ncallerid = "0441234567"\n',
        encoding="utf-8",
    )
    status = ok(pbx(config, clock, "campaign", "status", "promo"))
    assert row_of(status, "attempts").split() == ["attempts", "5", "(spool.max_attempts)"]
    assert row_of(status, "callerid").endswith("0441234567 (spool.callerid)")
    edited = ok(pbx(config, clock, "campaign", "edit", "promo", "--max-attempts", "2"))
    assert row_of(edited, "attempts").split() == ["attempts", "2"]


async def run_calls(config: Path, clock: FixedClock, reasons: dict[str, int]) -> None:
    """The service's spooler places the calls; Asterisk fails each with its REASON."""
    settings, _ = load_settings(config)
    async with open_core(settings, clock=clock) as core:
        spooler = Spooler(core.sessions, clock, PhoneNormaliser("UA"), settings.spool)
        await spooler.tick()
        asterisk = FakeAsterisk(
            settings.spool.dir,
            decide=lambda call: Fate(reason=reasons[call.variables["CAMPAIGN_NUMBER"]]),
        )
        asterisk.step(clock.now())
        clock.instant += timedelta(seconds=5)
        asterisk.finish(clock.now())
        for event in asterisk.take_events():
            await spooler.on_ami_event(event)
        clock.instant += timedelta(seconds=5)
        await spooler.tick()


def test_campaign_report_says_asterisk_s_reasons_in_words(config: Path) -> None:
    clock = FixedClock(WINTER)
    config.write_text(config.read_text(encoding="utf-8") + "max_attempts = 1\n", "utf-8")
    ok(pbx(config, clock, "db", "upgrade"))
    ok(pbx(config, clock, "campaign", "create", "promo", "--max-concurrent", "3", "--cps", "10"))
    numbers = config.parent / "numbers.csv"
    numbers.write_text("number\n0501110001\n0501110002\n0501110003\n", encoding="utf-8")
    ok(pbx(config, clock, "campaign", "import", "promo", str(numbers)))
    ok(pbx(config, clock, "campaign", "start", "promo"))
    reasons = {"+380501110001": 5, "+380501110002": 3, "+380501110003": 8}
    asyncio.run(run_calls(config, clock, reasons))

    table = ok(pbx(config, clock, "campaign", "report", "promo"))
    assert "  5       busy  " in row_of(table, "+380501110001")
    assert "  3       no answer  " in row_of(table, "+380501110002")
    assert "  8       congestion (rejected" in row_of(table, "+380501110003")

    out = config.parent / "report.csv"
    ok(pbx(config, clock, "campaign", "report", "promo", "--output", str(out)))
    assert out.stat().st_mode & 0o777 == 0o600
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["last_outcome"], r["reason"], r["reason_text"]) for r in rows] == [
        ("busy", "5", "busy"),
        ("noanswer", "3", "no answer"),
        ("congestion", "8", "congestion (rejected, out of order or no free line)"),
    ]
    assert {r["last_attempt"] for r in rows} == {"2026-11-22 12:00:00 EET"}


def test_subscribers_list_says_disabled_for_a_disabled_subscriber(config: Path) -> None:
    clock = FixedClock(WINTER)
    ok(pbx(config, clock, "db", "upgrade"))
    ok(pbx(config, clock, "subscribers", "add", "dis", "--disabled"))
    ok(pbx(config, clock, "subscribers", "add", "fro", "--frozen"))
    ok(pbx(config, clock, "subscribers", "add", "both", "--frozen", "--disabled"))
    ok(pbx(config, clock, "subscribers", "add", "act", "--balance", "1"))
    listed = ok(pbx(config, clock, "subscribers", "list"))
    assert row_of(listed, "dis ").split()[1] == "disabled"
    assert row_of(listed, "fro ").split()[1] == "frozen"
    assert row_of(listed, "both").split()[1:3] == ["disabled,", "frozen"]
    assert row_of(listed, "act ").split()[1] == "active"
    only = ok(pbx(config, clock, "subscribers", "list", "--status", "disabled"))
    assert [line.split()[0] for line in only.splitlines()[2:]] == ["both", "dis"]
    only = ok(pbx(config, clock, "subscribers", "list", "--status", "frozen"))
    assert [line.split()[0] for line in only.splitlines()[2:]] == ["both", "fro"]
    assert "3 (disabled)" in ok(pbx(config, clock, "subscribers", "show", "dis"))


def progress_lines(result: Result, label: str) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith(f"{label}: ")]


def test_a_long_import_shows_progress_without_flooding_a_log(config: Path) -> None:
    clock = FixedClock(WINTER)
    ok(pbx(config, clock, "db", "upgrade"))
    big = config.parent / "subs.csv"
    big.write_text(
        HEADER + "".join(f"u{i},U {i},067{i:07d},0,0,,T,100,0,0\n" for i in range(2_400)),
        encoding="utf-8",
    )
    result = pbx(config, clock, "subscribers", "import", str(big))
    assert "created 2400" in ok(result)
    shown = progress_lines(result, "importing")
    assert 2 <= len(shown) <= 10
    assert shown[-1] == "importing: 2,400 of 2,400 rows (100%)"
    assert "\r" not in result.stderr  # no bar drawn into a file

    small = config.parent / "small.csv"
    small.write_text(HEADER + "s1,S,0671110001,0,0,,T,100,0,0\n", encoding="utf-8")
    result = pbx(config, clock, "subscribers", "import", str(small))
    assert "created 1" in ok(result)
    assert progress_lines(result, "importing") == []

    ok(pbx(config, clock, "campaign", "create", "promo"))
    numbers = config.parent / "numbers.csv"
    numbers.write_text("number\n" + "".join(f"050{i:07d}\n" for i in range(3_500)), "utf-8")
    result = pbx(config, clock, "campaign", "import", "promo", str(numbers))
    assert "added 3500" in ok(result)
    shown = progress_lines(result, "reading")
    assert 2 <= len(shown) <= 10
    assert shown[-1] == "reading: 3,500 of 3,500 rows (100%)"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_progress_is_a_bar() -> None:
    screen = Terminal()
    with Progress("importing", stream=screen) as progress:
        for done in range(500, 2_001, 500):
            progress.update(done, 2_000)
    drawn = screen.getvalue()
    assert "importing" in drawn
    assert "100%" in drawn
    assert "rows (" not in drawn  # the bar, not the lines meant for a log


def test_db_upgrade_says_what_it_applied(config: Path, tmp_path: Path) -> None:
    clock = FixedClock(WINTER)
    first = ok(pbx(config, clock, "db", "upgrade"))
    head, *applied = first.splitlines()
    assert head.endswith(f": applied {len(applied)} migration(s)")
    ids = [line.split()[0] for line in applied]
    assert {"b1_0001", "a1_0001", "s1_0001", "cs1_0001", "m1_0001"} <= set(ids)
    assert ids.index("s1_0001") < ids.index("s1_0002")  # oldest first
    assert ok(pbx(config, clock, "db", "upgrade")).endswith("is already up to date\n")

    # A database that has some of the history gets only the rest.
    import billing_client.migrations

    async def only_billing() -> None:
        engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/old.db"))
        try:
            await migrate.upgrade(engine, [billing_client.migrations.VERSIONS])
        finally:
            await engine.dispose()

    asyncio.run(only_billing())
    old = tmp_path / "old.toml"
    old.write_text('[database]\nurl = "sqlite+aiosqlite:///old.db"\n', encoding="utf-8")
    rest = [line.split()[0] for line in ok(pbx(old, clock, "db", "upgrade")).splitlines()[1:]]
    assert "b1_0001" not in rest
    assert sorted(rest) == sorted(i for i in ids if not i.startswith("b1_"))


def test_agi_probe_of_an_unknown_route_fails_clearly(config: Path) -> None:
    result = pbx(config, FixedClock(WINTER), "agi-probe", "userstatuss", "--callerid", "1")
    assert result.exit_code == 2
    assert "unknown route 'userstatuss'" in result.output
    assert "userstatus, setcredit" in result.output
    assert "no FastAGI answer" not in result.output  # refused before connecting


def test_version_comes_from_the_package() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"pbxbridge {version('pbxbridge')}\n"


def test_the_readme_s_week_json_is_a_schedule_campaigns_take(config: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    after = readme.split("A `week.json`", 1)[1]
    example = after.split("```json\n", 1)[1].split("```", 1)[0]
    week = config.parent / "week.json"
    week.write_text(example, encoding="utf-8")
    clock = FixedClock(WINTER)
    ok(pbx(config, clock, "db", "upgrade"))
    created = ok(pbx(config, clock, "campaign", "create", "promo", "--schedule", str(week)))
    assert row_of(created, "schedule").split(None, 1)[1] == (
        "mon 09:00 tue 09:00 wed 09:00 thu 09:00 fri 09:00 sat 11:00"
    )
