"""Every error the call log raises, as one tree (httpx's `_exceptions.py` is the model):

    PbxbridgeError            (primitives.errors)
    └── CallLogError          anything the call log could not use
        └── BadEvent          an AMI event that lacks what it needs (logged and skipped)

A caller catches `CallLogError`. `BadEvent` is a `ValueError` too. A database failure
while recording is no error of this room: the recorder retries it (missed_calls.tracker).
"""

from __future__ import annotations

from primitives.errors import PbxbridgeError


class CallLogError(PbxbridgeError):
    """Base of every call-log error."""


class BadEvent(CallLogError, ValueError):
    """An event of a kind the call log reads, unusable as it came."""
