"""The billing client's migrations build exactly the tables its models describe."""

from __future__ import annotations

from billing_client.models import (
    AuditEntry,
    AutofreezeWatch,
    FeeCharge,
    FeeDay,
    LookupStamp,
    Paycard,
    ReminderSent,
    Subscriber,
    SubscriberPhone,
)
from tests.conftest import Database
from tests.schema import schema_drift


async def test_migrations_match_models(database: Database) -> None:
    models = (Subscriber, SubscriberPhone, Paycard, AuditEntry, LookupStamp)
    periodic = (FeeCharge, FeeDay, AutofreezeWatch, ReminderSent)
    assert await schema_drift(database, *models, *periodic) == []
