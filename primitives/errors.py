"""The root of every error pbxbridge raises on purpose.

Each room draws its own tree in `<room>/errors.py` (httpx's `_exceptions.py` is the
model): one base per room deriving from `PbxbridgeError`, and below it the cases a caller
may want to tell apart. A caller catches a room's base (or this root), never a tuple of
unrelated classes. The text of every such error is meant for a person: one line, no
secret, no traceback.
"""

from __future__ import annotations


class PbxbridgeError(Exception):
    """Something pbxbridge refused or could not do; the message says what and why."""
