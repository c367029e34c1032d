"""`[telepony]` refuses what cannot work and keeps its password out of logs; the outbox's
migration builds exactly its model."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from pbxbridge.settings import Settings
from telepony.models import OutboxRow
from telepony.settings import TeleponySettings
from tests.conftest import Database
from tests.schema import schema_drift


def test_off_without_a_url() -> None:
    assert not TeleponySettings().enabled
    assert TeleponySettings().safe_url() == "off"


def test_a_plain_mysql_url_gets_the_asyncmy_driver_and_hides_its_password() -> None:
    settings = TeleponySettings(url="mysql://ub:p4ss-w0rd@10.0.0.5/asteriskdb")
    assert settings.url.get_secret_value() == "mysql+asyncmy://ub:p4ss-w0rd@10.0.0.5/asteriskdb"
    assert settings.safe_url() == "mysql+asyncmy://ub:***@10.0.0.5/asteriskdb"
    assert "p4ss-w0rd" in Settings(telepony={"url": "mysql://ub:p4ss-w0rd@db/x"}).secrets()
    assert "p4ss-w0rd" not in repr(settings)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql+asyncpg://u@h/db", "mysql+asyncmy:// URL is needed"),
        ("mysql+asyncmy://u@h", "names no database"),
        ("not a url", "not a database URL"),
    ],
)
def test_urls_that_cannot_work_are_refused(url: str, says: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(says)):
        TeleponySettings(url=url)


@pytest.mark.parametrize("table", ["cdr; DROP TABLE x", "db.cdr", "", "x" * 65])
def test_table_names_are_plain(table: str) -> None:
    with pytest.raises(ValidationError, match="a table name"):
        TeleponySettings(table=table)


async def test_the_outbox_migration_matches_its_model(database: Database) -> None:
    assert await schema_drift(database, OutboxRow) == []
