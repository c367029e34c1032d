"""`[telepony]`: the MySQL table Ubilling's TelePony, WhyDoYouCall and call history read.

The feed is off while `url` is empty. The URL is a secret (it carries the password): it is
a SecretStr, `safe_url()` is what logs and messages show, and the root adds its password
to the log redactor.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DRIVER = "mysql+asyncmy"
TABLE_NAME = re.compile(r"[A-Za-z0-9_$]{1,64}")
"""A MySQL table name written plainly (no quoting needed, no schema prefix)."""


class TeleponySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: SecretStr = Field(
        default=SecretStr(""),
        description=(
            'MySQL/MariaDB database of the CDR table, "mysql+asyncmy://user:pass@host:3306/db" '
            "(the ASTERISK_DB / TELEPONY_CDR database Ubilling reads); empty: the feed is off. "
            "Legs come from AMI Cdr events, so [ami] must be on. Or PBXBRIDGE_TELEPONY__URL."
        ),
    )
    table: str = Field(
        default="cdr",
        description=(
            "The table cdr_mysql would write (Ubilling's ASTERISK_TABLE); created with "
            "cdr_mysql's columns when missing, an existing one is written as it is."
        ),
    )
    batch_size: int = Field(
        default=200, ge=1, le=5000, description="Rows written to MySQL in one transaction."
    )
    flush_interval: float = Field(
        default=2.0,
        ge=0,
        le=3600,
        description=("Seconds a row may wait for a fuller batch; a full batch is written at once."),
    )
    max_queued: int = Field(
        default=200_000,
        ge=10,
        le=50_000_000,
        description=(
            "Rows kept in pbxbridge's database while MySQL is away; past this, new rows are "
            "refused, the oldest kept (logged once a minute, counted in "
            'pbxbridge_telepony_dropped{reason="rejected"}).'
        ),
    )
    retry_max: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="Longest wait between two tries while MySQL is away (from 1 s, doubling).",
    )
    connect_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds to connect to MySQL before giving up."
    )
    write_timeout: float = Field(
        default=60.0,
        gt=0,
        le=600,
        description=(
            "Seconds one batch's transaction may take; past it the try counts as failed (the "
            "batch is written later, once)."
        ),
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value().strip()
        if not text:
            return SecretStr("")
        try:
            url = make_url(text)
        except ArgumentError:
            raise ValueError(
                'not a database URL; e.g. "mysql+asyncmy://user:pass@host/db"'
            ) from None
        if url.drivername not in {"mysql", DRIVER}:
            raise ValueError(f'a {DRIVER}:// URL is needed (got "{url.drivername}://…")')
        if not url.database:
            raise ValueError("the URL names no database (…@host/DATABASE)")
        url = url.set(drivername=DRIVER)
        return SecretStr(url.render_as_string(hide_password=False))

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        if TABLE_NAME.fullmatch(value) is None:
            raise ValueError("a table name: letters, digits, _ or $ (1-64)")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.url.get_secret_value())

    def safe_url(self) -> str:
        """The URL with its password hidden, for logs and messages."""
        if not self.enabled:
            return "off"
        return make_url(self.url.get_secret_value()).render_as_string(hide_password=True)

    def password(self) -> str:
        """The URL's password (for the log redactor); empty when none."""
        if not self.enabled:
            return ""
        return make_url(self.url.get_secret_value()).password or ""
