"""API tokens: the CLI on a real database, what the API does with them, what is stored."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import select, text

from pbxbridge.cli.common import CliState
from pbxbridge.cli.main import cli
from primitives.clock import FixedClock
from tests.conftest import Database
from tests.schema import schema_drift
from tests.web.conftest import OWNER, web_rig
from web.tokens import TOKEN_SHAPE, ApiTokenRow, Scope, digest


async def pbx(config: Path, clock: FixedClock, *args: str) -> Result:
    obj = CliState(config=None, clock=clock)
    return await asyncio.to_thread(
        CliRunner().invoke, cli, ["--config", str(config), *args], obj=obj
    )


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.stdout


async def test_the_migration_matches_the_model(database: Database) -> None:
    assert await schema_drift(database, ApiTokenRow) == []


async def stored_hashed(database: Database, token: str) -> None:
    """Stored hashed: the token is nowhere in the table (of two tokens, crm's is `token`)."""
    async with database.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM web_api_tokens"))).all()
    assert len(rows) == 2
    assert all(token not in str(row) for row in rows)
    async with database.sessions() as session:
        crm = await session.scalar(select(ApiTokenRow).where(ApiTokenRow.name == "crm"))
        assert crm is not None
        assert crm.hash == digest(token)


async def test_create_list_use_revoke_from_the_cli(
    database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    config = tmp_path / "pbxbridge.toml"
    config.write_text(f'[database]\nurl = "{database.url}"\n', encoding="utf-8")

    made = ok(await pbx(config, clock, "tokens", "create", "crm", "--scope", "subscribers:read"))
    *said, token = made.rstrip("\n").split("\n")
    assert TOKEN_SHAPE.fullmatch(token)
    assert "scopes: subscribers:read" in said[0]
    assert token not in "\n".join(said)
    everything = ok(await pbx(config, clock, "tokens", "create", "site")).rstrip().split("\n")
    assert "scopes: all" in everything[0]

    twice = await pbx(config, clock, "tokens", "create", "crm")
    assert twice.exit_code == 1
    assert "a token named 'crm' exists already" in twice.output
    bad = await pbx(config, clock, "tokens", "create", "crm2", "--scope", "root")
    assert bad.exit_code == 2

    await stored_hashed(database, token)

    listed = ok(await pbx(config, clock, "tokens", "list"))
    assert token not in listed
    lines = listed.splitlines()
    assert lines[0].split() == ["name", "scopes", "created", "last", "used", "revoked"]
    assert lines[2].split()[:2] == ["crm", "subscribers:read"]
    assert lines[2].split()[-2:] == ["-", "-"]  # never used, not revoked
    assert lines[3].split()[:2] == ["site", "all"]

    async with web_rig(database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        auth = {"Authorization": f"Bearer {token}"}
        found = await client.get(f"/api/v1/subscribers/{OWNER}", headers=auth)
        assert found.status == 200, await found.text()
        assert (await found.json())["login"] == "ivan"
        used = ok(await pbx(config, clock, "tokens", "list")).splitlines()[2]
        assert used.split()[-4:] == ["2026-11-22", "12:00:00", "EET", "-"]  # used, not revoked

        revoked = ok(await pbx(config, clock, "tokens", "revoke", "crm"))
        assert revoked.strip() == "Token 'crm' revoked."
        refused = await client.get(f"/api/v1/subscribers/{OWNER}", headers=auth)
        assert refused.status == 401
        assert (await refused.json())["error"]["code"] == "unauthorized"
        again = await pbx(config, clock, "tokens", "revoke", "crm")
        assert again.exit_code == 1
        assert "revoked already" in again.output
        assert (await pbx(config, clock, "tokens", "revoke", "nobody")).exit_code == 1

        journal = await rig.core.audit.records(limit=10)
        assert sorted(r.detail for r in journal if r.kind == "api_token") == [
            "API token crm created, scopes subscribers:read",
            "API token crm revoked",
            "API token site created, scopes *",
        ]
    final = ok(await pbx(config, clock, "tokens", "list")).splitlines()
    assert final[2].startswith("crm")
    assert final[2].endswith("EET")  # revoked at


async def test_a_token_without_the_scope_is_403(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path, aiohttp_client: Any
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        client = await aiohttp_client(rig.app)
        sms_only = await rig.token(Scope.SMS, name="sms")
        refused = await client.get(
            f"/api/v1/subscribers/{OWNER}", headers={"Authorization": f"Bearer {sms_only}"}
        )
        assert refused.status == 403
        assert await refused.json() == {
            "error": {
                "code": "forbidden",
                "message": "the token 'sms' lacks the scope 'subscribers:read'",
                "field": None,
            }
        }
        both = await rig.token(Scope.SMS, Scope.SUBSCRIBERS_READ, name="both")
        allowed = await client.get(
            f"/api/v1/subscribers/{OWNER}", headers={"Authorization": f"Bearer {both}"}
        )
        assert allowed.status == 200
        for header in (f"Basic {both}", "Bearer", f"Bearer {both[:-1]}", f"Token {both}"):
            answer = await client.get(
                f"/api/v1/subscribers/{OWNER}", headers={"Authorization": header}
            )
            assert answer.status == 401, header


async def test_last_used_is_written_at_most_once_a_minute(
    sqlite_database: Database, clock: FixedClock, tmp_path: Path
) -> None:
    async with web_rig(sqlite_database, clock, tmp_path) as rig:
        token = await rig.token()
        start = clock.instant
        first = await rig.tokens.authenticate(token)
        assert first is not None
        assert first.last_used_at is None  # as it was before this use
        for seconds in (1, 30, 59):
            clock.instant = start + timedelta(seconds=seconds)
            assert await rig.tokens.authenticate(token) is not None
            (stored,) = await rig.tokens.list()
            assert stored.last_used_at == start
        clock.instant = start + timedelta(seconds=60)
        await rig.tokens.authenticate(token)
        (stored,) = await rig.tokens.list()
        assert stored.last_used_at == start + timedelta(seconds=60)
