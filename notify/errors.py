"""The errors of the Telegram room, as one tree (httpx's `_exceptions.py` is the model):

    PbxbridgeError        (primitives.errors)
    └── NotifyError       anything the notifier or the staff bot refuses

Nothing raises it yet, on purpose: a notice that cannot be sent is retried, summarised or
dropped and logged inside the notifier (`notifier.Outcome`), never raised to the part that
asked for it, so a Telegram outage cannot stop a call or an SMS. The base is here so that
what the room refuses later (e.g. a bad staff-bot command) joins the tree, not a new root.
"""

from __future__ import annotations

from primitives.errors import PbxbridgeError


class NotifyError(PbxbridgeError):
    """Base of every error of the Telegram room."""
