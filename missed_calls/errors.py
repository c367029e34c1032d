"""Every error the missed-call tracker raises, as one tree (httpx's `_exceptions.py` is the
model):

    PbxbridgeError            (primitives.errors)
    └── MissedCallsError      anything the missed-call rules could not use

A caller catches `MissedCallsError`. An AMI event the tracker cannot read is the call
log's `BadEvent` (call_log/errors.py): the events are read there. A database failure while
recording is no error of this room: the tracker retries it (see `tracker`).
"""

from __future__ import annotations

from primitives.errors import PbxbridgeError


class MissedCallsError(PbxbridgeError):
    """Base of every missed-call error."""
