"""missed_calls: missed inbound calls from AMI events, their recalls, and daily statistics.

The root builds one `MissedCallTracker` and adds it to the AMI client as a consumer (its
`ami_events` are `EVENTS`, its handler `on_ami_event`): it records every complete call in
the call log (call_log/) and decides which are missed; a missed call is a row of the log
with `missed` true, not a second store. The bot and the CLI read through `list()` and
`stats()`. Detection rules and the
moment a call counts as complete are described in `missed_calls.calls`.
"""

from call_log.events import EVENTS
from missed_calls.migrations import VERSIONS
from missed_calls.records import DailyStats, MissedCall
from missed_calls.settings import MissedCallSettings
from missed_calls.tracker import MissedCallTracker, OnAnsweredCall, OnMissed

__all__ = [
    "EVENTS",
    "VERSIONS",
    "DailyStats",
    "MissedCall",
    "MissedCallSettings",
    "MissedCallTracker",
    "OnAnsweredCall",
    "OnMissed",
]
