"""What can go wrong on a FastAGI connection, as exceptions a route can catch by kind
(httpx's `_exceptions.py` is the model):

    PbxbridgeError               (primitives.errors)
    └── AgiError                 anything a FastAGI session could not do
        ├── AgiHeaderError       the environment block was cut short, too big or malformed
        │   └── AgiHeaderTooLong     longer than agi.max_header_bytes
        ├── AgiProtocolError     a reply pbxbridge cannot parse; the session is closed
        ├── AgiReplyTimeout      no reply within the command's timeout; the session is closed
        ├── AgiCommandError      510: Asterisk does not know the command
        ├── AgiUsageError        520: wrong arguments (the usage text is kept)
        ├── AgiCommandFailed     200 result=-1 where a helper treats it as failure
        └── AgiHangup            the caller is gone
            ├── AgiDeadChannel       511: command not permitted on a dead channel
            └── AgiConnectionClosed  Asterisk closed the socket (EOF or reset)

After AgiCommandError, AgiUsageError, AgiCommandFailed and AgiDeadChannel the session is
still in step and the next command may be sent. After AgiProtocolError, AgiReplyTimeout and
AgiConnectionClosed the session is closed and every later command raises
AgiConnectionClosed.
"""

from __future__ import annotations

from primitives.errors import PbxbridgeError


class AgiError(PbxbridgeError):
    """Base of every FastAGI error."""


class AgiHeaderError(AgiError):
    """The `agi_*` environment block could not be read."""


class AgiHeaderTooLong(AgiHeaderError):
    """The environment block went past agi.max_header_bytes (the connection is closed)."""


class AgiProtocolError(AgiError):
    """Asterisk sent something that is not an AGI reply; the session is out of step."""


class AgiReplyTimeout(AgiError):
    """No complete reply arrived within the command's timeout."""

    def __init__(self, command: str, timeout: float) -> None:
        self.command = command
        self.timeout = timeout
        super().__init__(f"no reply to {command!r} within {timeout:g} s")


class AgiCommandError(AgiError):
    """510: Asterisk does not know the command."""

    def __init__(self, command: str, line: str) -> None:
        self.command = command
        self.line = line
        super().__init__(f"{command!r}: {line}")


class AgiUsageError(AgiError):
    """520: the command's arguments are wrong. `usage` holds the usage text Asterisk sent."""

    def __init__(self, command: str, usage: str) -> None:
        self.command = command
        self.usage = usage
        first = usage.splitlines()[0] if usage else "invalid command syntax"
        super().__init__(f"{command!r}: {first}")


class AgiCommandFailed(AgiError):
    """The command ran and answered `result=-1` (or another failure code)."""

    def __init__(self, command: str, line: str) -> None:
        self.command = command
        self.line = line
        super().__init__(f"{command!r} failed: {line}")


class AgiHangup(AgiError):
    """The channel hung up or the connection to Asterisk is gone."""


class AgiDeadChannel(AgiHangup):
    """511: the channel is dead; only dead-capable commands (GET/SET VARIABLE…) still work."""

    def __init__(self, command: str, line: str) -> None:
        self.command = command
        self.line = line
        super().__init__(f"{command!r}: {line}")


class AgiConnectionClosed(AgiHangup):
    """Asterisk closed the connection (or pbxbridge closed it after an earlier failure)."""
