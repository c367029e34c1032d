"""The errors of the Ubilling and Askozia faces, as one tree (httpx's `_exceptions.py` is
the model):

    PbxbridgeError              (primitives.errors)
    └── AskoziaApiError         anything a face could not answer
        └── BillingUnavailable  the billing did not answer: HTTP 503, never "not our user"

A face answers its peer in the peer's words; these never leave it as an exception. The
remoteapi face turns BillingUnavailable into `ERROR: BILLING UNAVAILABLE` with status 503,
so that a script cannot read a failing billing as "nobody has that number".
"""

from __future__ import annotations

from primitives.errors import PbxbridgeError


class AskoziaApiError(PbxbridgeError):
    """Base of every error of the faces."""


class BillingUnavailable(AskoziaApiError):
    """The billing did not answer: HTTP 503, never a made-up "not our user"."""
