"""The embedded billing: subscribers, paycards and payments in pbxbridge's own database."""

from billing_client.local.backend import LocalBackend

__all__ = ["LocalBackend"]
