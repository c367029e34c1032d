"""`[billing]`: which billing answers, and how pbxbridge talks to it."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


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

    @model_validator(mode="after")
    def _ubilling_needs_url(self) -> BillingSettings:
        if self.backend == "ubilling" and not self.url:
            raise ValueError("billing.backend = 'ubilling' needs billing.url (and billing.key)")
        return self
