"""`[askozia]`: the Askozia PBX face old Ubilling (before 1.5.9) polls with HTTP Basic auth."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class AskoziaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(
        default="admin",
        description=(
            "Basic-auth user Ubilling sends (its ASKOZIAPBX_LOGIN; Ubilling's default is admin)."
        ),
    )
    password: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "Basic-auth password (Ubilling's ASKOZIAPBX_PASSWORD); empty: the Askozia face "
            "(POST /status_cdr.php, GET /external_get_info.php) is off (404)."
        ),
    )
    status_timeout: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description=(
            "Seconds /external_get_info.php waits for Asterisk (AMI) before answering what it "
            "has; a figure AMI did not give in time is left empty."
        ),
    )
    max_days: int = Field(
        default=92,
        ge=1,
        le=3660,
        description="Longest period_from..period_to one /status_cdr.php request may ask for.",
    )

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        # RFC 7617: the user-id of Basic auth cannot hold a colon.
        if not value or ":" in value or any(not c.isprintable() for c in value):
            raise ValueError("a Basic-auth user name: printable, no colon, not empty")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.password.get_secret_value())
