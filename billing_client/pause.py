"""A subscriber pausing (freezing) or resuming their own service, and their equipment's state.

Ubilling calls the pause `setpause`/`setunpause` (its `Passive` flag); the embedded billing
calls the same flag `frozen`. Both backends answer with the outcomes below, which the IVR
sets as `PAUSE_RESULT`/`PAUSE_REASON` and `EQUIPMENT_STATUS`/`EQUIPMENT_REASON`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum


class PauseResult(StrEnum):
    OK = "OK"
    DENIED = "DENIED"
    NOTFOUND = "NOTFOUND"
    ERROR = "ERROR"


class PauseReason(StrEnum):
    ALREADY_PAUSED = "ALREADY_PAUSED"
    NOT_PAUSED = "NOT_PAUSED"
    NO_FREEZE_DAYS = "NO_FREEZE_DAYS"
    """Ubilling's FREEZE_DAYS_CHARGE_ENABLED: the subscriber used up their freeze days."""
    AMBIGUOUS_NUMBER = "AMBIGUOUS_NUMBER"


@dataclass(frozen=True, slots=True)
class PauseOutcome:
    result: PauseResult
    reason: PauseReason | None = None
    login: str | None = None
    error: str | None = None


class EquipmentStatus(StrEnum):
    OK = "OK"
    DOWN = "DOWN"
    UNKNOWN = "UNKNOWN"


class EquipmentReason(StrEnum):
    """Why the status is UNKNOWN (never set with OK or DOWN)."""

    NO_SWITCH = "NO_SWITCH"
    """The subscriber has no switch port assigned (Ubilling: USER NOT HAVE SWITCH)."""
    NOTFOUND = "NOTFOUND"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    """The billing keeps no equipment data (the embedded billing)."""
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class EquipmentCheck:
    status: EquipmentStatus
    reason: EquipmentReason | None = None
    error: str | None = None


FlagsChanged = Callable[[str, bool], Awaitable[None]]
"""`on_flags(login, blocked)`: a subscriber of the embedded billing was just frozen,
disabled or given back service; `blocked` is whether they are now frozen or disabled.

Called after the change is committed, by whoever made it (LocalAdmin, the IVR's pause).
The root wires it to what follows the subscriber (voice lines); it must not raise.
"""
