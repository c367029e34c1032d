"""`[telegram]`: the staff notifier and the staff bot."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# What @BotFather hands out: the bot's numeric id, a colon, then the secret part.
_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")


class TelegramSettings(BaseModel):
    # hide_input_in_errors: a validation error must not print the token back.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    enabled: bool = Field(
        default=False,
        description="Send staff notifications and answer staff commands (needs a token too).",
    )
    token: SecretStr = Field(
        default=SecretStr(""),
        description="Bot token from @BotFather (123456789:AA…). Empty: Telegram stays off.",
    )
    staff_chats: list[int] = Field(
        default=[],
        description=(
            "Chat ids that get notifications and may use the bot's commands (private chats "
            "are positive, groups negative). Everyone else is ignored without an answer."
        ),
    )
    api_server: str = Field(
        default="https://api.telegram.org",
        description="Bot API base URL: api.telegram.org or a local telegram-bot-api server.",
    )
    batch_window: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Seconds a flood of notices (more than the rate allows) is gathered before "
            "one summary message per chat goes out instead."
        ),
    )
    max_messages_per_minute: int = Field(
        default=20,
        ge=1,
        le=60,
        description="Most messages sent to one chat in any 60 s (Telegram allows ~20 to groups).",
    )
    poll_timeout: int = Field(
        default=25, ge=1, le=50, description="Long-polling wait (seconds) for staff commands."
    )

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        # The message never repeats the value: a token that is almost right is still a secret.
        token = value.get_secret_value().strip()
        if token and not _TOKEN.fullmatch(token):
            raise ValueError("must look like 123456789:AAE… (the token @BotFather gave)")
        return SecretStr(token)

    @field_validator("api_server")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @property
    def active(self) -> bool:
        """Enabled and given a token: an empty token means off whatever `enabled` says."""
        return self.enabled and bool(self.token.get_secret_value())
