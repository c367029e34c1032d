"""`[[webhooks]]` entries (where to POST which events, signed with which secret) and
`[webhook_delivery]` (how long and how hard to try).

An entry without a secret, with an unknown event kind, a URL that is not http(s), or a
name used twice is refused when the configuration is loaded, with one line naming it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator
from yarl import URL

from webhooks.events import KINDS

NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
MIN_SECRET = 16
"""Characters a secret needs at least: it is all that stands between the receiver and
anyone who can reach it."""
MAX_URL = 2000


class WebhookSettings(BaseModel):
    """One `[[webhooks]]` entry."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Its name in the CLI, the log and the metrics.")
    url: str = Field(
        description=(
            "Where the POST goes (http or https). user:password@ in it is sent as HTTP "
            "Basic auth and never shown."
        )
    )
    events: list[str] = Field(
        min_length=1,
        description=f"Event kinds to send: {', '.join(KINDS)}.",
    )
    secret: SecretStr = Field(
        default=SecretStr(""),
        validate_default=True,
        description=(
            f"The HMAC-SHA256 key the receiver checks the signature with (at least "
            f"{MIN_SECRET} characters; never logged)."
        ),
    )
    timeout: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="Seconds one delivery may take (connect, send, answer).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if NAME.fullmatch(value) is None:
            raise ValueError(f"webhook name {value!r}: lower-case letters, digits, _ . - (1-64)")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        text = value.strip()
        try:
            url = URL(text)
        except ValueError:
            url = URL()
        if len(text) > MAX_URL or url.scheme not in ("http", "https") or not url.host:
            raise ValueError("a webhook url is an http:// or https:// address with a host")
        return text

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str], info: ValidationInfo) -> list[str]:
        unknown = [kind for kind in value if kind not in KINDS]
        if unknown:
            raise ValueError(
                f"{_entry(info)}unknown event kind(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(KINDS)}"
            )
        return list(dict.fromkeys(value))

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET:
            raise ValueError(
                f"{_entry(info)}a webhook needs a secret of at least {MIN_SECRET} characters "
                "(the receiver checks the signature with it); e.g. `openssl rand -hex 32`"
            )
        return value

    @property
    def shown_url(self) -> str:
        """The URL without its user, password, query or fragment: what the CLI and the
        log show."""
        url = URL(self.url)
        return str(url.with_user(None).with_password(None).with_query(None).with_fragment(None))

    def secrets(self) -> list[str]:
        """The secret and the URL's password, for the log redactor."""
        password = URL(self.url).password or ""
        return [s for s in (self.secret.get_secret_value(), password) if s]


def _entry(info: ValidationInfo) -> str:
    """`webhook 'billing': ` when the entry's name is known (it is read first)."""
    name = info.data.get("name")
    return f"webhook {name!r}: " if isinstance(name, str) else ""


def check_entries(entries: Sequence[WebhookSettings]) -> list[str]:
    """What is wrong with the entries together (each alone is checked as it loads)."""
    return [
        f"webhooks: {name!r} is listed {times} times; one entry per webhook"
        for name, times in Counter(e.name for e in entries).items()
        if times > 1
    ]


class DeliverySettings(BaseModel):
    """`[webhook_delivery]`: retries, how long to keep trying, how much to hold."""

    model_config = ConfigDict(extra="forbid")

    retry_initial: float = Field(
        default=10.0, gt=0, le=3600, description="Seconds before the first retry (doubling)."
    )
    retry_max: float = Field(
        default=600.0, gt=0, le=86_400, description="The longest wait between two tries."
    )
    max_age: float = Field(
        default=86_400.0,
        ge=60,
        le=30 * 86_400,
        description=(
            "Seconds after the event a delivery that still fails is given up (recorded "
            "with why, and staff alerted)."
        ),
    )
    max_pending: int = Field(
        default=10_000,
        ge=10,
        le=1_000_000,
        description=(
            "Undelivered events one webhook may hold; past it new events for that webhook "
            "are refused (logged once a minute), the ones held are kept."
        ),
    )
    keep_days: int = Field(
        default=30,
        ge=0,
        le=3650,
        description="Days delivered and given-up rows are kept for `webhooks list`; 0: forever.",
    )
    concurrency: int = Field(
        default=4, ge=1, le=64, description="Deliveries under way at once (different queues)."
    )
