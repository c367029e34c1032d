"""Every error the SMS room raises, as one tree (httpx's `_exceptions.py` is the model):

    PbxbridgeError          (primitives.errors)
    └── SmsError            anything the SMS room refused or could not read
        ├── SmsRefused      a message that cannot be queued (number, text, device, actor…)
        └── PduError        a PDU that is not an SMS-DELIVER this reader can decode

A caller (the CLI, the staff bot, the inbox's auto-reply) catches `SmsError` or one branch,
never a tuple. Both are `ValueError`s too, as they were: they refuse a value. A message that
was queued and then failed is no exception: its state says so (`failed`, `unknown`).
"""

from __future__ import annotations

from primitives.errors import PbxbridgeError


class SmsError(PbxbridgeError):
    """Base of every SMS error."""


class SmsRefused(SmsError, ValueError):
    """A message that cannot be queued; the text says why, fit to show as is."""


class PduError(SmsError, ValueError):
    """Not a PDU this module can read."""
