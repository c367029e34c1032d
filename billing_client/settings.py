"""`[billing]`: which billing answers, and how pbxbridge talks to it; the embedded billing's
periodic work (fees, autofreeze) and `[billing.reminders]`."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from billing_client.money import parse_amount
from billing_client.reminder_settings import ReminderSettings


class BillingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["local", "ubilling"] = Field(
        default="local",
        description=(
            "local: the embedded billing in pbxbridge's database; ubilling: a Ubilling remoteapi."
        ),
    )
    url: str = Field(
        default="",
        description=(
            "Ubilling base URL, e.g. http://billing.isp/billing/ "
            "(the part before ?module=remoteapi)."
        ),
    )
    key: SecretStr = Field(default=SecretStr(""), description="Ubilling serial (UB + 32 hex).")
    default_region: str = Field(
        default="UA", description="Region for numbers written without a country code."
    )
    use_userbynum: bool = Field(
        default=True,
        description=(
            "Ask Ubilling's userbynum for names (Cyrillic intact; needs USERBYNUM_ENABLED=1). "
            "Off: param=realname (transliterated)."
        ),
    )
    connect_timeout: float = Field(default=1.0, gt=0, description="Seconds to connect to Ubilling.")
    read_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to wait for a Ubilling answer (lookups)."
    )
    money_timeout: float = Field(
        default=60.0,
        gt=0,
        description=(
            "Upper bound for a money move once sent: pbxbridge waits this long for the answer "
            "and never retries it."
        ),
    )
    stale_ttl: float = Field(
        default=900.0,
        ge=0,
        description="Seconds a last-known answer may stand in (marked stale) while Ubilling fails.",
    )
    breaker_failures: int = Field(
        default=3, ge=1, description="Consecutive failures that open the circuit breaker."
    )
    breaker_reset: float = Field(
        default=15.0, gt=0, description="Seconds the breaker stays open before one trial request."
    )
    credit_days: int = Field(
        default=5, ge=1, le=365, description="Days a self-service credit lasts."
    )
    credit_amount: Decimal | None = Field(
        default=None,
        ge=0,
        description="Self-service credit limit; unset means the subscriber's tariff fee.",
    )
    max_payment: Decimal = Field(
        default=Decimal("100000"),
        gt=0,
        description=(
            "Largest amount `pbxbridge payments add` takes (either sign) without --force: "
            "a typo of a few zeros is refused, not booked."
        ),
    )
    verify_money_moves: bool = Field(
        default=True,
        description=(
            "After Ubilling reports success, read the subscriber back and report an error when "
            "nothing changed (Ubilling answers success even when its Stargazer is down)."
        ),
    )

    fee_mode: Literal["daily", "monthly"] = Field(
        default="daily",
        description=(
            "Embedded billing, job charge_fee: daily (the fee / days of the month each day, "
            "rounded to the kopeck, the month's last day taking the remainder so a month sums "
            "to the fee) or monthly (the whole fee on the 1st)."
        ),
    )
    fee_catch_up_days: int = Field(
        default=7,
        ge=0,
        le=31,
        description=(
            "charge_fee after downtime: how many of the days missed since its last finished "
            "day are still charged (each once); older ones are left uncharged and logged. "
            "0: today only."
        ),
    )
    autofreeze_limit: Decimal = Field(
        default=Decimal("0.00"),
        description=(
            "Job autofreeze (Ubilling's AUTOFREEZE_CASH_LIMIT): a subscriber with no credit in "
            "force whose balance is below this is frozen."
        ),
    )
    autofreeze_after_days: int = Field(
        default=0,
        ge=0,
        le=365,
        description=(
            "Days a balance must have stayed below autofreeze_limit (as the job saw it) "
            "before the subscriber is frozen; 0: at the first run that sees it."
        ),
    )
    autofreeze_unfreeze_on_payment: bool = Field(
        default=True,
        description=(
            "Job autofreeze unfreezes the subscribers it froze once their balance is back at "
            "or above autofreeze_limit (any payment path). Those frozen by staff stay frozen."
        ),
    )
    reminders: ReminderSettings = Field(default_factory=ReminderSettings)

    @field_validator("autofreeze_limit")
    @classmethod
    def _money(cls, value: Decimal) -> Decimal:
        return parse_amount(value)

    @model_validator(mode="after")
    def _ubilling_needs_url(self) -> BillingSettings:
        if self.backend == "ubilling" and not self.url:
            raise ValueError("billing.backend = 'ubilling' needs billing.url (and billing.key)")
        return self
