"""The `ubilling` backend: pbxbridge over a Ubilling remoteapi (see docs/ubilling.md)."""

from billing_client.ubilling.backend import UbillingBackend
from billing_client.ubilling.http import redact

__all__ = ["UbillingBackend", "redact"]
