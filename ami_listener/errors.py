"""Every error the AMI client raises, as one tree (httpx's `_exceptions.py` is the model):

    PbxbridgeError                 (primitives.errors)
    └── AmiError                   anything the AMI link could not do
        ├── AmiDisconnected        not logged in, or the link was lost while an action waited
        │   └── AmiNotSent         nothing of the action was written: safe to try again
        ├── AmiTimeout             no (complete) answer within the deadline; a TimeoutError too
        ├── AmiActionError         Asterisk answered `Response: Error` (or Fail/Failure)
        ├── AmiAuthFailed          Asterisk refused the login
        └── ProtocolViolation      the peer does not speak AMI; the connection is dropped
            └── FrameTooLarge      a message grew past the limit without ending

A caller catches `AmiError` (or one branch), never a tuple. `ProtocolViolation` never
leaves the client: it drops the connection, and an action waiting on it gets
`AmiDisconnected`. None of them carries the AMI secret.
"""

from __future__ import annotations

from collections.abc import Sequence

from ami_listener.message import AmiMessage
from primitives.errors import PbxbridgeError


class AmiError(PbxbridgeError):
    """Base of every AMI error."""


class AmiDisconnected(AmiError):
    """Not logged in to Asterisk, or the link was lost while the action waited.

    An action that fails this way may or may not have reached Asterisk; it is never sent
    again by the client. The caller decides (with its own ActionID as idempotency key).
    """


class AmiNotSent(AmiDisconnected):
    """Not logged in, or the link was already closed: nothing of the action was written,
    so a caller may safely try it again later (an SMS outbox retries only these)."""


class AmiTimeout(AmiError, TimeoutError):
    """No (complete) answer within the deadline. For a list action, `response` and
    `events` hold what had arrived so far."""

    def __init__(
        self,
        message: str,
        *,
        response: AmiMessage | None = None,
        events: Sequence[AmiMessage] = (),
    ) -> None:
        super().__init__(message)
        self.response = response
        self.events = tuple(events)


class AmiActionError(AmiError):
    """Asterisk answered `Response: Error` (or `Fail`/`Failure`); `response` is that answer."""

    def __init__(self, message: str, response: AmiMessage) -> None:
        super().__init__(message)
        self.message = message
        self.response = response


class AmiAuthFailed(AmiError):
    """Asterisk refused the login (wrong user or secret, or an MD5 challenge refused)."""


class ProtocolViolation(AmiError):
    """The peer sent something that is not AMI."""


class FrameTooLarge(ProtocolViolation):
    """A message grew past the limit without ending: the peer is not speaking AMI."""
