"""What the webhooks room raises. Messages are one line and never carry a secret.

    PbxbridgeError
    └── WebhookError          a webhook could not be configured, found or emitted to
        ├── UnknownEvent      `emit` was given a kind that is not in webhooks.events.KINDS
        └── UnknownWebhook    `pbxbridge webhooks test NAME` names no [[webhooks]] entry

Deliveries that fail are no exception: they are retried or given up, recorded on their
outbox row, told in the log and (given up) to staff.
"""

from __future__ import annotations

from primitives.errors import PbxbridgeError


class WebhookError(PbxbridgeError):
    """A webhook could not be configured, found or emitted to."""


class UnknownEvent(WebhookError, ValueError):
    """An event kind no webhook can ask for."""


class UnknownWebhook(WebhookError):
    """No [[webhooks]] entry has that name."""
