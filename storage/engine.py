"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

DEFAULT_URL = "sqlite+aiosqlite:///var/pbxbridge.db"


class DatabaseSettings(BaseModel):
    """`[database]`: where pbxbridge keeps its state."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        default=DEFAULT_URL,
        description=(
            "SQLAlchemy URL. sqlite+aiosqlite:///relative/path.db resolves against the config "
            "file's folder; postgresql+asyncpg://user:pass@host/db for PostgreSQL."
        ),
    )
    busy_timeout_ms: int = Field(default=30_000, ge=0, description="SQLite lock wait.")
    pool_size: int = Field(default=10, ge=1, description="PostgreSQL connection pool size.")
    echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")
    backup_dir: Path | None = Field(
        default=None,
        description=(
            "Where job db_backup writes SQLite copies (mode 0600; the folder 0700); unset: "
            "backups/ next to the database. A relative path is taken from the config file's "
            "folder. PostgreSQL: the job does nothing (use the server's own backups)."
        ),
    )
    backup_keep: int = Field(
        default=7, ge=1, le=1000, description="Job db_backup keeps this many newest copies."
    )

    def resolved(self, base_dir: Path) -> DatabaseSettings:
        """Return a copy whose relative SQLite path and backup folder are anchored at
        `base_dir`."""
        update: dict[str, object] = {}
        if self.backup_dir is not None and not self.backup_dir.is_absolute():
            update["backup_dir"] = (base_dir / self.backup_dir).resolve()
        url = make_url(self.url)
        if is_sqlite(url) and url.database and url.database != ":memory:":
            path = Path(url.database)
            if not path.is_absolute():
                update["url"] = url.set(database=str((base_dir / path).resolve())).render_as_string(
                    hide_password=False
                )
        return self.model_copy(update=update) if update else self

    def safe_url(self) -> str:
        """The URL with its password hidden, for logs and messages."""
        return make_url(self.url).render_as_string(hide_password=True)


def is_sqlite(url: URL | str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: URL | str) -> Path | None:
    u = make_url(url)
    if not is_sqlite(u) or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """Build the engine; SQLite gets WAL, a busy timeout and foreign keys on every connection."""
    url = make_url(settings.url)
    kwargs: dict[str, Any] = {"echo": settings.echo, "pool_pre_ping": not is_sqlite(url)}
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": settings.busy_timeout_ms / 1000}
    else:
        kwargs["pool_size"] = settings.pool_size
    engine = _create_async_engine(url, **kwargs)
    if is_sqlite(url):
        busy = settings.busy_timeout_ms

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
