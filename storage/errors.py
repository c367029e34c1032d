"""One line about a database error, for alerts and chat messages.

SQLAlchemy's text of a driver error runs to several lines: the driver's message, then the
statement and its parameters (which may hold a subscriber's data). Staff get the first.
"""

from __future__ import annotations


def brief(exc: BaseException) -> str:
    """`OperationalError: (sqlite3.OperationalError) no such table: x`: the error's class
    and the first line of its text, at most 200 characters."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
