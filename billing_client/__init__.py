"""The billing client: subscriber model and rules, and the billing backends."""

from billing_client.client import BillingClient
from billing_client.outcomes import (
    BillingResult,
    CreditOutcome,
    CreditReason,
    CreditResult,
    Lookup,
    MoneySource,
    PaycardOutcome,
    PaycardResult,
)
from billing_client.settings import BillingSettings
from billing_client.subscriber import Status, SubscriberInfo

__all__ = [
    "BillingClient",
    "BillingResult",
    "BillingSettings",
    "CreditOutcome",
    "CreditReason",
    "CreditResult",
    "Lookup",
    "MoneySource",
    "PaycardOutcome",
    "PaycardResult",
    "Status",
    "SubscriberInfo",
]
