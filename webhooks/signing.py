"""How a delivery is signed, and how a receiver checks it (the README has PHP and Python).

    X-Pbxbridge-Delivery:  the delivery id (a UUID; the same on every retry: deduplicate on it)
    X-Pbxbridge-Event:     the event kind (sms.received …)
    X-Pbxbridge-Timestamp: Unix seconds when this attempt was sent
    X-Pbxbridge-Signature: sha256=<hex HMAC-SHA256 of `timestamp + "." + body` with the secret>

The timestamp is inside the signature, so a captured request cannot be replayed later
with a new one: the receiver refuses a timestamp more than 300 seconds away from its own
clock, and a delivery id it has already seen (the README shows the check in PHP and Python).
"""

from __future__ import annotations

import hashlib
import hmac

DELIVERY_HEADER = "X-Pbxbridge-Delivery"
EVENT_HEADER = "X-Pbxbridge-Event"
TIMESTAMP_HEADER = "X-Pbxbridge-Timestamp"
SIGNATURE_HEADER = "X-Pbxbridge-Signature"
PREFIX = "sha256="


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of `"<timestamp>." + body`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return PREFIX + mac.hexdigest()


def headers(
    secret: str, *, delivery_id: str, kind: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "pbxbridge-webhooks",
        DELIVERY_HEADER: delivery_id,
        EVENT_HEADER: kind,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
