"""`pending_revisions` (what `pbxbridge check` and the service's start-up go by) knows a
database is up to date when one room's revision `depends_on` another's: alembic then keeps
only the dependent one in alembic_version."""

from __future__ import annotations

from pathlib import Path

from storage import DatabaseSettings, create_engine, migrate

REVISION = '''"""{room}: {about}

Revision ID: {rev}
"""

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {depends!r}


def upgrade() -> None:
    op.create_table("{table}", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("{table}")
'''


def rev(
    rev: str,
    table: str,
    *,
    down: str | None = None,
    labels: tuple[str, ...] | None = None,
    depends: str | None = None,
) -> dict[str, object]:
    return {"rev": rev, "table": table, "down": down, "labels": labels, "depends": depends}


def room(tmp_path: Path, name: str, revisions: list[dict[str, object]]) -> Path:
    versions = tmp_path / name / "versions"
    versions.mkdir(parents=True)
    for r in revisions:
        text = REVISION.format(room=name, about=r["rev"], **r)
        (versions / f"{r['rev']}.py").write_text(text, encoding="utf-8")
    return versions


async def test_a_revision_depending_on_another_rooms_leaves_nothing_pending(
    tmp_path: Path,
) -> None:
    calls = room(tmp_path, "calls", [rev("c1", "calls", labels=("calls",))])
    missed = room(tmp_path, "missed", [rev("m1", "missed", labels=("missed",))])
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"))
    try:
        await migrate.upgrade(engine, (calls, missed))
        assert await migrate.pending_revisions(engine, (calls, missed)) == []

        moved = rev("m2", "moved", down="m1", depends="c1")
        text = REVISION.format(room="missed", about="m2", **moved)
        (missed / "m2.py").write_text(text, encoding="utf-8")
        assert await migrate.pending_revisions(engine, (calls, missed)) == ["m2"]

        await migrate.upgrade(engine, (calls, missed))
        assert await migrate.pending_revisions(engine, (calls, missed)) == []
    finally:
        await engine.dispose()
