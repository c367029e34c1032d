"""Freezing and disabling a subscriber of the embedded billing: one rule for the CLI and the IVR.

A flag change is a row change plus an audit journal entry in the same transaction (kind
`freeze`/`unfreeze`/`disable`/`enable`, field `frozen`/`disabled`, amount 0), whoever asks:
staff at the CLI (`subscribers freeze`) or the subscriber on the phone (the `pause` route).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from billing_client.audit import AuditJournal
from billing_client.models import AuditEntry, Subscriber
from billing_client.outcomes import MoneySource
from primitives.clock import Clock

Flag = Literal["frozen", "disabled"]

KINDS: dict[tuple[Flag, bool], str] = {
    ("frozen", True): "freeze",
    ("frozen", False): "unfreeze",
    ("disabled", True): "disable",
    ("disabled", False): "enable",
}


def _word(value: bool) -> str:
    return "yes" if value else "no"


def set_flag(
    row: Subscriber,
    flag: Flag,
    value: bool,
    *,
    audit: AuditJournal,
    clock: Clock,
    source: MoneySource,
    why: str,
) -> AuditEntry | None:
    """Change `row`'s flag (the caller holds its row lock) and return the journal entry to
    add in the same transaction; None when the flag already had that value."""
    before = bool(getattr(row, flag))
    if before == value:
        return None
    setattr(row, flag, value)
    row.updated_at = clock.now()
    return audit.entry(
        login=row.login,
        kind=KINDS[(flag, value)],
        field=flag,
        amount=Decimal(0),
        source=source,
        outcome="ok",
        detail=f"{why}: {flag} {_word(before)} -> {_word(value)}",
    )


def blocked(row: Subscriber) -> bool:
    """Whether the subscriber has no service: frozen or disabled (status 3)."""
    return bool(row.frozen or row.disabled)
