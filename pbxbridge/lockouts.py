"""Lifting IVR lockouts by hand: what `pbxbridge lockouts` and the staff bot's /unlock share.

Staff type what they have in front of them, a phone number in any spelling or a billing
login. The phone normaliser decides whether it is a number (a login can be all digits,
so the text is also tried as a login); the guard lifts what it finds and audits it.
"""

from __future__ import annotations

from agi.lockout import Cleared, LockoutGuard
from billing_client.outcomes import MoneySource
from primitives.phones import PhoneNormaliser

LOGIN_MAX = 64


async def lift(
    guard: LockoutGuard, phones: PhoneNormaliser, target: str, source: MoneySource
) -> Cleared:
    """Clear the lock and failures of `target` (a number or a login) and of its partner."""
    text = target.strip()
    if not text or len(text) > LOGIN_MAX or any(c.isspace() for c in text):
        raise ValueError(f"not a number or a login: {target!r}")
    return await guard.clear(phones.normalise(text), text, source=source)
