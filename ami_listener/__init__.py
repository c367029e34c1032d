"""ami_listener: the AMI connection to Asterisk, message framing, events and actions.

`AmiClient(settings)` is the whole public surface most components need: `add_consumer`
(the one way a component hears events, see `primitives.ami`), `on_event`,
`action`, `list_action`, `on_health`, `start`, `stop`.
"""

from ami_listener.client import AmiClient, AmiStatus
from ami_listener.errors import (
    AmiActionError,
    AmiAuthFailed,
    AmiDisconnected,
    AmiError,
    AmiNotSent,
    AmiTimeout,
)
from ami_listener.escape import header_name, header_value
from ami_listener.health import AmiHealth
from ami_listener.message import AmiMessage
from ami_listener.settings import AmiSettings

__all__ = [
    "AmiActionError",
    "AmiAuthFailed",
    "AmiClient",
    "AmiDisconnected",
    "AmiError",
    "AmiHealth",
    "AmiMessage",
    "AmiNotSent",
    "AmiSettings",
    "AmiStatus",
    "AmiTimeout",
    "header_name",
    "header_value",
]
