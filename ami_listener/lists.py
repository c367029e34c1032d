"""List actions: which event ends the list an action produces.

Asterisk answers a list action with `Response: Success` + `EventList: start`, then one
event per item carrying the action's ActionID, then a terminator event. The terminator is
named here per action, declaratively, as asterisk-java does, instead of guessing from the
human text of `Message:` as panoramisk does. Any event with `EventList: Complete` ends a
list too (every list action of Asterisk 12+ sends it).
"""

from __future__ import annotations

from types import MappingProxyType

COMPLETE_EVENTS = MappingProxyType(
    {
        "coreshowchannels": "CoreShowChannelsComplete",
        "queuestatus": "QueueStatusComplete",
        "queuesummary": "QueueSummaryComplete",
        "status": "StatusComplete",
        "dongleshowdevices": "DongleShowDevicesComplete",
        "pjsipshowendpoints": "EndpointListComplete",
        "pjsipshowcontacts": "ContactListComplete",
        "bridgelist": "BridgeListComplete",
        "parkedcalls": "ParkedCallsComplete",
        "agents": "AgentsComplete",
        "confbridgelist": "ConfbridgeListComplete",
        "showdialplan": "ShowDialPlanComplete",
    }
)
"""Action name (lower case) → the event that ends its list."""


def complete_event(action: str, override: str | None = None) -> str | None:
    """The terminator event for `action` (`override` wins), or None: `EventList: Complete`
    alone then ends the list."""
    if override is not None:
        return override
    return COMPLETE_EVENTS.get(action.lower())
