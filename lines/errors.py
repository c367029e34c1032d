"""What the voice lines raise, as one tree (httpx's `_exceptions.py` is the model). Every
message is one line meant for the person (or the BILLmanager task log) that asked, and
never carries a SIP password.

    PbxbridgeError            (primitives.errors)
    └── LineError             a line command failed; nothing of it is in force
        ├── LineRefused       the request cannot be done as asked; nothing changed
        │   ├── BadValue      a value is malformed or unsafe for the PJSIP file (also a ValueError)
        │   └── LineNotFound  no such line (or it is closed)
        ├── ReloadRejected    Asterisk refused the reload of res_pjsip; the previous file is back
        └── LinesUnavailable  the PJSIP file, its lock or the database cannot be used now
"""

from __future__ import annotations

from primitives.errors import PbxbridgeError


class LineError(PbxbridgeError):
    """A line command failed; nothing of it is in force."""


class LineRefused(LineError):
    """The request cannot be done as asked (a bad value, an unknown line)."""


class BadValue(LineRefused, ValueError):
    """A value is malformed, or would not stay one value in the PJSIP file."""


class LineNotFound(LineRefused):
    """No open line by that id."""


class ReloadRejected(LineError):
    """Asterisk answered the reload with an error: the previous file was put back."""


class LinesUnavailable(LineError):
    """The PJSIP file, its folder, its lock or the database cannot be used now."""
