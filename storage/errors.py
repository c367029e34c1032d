"""The errors of the storage room, as one tree (httpx's `_exceptions.py` is the model),
and `brief`, one line about a database error for alerts and chat messages:

    PbxbridgeError        (primitives.errors)
    └── StorageError      anything storage refuses
        └── BackupError   a backup that could not be made (`db backup`, job db_backup)

A database failure itself is not wrapped, on purpose: it reaches callers as SQLAlchemy's
own exception (`SQLAlchemyError`, `DBAPIError`), which each room already handles where it
can retry or report it, and wrapping it would hide the driver's words. What storage
refuses on its own (a backup it cannot make) joins this tree, not a new root.

SQLAlchemy's text of a driver error runs to several lines: the driver's message, then the
statement and its parameters (which may hold a subscriber's data). Staff get the first
(`brief`).
"""

from __future__ import annotations

from primitives.errors import PbxbridgeError


class StorageError(PbxbridgeError):
    """Base of every error of the storage room."""


class BackupError(StorageError):
    """A backup that could not be made; the message says where and why."""


def brief(exc: BaseException) -> str:
    """`OperationalError: (sqlite3.OperationalError) no such table: x`: the error's class
    and the first line of its text, at most 200 characters."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
