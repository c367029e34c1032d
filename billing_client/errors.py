"""Every error the billing client raises, as one tree (httpx's `_exceptions.py` is the model):

    PbxbridgeError                        (primitives.errors)
    └── BillingError                      the billing could not do what was asked
        ├── BillingUnavailable            the billing is down or the breaker is open
        │   ├── RequestNotSent            Ubilling: the request certainly did not reach it
        │   └── FateUnknown               Ubilling: it may have arrived; no usable answer
        ├── UnexpectedReply               an answer outside the shapes known for the request
        │   └── UbillingRefused           Ubilling's envelope refused before running it
        ├── PhpSerializeError             a PHP serialize() value this reader refuses
        ├── NotSupported                  the operation exists only on another backend
        ├── MoneyError                    not an amount with at most two decimals
        └── AdminError                    a refused admin request (embedded billing)
            ├── FieldProblem              a value the embedded billing cannot store
            └── ImportStopped             the database failed part-way through an import

A caller catches `BillingError` (or one branch), never a tuple. `MoneyError`,
`FieldProblem` and `PhpSerializeError` are `ValueError`s too: they are raised where a value
is parsed (a pydantic or click validator turns a `ValueError` into its own message).

Their text is safe to log and to show as is: one line, no secret, and at most 200
characters of a reply body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from primitives.errors import PbxbridgeError

if TYPE_CHECKING:
    from billing_client.local.importer import ImportReport


class BillingError(PbxbridgeError):
    """The billing could not answer (unreachable, refused, or answered something unexpected)."""


class BillingUnavailable(BillingError):
    """The billing is down or the circuit breaker is open."""


class RequestNotSent(BillingUnavailable):
    """The request certainly did not reach Ubilling (breaker open, no connection)."""


class FateUnknown(BillingUnavailable):
    """The request may have reached Ubilling, but no usable answer came back."""


class UnexpectedReply(BillingError):
    """The billing answered something outside the shapes known for that request."""

    def __init__(self, request: str, body: str) -> None:
        self.request = request
        self.snippet = body[:200]
        super().__init__(f"unexpected reply to {request}: {self.snippet!r}")


class UbillingRefused(UnexpectedReply):
    """Ubilling answered before running the request: a known envelope error or a fallback page.

    Nothing was changed by a request answered this way.
    """

    def __init__(self, request: str, body: str, message: str) -> None:
        super().__init__(request, body)
        self.args = (f"{request}: {message}",)


class PhpSerializeError(BillingError, ValueError):
    """The text is not a PHP serialize() value this reader accepts."""


class NotSupported(BillingError):
    """The operation exists only on another backend (e.g. editing subscribers in Ubilling)."""


class MoneyError(BillingError, ValueError):
    """An amount that is not a number with at most two decimals."""


class AdminError(BillingError):
    """A refused admin request; the message is one line, fit to show the operator as is."""


class FieldProblem(AdminError, ValueError):
    """A value that cannot be stored; the message is the one-line reason."""


class ImportStopped(AdminError):
    """The database failed part-way; `report` tells what landed before that."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report
