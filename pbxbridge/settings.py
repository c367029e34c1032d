"""All settings: a TOML file overridden by PBXBRIDGE_<SECTION>__<KEY> environment variables.

Each component owns its settings class; this module only composes them. The config file
is the first of: `--config FILE`, $PBXBRIDGE_CONFIG, ./pbxbridge.toml in the working
directory (the one `make run` creates), /etc/pbxbridge/pbxbridge.toml; with none of them
the defaults apply. The first two must exist; the last two are used when they exist.
Relative paths resolve against the config file's folder (the working directory when there
is no file), so the service, the CLI and a classic AGI script started by Asterisk from its
own folder all open the same database, and a second terminal in the project folder sees
what `make run` sees.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from agi.settings import AgiSettings
from ami_listener.settings import AmiSettings
from billing_client.settings import BillingSettings
from callfile_spooler.settings import CallbackSettings, SpoolSettings
from missed_calls.settings import MissedCallSettings
from notify.settings import TelegramSettings
from sms.settings import SmsSettings
from storage import DatabaseSettings

SYSTEM_CONFIG = Path("/etc/pbxbridge/pbxbridge.toml")
LOCAL_CONFIG = Path("pbxbridge.toml")
CONFIG_CANDIDATES: tuple[Path, ...] = (LOCAL_CONFIG, SYSTEM_CONFIG)
"""Config files looked for, in order, when neither --config nor $PBXBRIDGE_CONFIG names
one; a relative one is taken from the working directory at the time of the look-up."""


class SettingsError(Exception):
    """The configuration cannot be used; the message says what to fix, one line per problem."""


class LoggingSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = Field(
        default="text", description="text for people, json for log collectors (one object a line)."
    )

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PBXBRIDGE_",
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
    )

    timezone: str = Field(
        default="Europe/Kyiv",
        description="Timezone of every date: credit expiry, calendar months, 'today'.",
    )
    database: DatabaseSettings = DatabaseSettings()
    billing: BillingSettings = BillingSettings()
    agi: AgiSettings = AgiSettings()
    ami: AmiSettings = AmiSettings()
    sms: SmsSettings = SmsSettings()
    missed_calls: MissedCallSettings = MissedCallSettings()
    telegram: TelegramSettings = TelegramSettings()
    spool: SpoolSettings = SpoolSettings()
    callback: CallbackSettings = CallbackSettings()
    logging: LoggingSettings = LoggingSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r} (e.g. Europe/Kyiv)") from exc
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init kwargs; environment variables win over it.
        return env_settings, init_settings

    @model_validator(mode="after")
    def _pin_needs_local_billing(self) -> Settings:
        if self.agi.require_pin and self.billing.backend != "local":
            raise ValueError(
                "agi.require_pin needs billing.backend = 'local': PINs live in the embedded "
                "billing (Ubilling's remoteapi keeps none)"
            )
        return self

    def secrets(self) -> list[str]:
        """Every secret value in the settings, for the log redactor."""
        values = (
            self.billing.key.get_secret_value(),
            self.ami.secret.get_secret_value(),
            self.telegram.token.get_secret_value(),
        )
        return [s for s in values if s]


def config_path(
    explicit: Path | None,
    environ: Mapping[str, str] = os.environ,
    candidates: Sequence[Path] | None = None,
) -> Path | None:
    """The config file to read, absolute; None when there is none (defaults and environment).

    `explicit` (--config) and $PBXBRIDGE_CONFIG must name an existing file; otherwise the
    first existing file of `candidates` (default CONFIG_CANDIDATES) is used.
    """
    named = explicit
    if named is None and environ.get("PBXBRIDGE_CONFIG"):
        named = Path(environ["PBXBRIDGE_CONFIG"])
    if named is not None:
        if not named.is_file():
            raise SettingsError(f"config file not found: {named}")
        return named.resolve()
    for candidate in CONFIG_CANDIDATES if candidates is None else candidates:
        if candidate.is_file():
            return candidate.resolve()
    return None


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"{where}: {item['msg']}")
    return "\n".join(lines)


def load_settings(explicit: Path | None = None) -> tuple[Settings, Path | None]:
    """Settings and the config file they came from (None: defaults and environment only)."""
    path = config_path(explicit)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{path}: {exc}") from exc
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        origin = str(path) if path else "environment"
        raise SettingsError(f"invalid configuration ({origin}):\n{_describe(exc)}") from None
    base = path.parent if path is not None else Path.cwd()
    resolved = {
        "database": settings.database.resolved(base),
        "spool": settings.spool.resolved(base),
    }
    return settings.model_copy(update=resolved), path
