from sqlalchemy import text

from tests.conftest import Database


async def test_migrated_tables_exist(database: Database) -> None:
    async with database.sessions() as s:
        n = await s.scalar(text("SELECT count(*) FROM billing_subscribers"))
    assert n == 0
