"""`pbxbridge check` against real peers: every item failing on its own, one line each.

The peers are the fakes (Ubilling over HTTP, AMI over TCP, the Telegram Bot API) and
ports where nothing listens; the CLI runs in a worker thread (it has its own event loop)
while the fakes serve on the test's loop.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Mapping
from pathlib import Path

from click.testing import CliRunner, Result

from pbxbridge.cli.main import cli
from tests.fakes.ami_asterisk import FakeAmi
from tests.fakes.telegram import FakeTelegram
from tests.fakes.ubilling import PHP_FATAL_ERROR, FakeUbilling, Fault

ITEMS = ["config", "database", "migrations", "billing", "ami", "spool", "telegram", "telepony"]
LEVELS = ("OK", "WARN", "FAIL", "SKIP")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write(tmp_path: Path, name: str = "pbx.toml", **sections: Mapping[str, object]) -> Path:
    """A config: SQLite in tmp_path, a spool with outgoing/, AMI on a port where nothing
    listens, then `sections` on top."""
    merged: dict[str, dict[str, object]] = {
        "database": {"url": "sqlite+aiosqlite:///pbx.db"},
        "spool": {"dir": "spool"},
        "ami": {"port": free_port(), "connect_timeout": 1},
    }
    for head, values in sections.items():
        merged.setdefault(head, {}).update(values)
    path = tmp_path / name
    path.write_text(
        "".join(
            f"[{head}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
            for head, values in merged.items()
        ),
        encoding="utf-8",
    )
    (tmp_path / "spool" / "outgoing").mkdir(parents=True, exist_ok=True)
    return path


def check(config: Path, *, upgrade: bool = True) -> Result:
    runner = CliRunner()
    if upgrade:
        done = runner.invoke(cli, ["--config", str(config), "db", "upgrade"])
        assert done.exit_code == 0, done.output
    return runner.invoke(cli, ["--config", str(config), "check"])


def lines(result: Result) -> dict[str, tuple[str, str]]:
    """{item: (level, detail)}, after asserting the shape: one line per item, in order,
    nothing else (no traceback, no driver's second line)."""
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    rows = result.output.splitlines()
    assert len(rows) == len(ITEMS), result.output
    found: dict[str, tuple[str, str]] = {}
    for row, item in zip(rows, ITEMS, strict=True):
        level, name, detail = row[:6].strip(), row[6:17].strip(), row[17:]
        assert level in LEVELS, row
        assert name == item, row
        # A config that does not load lists every problem on its line (up to 600).
        assert len(row) <= 17 + (600 if item == "config" else 240), row
        found[item] = (level, detail)
    return found


def test_all_well_is_ok_and_exit_0(tmp_path: Path) -> None:
    result = check(write(tmp_path))
    found = lines(result)
    assert result.exit_code == 0
    assert found["database"] == ("OK", f"sqlite+aiosqlite:///{tmp_path}/pbx.db")
    assert found["migrations"] == ("OK", "up to date")
    assert found["billing"] == ("OK", "embedded (in the database)")
    assert found["spool"] == ("OK", str(tmp_path / "spool"))
    assert found["telegram"] == ("OK", "off")
    assert found["ami"][0] == "WARN"  # nothing listens on its port


def test_a_config_that_does_not_load_fails_and_skips_the_rest(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[billing]\nbackend = "oracle"\n[agi]\nport = "x"\n', encoding="utf-8")
    result = check(config, upgrade=False)
    found = lines(result)
    assert result.exit_code == 1
    level, detail = found["config"]
    assert level == "FAIL"
    assert str(config) in detail
    assert "billing.backend" in detail
    assert "agi.port" in detail
    assert all(found[item] == ("SKIP", "skipped (no config)") for item in ITEMS[1:])

    broken = tmp_path / "broken.toml"
    broken.write_text("[database\nurl=", encoding="utf-8")
    found = lines(check(broken, upgrade=False))
    assert found["config"][0] == "FAIL"


def test_an_unreachable_database_fails_on_one_line(tmp_path: Path) -> None:
    port = free_port()
    config = write(tmp_path, database={"url": f"postgresql+asyncpg://pbx@127.0.0.1:{port}/pbx"})
    result = check(config, upgrade=False)
    found = lines(result)
    assert result.exit_code == 1
    level, detail = found["database"]
    assert level == "FAIL"
    assert detail.startswith(f"postgresql+asyncpg://pbx@127.0.0.1:{port}/pbx: ")
    assert found["migrations"] == ("SKIP", "skipped (database unreachable)")
    assert found["billing"] == ("SKIP", "skipped (the embedded billing is in that database)")
    assert found["spool"][0] == "OK"  # the others are still checked

    (tmp_path / "a-file").write_text("", encoding="utf-8")
    config = write(tmp_path, "file.toml", database={"url": "sqlite+aiosqlite:///a-file/pbx.db"})
    found = lines(check(config, upgrade=False))
    assert found["database"][0] == "FAIL"
    assert found["migrations"] == ("SKIP", "skipped (database unusable)")
    assert found["billing"] == ("SKIP", "skipped (database unusable)")


def test_pending_migrations_fail(tmp_path: Path) -> None:
    result = check(write(tmp_path), upgrade=False)
    found = lines(result)
    assert result.exit_code == 1
    level, detail = found["migrations"]
    assert level == "FAIL"
    assert detail.startswith("pending ")
    assert detail.endswith("run `pbxbridge db upgrade`")


async def test_ubilling_that_refuses_the_key_or_breaks_fails_on_one_line(tmp_path: Path) -> None:
    async with FakeUbilling() as fake:
        assert fake.serial is not None
        billing = {"backend": "ubilling", "url": fake.url, "key": fake.serial}
        good = write(tmp_path, "good.toml", billing=billing)
        found = lines(await asyncio.to_thread(check, good))
        assert found["billing"] == ("OK", f"Ubilling at {fake.url}")

        wrong_key = "UB" + "0" * 32
        wrong = write(tmp_path, "wrong.toml", billing={**billing, "key": wrong_key})
        result = await asyncio.to_thread(check, wrong)
        found = lines(result)
        assert result.exit_code == 1
        level, detail = found["billing"]
        assert level == "FAIL"
        assert detail.startswith(f"Ubilling at {fake.url}: ")
        assert "ERROR:GET_WRONG_KEY" in detail
        assert fake.serial not in result.output

        fake.add_fault(Fault(body=PHP_FATAL_ERROR))  # a PHP error page: many lines
        result = await asyncio.to_thread(check, good)
        found = lines(result)
        assert result.exit_code == 1
        assert found["billing"][0] == "FAIL"


async def test_ami_down_or_refusing_is_a_warning(tmp_path: Path) -> None:
    async with FakeAmi(secret="s3cret") as fake:
        good = write(tmp_path, "good.toml", ami={"port": fake.port, "secret": "s3cret"})
        result = await asyncio.to_thread(check, good)
        found = lines(result)
        assert result.exit_code == 0
        assert found["ami"] == (
            "OK",
            f"logged in to 127.0.0.1:{fake.port} as pbxbridge (Asterisk Call Manager/13.0.0)",
        )
        assert [a.name for a in fake.actions] == ["Challenge", "Login", "Logoff"]

        wrong = write(tmp_path, "bad.toml", ami={"port": fake.port, "secret": "guess"})
        result = await asyncio.to_thread(check, wrong)
        found = lines(result)
        assert result.exit_code == 0
        level, detail = found["ami"]
        assert level == "WARN"
        assert "refused the login" in detail
        assert "guess" not in result.output

    dead = write(tmp_path, "dead.toml")
    result = await asyncio.to_thread(check, dead)
    found = lines(result)
    assert result.exit_code == 0
    assert found["ami"][0] == "WARN"
    assert found["ami"][1].startswith("cannot connect to 127.0.0.1:")

    off = write(tmp_path, "off.toml", ami={"enabled": False})
    found = lines(await asyncio.to_thread(check, off))
    assert found["ami"][0] == "OK"
    assert found["ami"][1].startswith("off ([ami] enabled = false)")


def test_a_spool_still_waiting_for_asterisk_is_a_warning(tmp_path: Path) -> None:
    config = write(tmp_path)
    (tmp_path / "spool" / "outgoing").rmdir()
    result = check(config)
    found = lines(result)
    assert result.exit_code == 0
    level, detail = found["spool"]
    assert level == "WARN"
    outgoing = tmp_path / "spool" / "outgoing"
    assert detail == f"waiting for Asterisk's {outgoing} (campaigns and callbacks wait)"


async def test_telegram_answering_or_refusing_the_token(tmp_path: Path) -> None:
    async with FakeTelegram() as fake:
        telegram = {"enabled": True, "token": fake.token, "api_server": fake.url}
        good = write(tmp_path, "good.toml", telegram=telegram)
        found = lines(await asyncio.to_thread(check, good))
        assert found["telegram"] == ("OK", f"@pbxbridge_test_bot answers at {fake.url}")

        token = "987654321:AAwrongTokenForTheFakeTelegramApi"
        wrong = write(tmp_path, "wrong.toml", telegram={**telegram, "token": token})
        result = await asyncio.to_thread(check, wrong)
        found = lines(result)
        assert result.exit_code == 0
        assert found["telegram"][0] == "WARN"
        assert "Unauthorized" in found["telegram"][1]
        assert token not in result.output
