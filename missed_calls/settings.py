"""`[missed_calls]`: whether calls are recorded (the call log), which count as missed, and
how long to wait before deciding."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

OUTBOUND_CONTEXTS = (
    "pbxbridge-dial",
    "pbxbridge-campaign",
    "pbxbridge-campaign-ivr",
    "pbxbridge-callback",
    "pbxbridge-callback-queue",
    "pbxbridge-callback-connect",
    "pbxbridge-callback-answered",
)
"""dialplan/extensions_pbxbridge.conf's contexts that only pbxbridge's call files enter."""


class MissedCallSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True,
        description=(
            "Record calls from AMI events: the call log and, in it, missed calls (needs "
            "cdr_manager with unanswered = yes and the AMI user's read = call,cdr,agent; "
            "add dialplan for MixMonitor's file names)."
        ),
    )
    inbound_userfield: str = Field(
        default="in",
        max_length=80,
        description=(
            "A call is inbound when one of its CDR rows has this userfield (the dialplan's "
            "Set(CDR(userfield)=in), as Ubilling's TelePony expects) or it waited in a queue."
        ),
    )
    inbound_contexts: list[str] = Field(
        default=[],
        description=(
            "More ways to say inbound: a call with a channel created in, or a CDR row "
            "ending in, one of these dialplan contexts (e.g. your trunk's context)."
        ),
    )
    outbound_contexts: list[str] = Field(
        default=list(OUTBOUND_CONTEXTS),
        description=(
            "Contexts of the calls pbxbridge places itself (campaign and callback call files, "
            "see dialplan/): a call with a channel created in, or a CDR row in, one of these "
            "is never a missed inbound call, even when it waited in a queue (an operator-first "
            "callback no operator took). Add yours when spool.channel, "
            "callback.operator_channel or a campaign's context names other contexts."
        ),
    )
    queues: list[str] = Field(
        default=[],
        description=(
            "Queues whose abandoned callers count; empty means every queue. A call that "
            "waited only in other queues is ignored."
        ),
    )
    require_queue: bool = Field(
        default=False,
        description=(
            "Only calls that waited in a queue count (TelePony's rule: lastapp Queue). Off: an "
            "inbound call nobody answered counts too, queue or not."
        ),
    )
    min_number_digits: int = Field(
        default=7,
        ge=1,
        le=20,
        description=(
            "Caller numbers with fewer digits are internal extensions or anonymous and are ignored."
        ),
    )
    flush_delay: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description=(
            "Seconds after the last channel of a call hangs up before the call is decided: "
            "Asterisk sends some Cdr events after the Hangup. With cdr.conf batch = yes, "
            "Cdr events come up to its `time` later: set this above it."
        ),
    )
    stale_after: float = Field(
        default=7200.0,
        gt=0,
        description=(
            "A call with channels still up but no event for this many seconds is decided "
            "with what is known (its Hangup was lost, e.g. in an AMI reconnect)."
        ),
    )
    recall_window_days: int = Field(
        default=7,
        ge=1,
        le=366,
        description="An answered call to or from the number marks misses this recent as recalled.",
    )
    lookup_timeout: float = Field(
        default=3.0,
        gt=0,
        description=(
            "Seconds to find the subscriber of a missed number; on failure the call is kept "
            "and the subscriber looked up again later."
        ),
    )
    max_tracked_channels: int = Field(
        default=50_000,
        ge=100,
        description="Bound of the uniqueid → linkedid map (oldest forgotten first).",
    )
    max_open_calls: int = Field(
        default=5_000,
        ge=10,
        description="Calls in progress kept in memory; past this the oldest is decided early.",
    )
