"""Tables of the voice lines: the lines themselves, and whether Asterisk still has to reload.

A line's SIP password is kept here because the PJSIP file is rewritten whole from these
rows at every change; it is printed once, in `open`'s OK line, and never logged.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage import Base


class LineRow(Base):
    """One line. `suspended` is BILLmanager's suspend; `held` is the billing's (its
    subscriber frozen or disabled): the line is blocked while either is set. A closed line
    keeps its row (`closed_at`), so its name is never given to another line."""

    __tablename__ = "lines_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    account: Mapped[str] = mapped_column(String(64), default="")
    login: Mapped[str | None] = mapped_column(String(64), nullable=True)
    password: Mapped[str] = mapped_column(String(64))
    callerid: Mapped[str] = mapped_column(String(128), default="")
    max_channels: Mapped[int] = mapped_column(Integer)
    codecs: Mapped[str] = mapped_column(String(255))
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_lines_lines_login", "login"),)

    def __repr__(self) -> str:  # never the password
        return f"LineRow(name={self.name!r})"


class ReloadState(Base):
    """One row (id 1): a reload Asterisk has not had yet, because AMI could not be reached
    when the file was written. The service sends it when its AMI link comes up."""

    __tablename__ = "lines_reload"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pending: Mapped[bool] = mapped_column(Boolean, default=False)
    since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
