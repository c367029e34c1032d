"""agi: pbxbridge's FastAGI server, the AGI wire protocol, and the IVR routes.

The wire layer is pbxbridge's own (a bare asyncio protocol per connection,
`agi.connection.AgiConnection`, not asyncio's streams); see `agi.server.FastAgiServer`,
`agi.session.AgiSession` and `agi.escape.quote`, the one function that writes values
into AGI commands.
"""

from agi.errors import (
    AgiCommandError,
    AgiCommandFailed,
    AgiConnectionClosed,
    AgiDeadChannel,
    AgiError,
    AgiHangup,
    AgiHeaderError,
    AgiProtocolError,
    AgiReplyTimeout,
    AgiUsageError,
)
from agi.escape import quote
from agi.replies import AgiReply
from agi.request import AgiRequest
from agi.server import AgiServerStats, FastAgiServer, Handler
from agi.session import AgiSession, PlaybackResult
from agi.settings import AgiSettings

__all__ = [
    "AgiCommandError",
    "AgiCommandFailed",
    "AgiConnectionClosed",
    "AgiDeadChannel",
    "AgiError",
    "AgiHangup",
    "AgiHeaderError",
    "AgiProtocolError",
    "AgiReply",
    "AgiReplyTimeout",
    "AgiRequest",
    "AgiServerStats",
    "AgiSession",
    "AgiSettings",
    "AgiUsageError",
    "FastAgiServer",
    "Handler",
    "PlaybackResult",
    "quote",
]
