"""Subscriber PINs: 4 to 8 digits, stored only as an argon2id hash.

A PIN has at most 10**8 values, so a stolen hash falls to an offline search whatever the
hashing cost; the hash keeps PINs out of sight of people who can read the database, and
the real protection is a limit on attempts where PINs are typed (the IVR). Hashing costs
about 0.1 s of CPU: async callers run `hash_pin` and `verify_pin` in a thread.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error, InvalidHashError

_PIN = re.compile(r"[0-9]{4,8}")


def valid_pin(pin: object) -> bool:
    """4 to 8 ASCII digits, nothing else (no spaces, no other scripts' digits)."""
    return isinstance(pin, str) and _PIN.fullmatch(pin) is not None


def hash_pin(pin: str) -> str:
    """The argon2id hash to store; ValueError when `pin` is not a valid PIN."""
    if not valid_pin(pin):
        raise ValueError("a PIN is 4 to 8 digits")
    return PasswordHasher().hash(pin)


def verify_pin(stored_hash: str, pin: str) -> bool:
    """Whether `pin` matches `stored_hash`; False (never an exception) on any mismatch,
    a malformed or empty hash, or a malformed PIN."""
    if not valid_pin(pin) or not isinstance(stored_hash, str) or not stored_hash:
        return False
    try:
        return PasswordHasher().verify(stored_hash, pin)
    except (Argon2Error, InvalidHashError):
        return False
