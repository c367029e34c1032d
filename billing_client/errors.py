"""Errors a billing backend raises.

Their text is safe to log: no secrets, and at most 200 characters of a reply body.
"""


class BillingError(Exception):
    """The billing could not answer (unreachable, refused, or answered something unexpected)."""


class BillingUnavailable(BillingError):
    """The billing is down or the circuit breaker is open."""


class UnexpectedReply(BillingError):
    """The billing answered something outside the shapes known for that request."""

    def __init__(self, request: str, body: str) -> None:
        self.request = request
        self.snippet = body[:200]
        super().__init__(f"unexpected reply to {request}: {self.snippet!r}")


class NotSupported(BillingError):
    """The operation exists only on another backend (e.g. editing subscribers in Ubilling)."""
