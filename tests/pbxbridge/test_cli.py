"""The `pbxbridge` command as an operator uses it (in-process through click, real database)."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pbxbridge.cli.common import CliState
from pbxbridge.cli.main import cli
from primitives.clock import FixedClock

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
"""12:00 in Kyiv on a 30-day month: the clock every command reads unless a test says."""

HEADER = "login,name,phones,balance,credit,credit_expire,tariff,fee,frozen,disabled\n"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PBXBRIDGE_CONFIG", "PBXBRIDGE_BILLING__BACKEND"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "pbxbridge.toml"
    path.write_text(
        '[database]\nurl = "sqlite+aiosqlite:///state/pbx.db"\n'
        '[spool]\ndir = "spool"\nsounds_dir = "sounds"\n',
        encoding="utf-8",
    )
    (tmp_path / "spool" / "outgoing").mkdir(parents=True)
    return path


def pbx(config: Path, *args: str, input: str | None = None, at: datetime = NOW) -> Result:
    """The command line as an operator runs it, on a clock standing at `at`."""
    obj = CliState(clock=FixedClock(at))
    return CliRunner().invoke(cli, ["--config", str(config), *args], input=input, obj=obj)


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_import_show_pay_and_audit(config: Path, tmp_path: Path) -> None:
    ok(pbx(config, "db", "upgrade"))
    data = tmp_path / "subs.csv"
    data.write_text(
        HEADER
        + "ivan,Петренко Іван,0501110001;+380671110001,150,0,,Test100,100,0,0\n"
        + "dmytro,Debtor Dmytro,0501110002,-50,0,,Test100,100,0,0\n"
        + "thief,Thief,0501110001,0,0,,Test100,100,0,0\n"
        + "broken,Broken,0501110009,lots,0,,Test100,100,0,0\n",
        encoding="utf-8",
    )
    result = pbx(config, "subscribers", "import", str(data))
    assert result.exit_code == 1
    assert "created 2" in result.output
    assert "line 4:" in result.output
    assert "ivan" in result.output.split("line 4:")[1].splitlines()[0]
    assert "line 5:" in result.output

    shown = ok(pbx(config, "subscribers", "show", "+38 (067) 111-00-01"))
    assert "Петренко Іван" in shown
    assert re.search(r"^days left\s+45$", shown, re.M)  # 150 at 100 for November's 30 days
    ok(pbx(config, "payments", "add", "dmytro", "70.50", "--note", "cash at the office"))
    assert "20.50" in ok(pbx(config, "subscribers", "show", "dmytro"))
    audit = ok(pbx(config, "audit", "--login", "dmytro"))
    assert "cash at the office" in audit
    assert "70.50" in audit
    assert "cli user cli:" in audit

    listed = ok(pbx(config, "subscribers", "list", "--status", "active"))
    assert "ivan" in listed
    assert "dmytro" in listed  # 20.50 now: active


@pytest.mark.parametrize(
    ("at", "days_left"),
    [
        # 150 at 100 a month: 150 × days of the local month ÷ 100, rounded down
        (datetime(2026, 11, 30, 21, 59, tzinfo=UTC), 45),  # 30 Nov 23:59 Kyiv: 30 days
        (datetime(2026, 11, 30, 22, 0, tzinfo=UTC), 46),  # 1 Dec 00:00 Kyiv: 31 days
        (datetime(2027, 2, 28, 21, 59, tzinfo=UTC), 42),  # 28 Feb 2027 23:59: 28 days
        (datetime(2028, 2, 29, 10, 0, tzinfo=UTC), 43),  # 29 Feb 2028: 29 days, 43.5
        (datetime(2027, 12, 31, 21, 59, tzinfo=UTC), 46),  # 31 Dec 23:59 Kyiv: 31 days
    ],
)
def test_subscribers_show_counts_days_on_the_clock_it_is_given(
    config: Path, at: datetime, days_left: int
) -> None:
    ok(pbx(config, "db", "upgrade"))
    ok(
        pbx(
            config,
            "subscribers",
            "add",
            "ivan",
            "--phone",
            "0501110001",
            "--balance",
            "150",
            "--fee",
            "100",
        )
    )
    shown = ok(pbx(config, "subscribers", "show", "ivan", at=at))
    assert re.search(rf"^days left\s+{days_left}$", shown, re.M), shown


def test_subscriber_lifecycle_and_export_round_trip(config: Path, tmp_path: Path) -> None:
    ok(pbx(config, "db", "upgrade"))
    ok(
        pbx(
            config,
            "subscribers",
            "add",
            "olena",
            "--name",
            "Олена",
            "--phone",
            "0931112233",
            "--balance",
            "-10",
            "--fee",
            "120",
            "--tariff",
            "Home",
            "--pin",
            "1234",
        )
    )
    assert re.search(r"^PIN\s+set$", ok(pbx(config, "subscribers", "show", "0931112233")), re.M)
    ok(pbx(config, "subscribers", "freeze", "olena"))
    assert "3 (frozen)" in ok(pbx(config, "subscribers", "show", "olena"))
    ok(pbx(config, "subscribers", "unfreeze", "olena"))
    ok(pbx(config, "subscribers", "edit", "olena", "--phone", "0931112244", "--name", "Olena K"))
    shown = ok(pbx(config, "subscribers", "show", "0931112244"))
    assert "Olena K" in shown
    assert pbx(config, "subscribers", "show", "0931112233").exit_code == 1

    exported = tmp_path / "export.csv"
    ok(pbx(config, "subscribers", "export", str(exported)))
    rows = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8"))))
    assert rows == [
        {
            "login": "olena",
            "name": "Olena K",
            "phones": "+380931112244",
            "balance": "-10.00",
            "credit": "0.00",
            "credit_expire": "",
            "tariff": "Home",
            "fee": "120.00",
            "frozen": "0",
            "disabled": "0",
        }
    ]
    ok(pbx(config, "subscribers", "delete", "olena", "--yes"))
    assert pbx(config, "subscribers", "show", "olena").exit_code == 1
    # importing the export brings it back as it was
    ok(pbx(config, "subscribers", "import", str(exported)))
    assert "Olena K" in ok(pbx(config, "subscribers", "show", "olena"))


def test_paycards_generate_list_deactivate(config: Path, tmp_path: Path) -> None:
    ok(pbx(config, "db", "upgrade"))
    out = tmp_path / "cards.csv"
    ok(pbx(config, "paycards", "generate", "--count", "3", "--amount", "100", "--output", str(out)))
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    numbers = [row["number"] for row in csv.DictReader(out.open(encoding="utf-8"))]
    assert len(set(numbers)) == 3
    assert all(len(n) == 16 and n.isdigit() for n in numbers)
    ok(pbx(config, "paycards", "deactivate", numbers[0]))
    listed = ok(pbx(config, "paycards", "list", "--unused"))
    assert numbers[1] in listed
    assert "no" in listed.split(numbers[0])[1].splitlines()[0]
    assert pbx(config, "paycards", "deactivate", "0000").exit_code == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("number,amount\n5555666677778888,100\n12,abc\n", encoding="utf-8")
    result = pbx(config, "paycards", "import", str(bad))
    assert result.exit_code == 1
    assert "imported 1" in result.output
    assert "line 3:" in result.output


def test_db_backup_is_a_consistent_copy(config: Path, tmp_path: Path) -> None:
    ok(pbx(config, "db", "upgrade"))
    ok(pbx(config, "subscribers", "add", "a1", "--phone", "0501230001"))
    backup = tmp_path / "backup.db"
    ok(pbx(config, "db", "backup", str(backup)))
    with sqlite3.connect(backup) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT login FROM billing_subscribers").fetchall() == [("a1",)]
    again = pbx(config, "db", "backup", str(backup))
    assert again.exit_code == 1
    assert "exists" in again.output


def test_check_reports_each_problem_on_one_line(config: Path, tmp_path: Path) -> None:
    before = pbx(config, "check")
    assert before.exit_code == 1
    assert "FAIL  migrations pending" in before.output
    ok(pbx(config, "db", "upgrade"))
    checked = ok(pbx(config, "check"))
    assert "OK    billing    embedded (in the database)" in checked
    assert "OK    spool      " in checked
    (tmp_path / "spool" / "outgoing").rmdir()
    # Asterisk not there (yet): the service waits for it, so a warning, not a failure
    no_spool = ok(pbx(config, "check"))
    outgoing = tmp_path / "spool" / "outgoing"
    assert (
        f"WARN  spool      waiting for Asterisk's {outgoing} (campaigns and callbacks wait)"
        in no_spool
    )
    dead = tmp_path / "dead.toml"
    dead.write_text(
        '[database]\nurl = "sqlite+aiosqlite:///state/pbx.db"\n'
        '[billing]\nbackend = "ubilling"\nurl = "http://127.0.0.1:9/"\nkey = "UBsecret"\n',
        encoding="utf-8",
    )
    result = pbx(dead, "check")
    assert result.exit_code == 1
    billing_line = next(line for line in result.output.splitlines() if " billing " in line)
    assert billing_line.startswith("FAIL")
    assert "UBsecret" not in result.output


def test_embedded_billing_commands_refuse_the_ubilling_backend(tmp_path: Path) -> None:
    cfg = tmp_path / "u.toml"
    cfg.write_text(
        '[database]\nurl = "sqlite+aiosqlite:///pbx.db"\n'
        '[billing]\nbackend = "ubilling"\nurl = "http://127.0.0.1:9/"\nkey = "k"\n',
        encoding="utf-8",
    )
    ok(pbx(cfg, "db", "upgrade"))
    result = pbx(cfg, "payments", "add", "x", "10")
    assert result.exit_code == 1
    assert "do it in that billing instead" in result.output


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[billing]\nbackend = "oracle"\n', encoding="utf-8")
    result = pbx(cfg, "check")
    assert result.exit_code == 1
    assert "billing.backend" in result.output
    missing = pbx(tmp_path / "nope.toml", "check")
    assert "config file not found" in missing.output


def test_import_with_a_wrong_header_lands_nothing(config: Path, tmp_path: Path) -> None:
    ok(pbx(config, "db", "upgrade"))
    bad = tmp_path / "bad.csv"
    bad.write_text("login,nme,phones\nx,y,0501110001\n", encoding="utf-8")
    result = pbx(config, "subscribers", "import", str(bad))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    cards = tmp_path / "cards.csv"
    cards.write_text("serial,sum\n1,2\n", encoding="utf-8")
    result = pbx(config, "paycards", "import", str(cards))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "subscriber(s)" in ok(pbx(config, "subscribers", "list"))
    assert "0 subscriber(s)" in ok(pbx(config, "subscribers", "list"))


def test_a_database_never_migrated_says_what_to_run(config: Path, tmp_path: Path) -> None:
    """Not `OperationalError: no such table: sms_outbox`: what the operator must run."""
    (tmp_path / "state").mkdir()
    for args in (("sms", "send", "0501234567", "тест"), ("campaign", "list")):
        result = pbx(config, *args)
        assert result.exit_code == 1
        assert "is not up to date: run `pbxbridge db upgrade`" in result.output
        assert "; pending " in result.output
        assert "no such table" not in result.output
    ok(pbx(config, "db", "upgrade"))
    assert "queued" in ok(pbx(config, "sms", "send", "0501234567", "тест"))
