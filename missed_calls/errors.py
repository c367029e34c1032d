"""Every error the missed-call tracker raises, as one tree (httpx's `_exceptions.py` is the
model):

    PbxbridgeError            (primitives.errors)
    └── MissedCallsError      anything the missed-call tracker could not use
        └── BadEvent          an AMI event that lacks what it needs (logged and skipped)

A caller catches `MissedCallsError`. `BadEvent` is a `ValueError` too, as it was. A database
failure while recording is no error of this room: the tracker retries it (see `tracker`).
"""

from __future__ import annotations

from primitives.errors import PbxbridgeError


class MissedCallsError(PbxbridgeError):
    """Base of every missed-call error."""


class BadEvent(MissedCallsError, ValueError):
    """An event of a kind the tracker reads, unusable as it came."""
