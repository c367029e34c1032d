"""All settings: a TOML file overridden by PBXBRIDGE_<SECTION>__<KEY> environment variables.

Each component owns its settings class; this module only composes them. The config file
is the first of: `--config FILE`, $PBXBRIDGE_CONFIG, ./pbxbridge.toml in the working
directory (the one `make run` creates), /etc/pbxbridge/pbxbridge.toml; with none of them
the defaults apply. The first two must exist; the last two are used when they exist.
Relative paths resolve against the config file's folder (the working directory when there
is no file), so the service, the CLI and a classic AGI script started by Asterisk from its
own folder all open the same database, and a second terminal in the project folder sees
what `make run` sees.

Every section refuses keys it does not know, in the file and in the environment: a typo
is an error naming the key (or the variable), never a silently ignored setting. The one
exception is a variable naming a whole section this version does not have (set for a newer
version, say): that is a warning, so an upgrade or downgrade does not stop the service.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from agi.settings import AgiSettings
from ami_listener.settings import AmiSettings
from askozia_api.settings import AskoziaSettings
from billing_client.settings import BillingSettings
from callfile_spooler.settings import CallbackSettings, SpoolSettings
from jobs.settings import JobSettings, SchedulerSettings
from jobs.table import check_entries
from lines.settings import LinesSettings
from missed_calls.settings import MissedCallSettings
from notify.settings import TelegramSettings
from primitives.errors import PbxbridgeError
from sms.settings import SmsSettings
from storage import DatabaseSettings
from storage.retention import RetentionSettings
from telepony.settings import TeleponySettings
from web.settings import HttpSettings
from webhooks.settings import DeliverySettings, WebhookSettings
from webhooks.settings import check_entries as check_webhooks

SYSTEM_CONFIG = Path("/etc/pbxbridge/pbxbridge.toml")
LOCAL_CONFIG = Path("pbxbridge.toml")
CONFIG_CANDIDATES: tuple[Path, ...] = (LOCAL_CONFIG, SYSTEM_CONFIG)
"""Config files looked for, in order, when neither --config nor $PBXBRIDGE_CONFIG names
one; a relative one is taken from the working directory at the time of the look-up."""

ENV_PREFIX = "PBXBRIDGE_"
CONFIG_VARIABLE = "PBXBRIDGE_CONFIG"
TEST_PREFIX = "PBXBRIDGE_TEST_"
"""PBXBRIDGE_CONFIG (the config file's path) and the test suite's own variables
(PBXBRIDGE_TEST_PG_URL …) carry the prefix but are not settings."""


class SettingsError(PbxbridgeError):
    """The configuration cannot be used; the message says what to fix, one line per problem."""


class LoggingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = Field(
        default="text", description="text for people, json for log collectors (one object a line)."
    )
    flush_interval: float = Field(
        default=0.2,
        ge=0,
        le=5,
        description=(
            "pbxbridge run: seconds INFO lines may wait to be written together (WARNING and"
            " worse, and exit, write at once); a process killed outright loses at most this"
            " much. 0: every line at once."
        ),
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
    http: HttpSettings = HttpSettings()
    retention: RetentionSettings = RetentionSettings()
    lines: LinesSettings = LinesSettings()
    askozia: AskoziaSettings = AskoziaSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    telepony: TeleponySettings = TeleponySettings()
    jobs: list[JobSettings] = Field(
        default_factory=list,
        description="[[jobs]] entries: default jobs changed or turned off, new ones added.",
    )
    webhooks: list[WebhookSettings] = Field(
        default_factory=list,
        description="[[webhooks]] entries: signed JSON POSTs of events to the ISP's servers.",
    )
    webhook_delivery: DeliverySettings = DeliverySettings()
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

    @model_validator(mode="after")
    def _jobs_fit_the_backend(self) -> Settings:
        problems = check_entries(self.jobs, self.billing.backend)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _webhooks_named_once(self) -> Settings:
        problems = check_webhooks(self.webhooks)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def secrets(self) -> list[str]:
        """Every secret value in the settings, for the log redactor."""
        values = (
            self.billing.key.get_secret_value(),
            self.ami.secret.get_secret_value(),
            self.telegram.token.get_secret_value(),
            self.http.remoteapi_key.get_secret_value(),
            self.askozia.password.get_secret_value(),
            self.telepony.password(),
        )
        hooks = [secret for hook in self.webhooks for secret in hook.secrets()]
        return [s for s in (*values, *hooks) if s]


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
    if named is None and environ.get(CONFIG_VARIABLE):
        named = Path(environ[CONFIG_VARIABLE])
    if named is not None:
        if not named.is_file():
            raise SettingsError(f"config file not found: {named}")
        return named.resolve()
    for candidate in CONFIG_CANDIDATES if candidates is None else candidates:
        if candidate.is_file():
            return candidate.resolve()
    return None


@dataclass(frozen=True)
class _Variable:
    """A PBXBRIDGE_* environment variable meant as a setting: its name as set, and the
    path it names (PBXBRIDGE_SMS__AUTO_REPLY__ENABLED: sms, auto_reply, enabled)."""

    name: str
    path: tuple[str, ...]


def _setting_variables(environ: Mapping[str, str]) -> list[_Variable]:
    found = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper == CONFIG_VARIABLE:
            continue
        if upper.startswith(TEST_PREFIX):
            continue
        # Case-insensitive, as Settings reads them (case_sensitive=False).
        found.append(_Variable(name, tuple(name[len(ENV_PREFIX) :].lower().split("__"))))
    return found


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The settings class a field holds (a section), or None for a plain value."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _owner(path: tuple[str, ...]) -> str:
    return ".".join(path) if path else "the top level"


@dataclass(frozen=True)
class _Verdict:
    error: str | None = None
    warning: str | None = None
    explains: tuple[str, ...] | None = None
    """The place of the validation error this error already explains, if any."""


def _check_variable(variable: _Variable) -> _Verdict:
    """Walk the settings classes along the variable's path.

    pydantic-settings drops a variable that names no top-level field without a word (so a
    typo at the top level, PBXBRIDGE_TIMEZONEE, would pass), so the walk is ours.
    """
    model: type[BaseModel] = Settings
    for depth, part in enumerate(variable.path):
        field = model.model_fields.get(part)
        if field is None:
            if depth == 0 and len(variable.path) > 1:
                return _Verdict(
                    warning=f"{variable.name}: this version of pbxbridge has no [{part}] "
                    "section; the variable is ignored"
                )
            owner = _owner(variable.path[:depth])
            return _Verdict(
                error=f"{variable.name}: unknown setting ({owner} has no key {part!r})",
                explains=variable.path,
            )
        section = _section_model(field.annotation)
        if section is None:
            if depth < len(variable.path) - 1:
                where = variable.path[: depth + 1]
                return _Verdict(
                    error=f"{variable.name}: unknown setting ({'.'.join(where)} is a value, "
                    "not a section)",
                    explains=where,
                )
            return _Verdict()
        model = section
    return _Verdict()


def ignored_variables(environ: Mapping[str, str] = os.environ) -> list[str]:
    """One warning per PBXBRIDGE_* variable that names a section this version does not
    have (PBXBRIDGE_FAXES__URL before there is a [faxes]): ignored, not refused, so the
    environment of a newer (or older) version does not stop this one. The caller logs them
    once, after logging is configured."""
    return [w for v in _setting_variables(environ) if (w := _check_variable(v).warning) is not None]


def _describe(
    error: ValidationError, variables: list[_Variable], explained: set[tuple[str, ...]]
) -> list[str]:
    """One line per problem; a problem that came from an environment variable names it.

    `explained`: places whose problem the variable check already reported (pydantic-settings
    passes an unknown key inside a known section through, and the section's extra="forbid"
    refuses it again).
    """
    lines = []
    for item in error.errors():
        loc = tuple(str(p) for p in item["loc"])
        lowered = tuple(p.lower() for p in loc)
        if lowered in explained:
            continue
        if item["type"] == "extra_forbidden":
            message = f"unknown setting ({_owner(loc[:-1])} has no key {loc[-1]!r})"
        else:
            message = item["msg"]
        where = ".".join(loc) or "(top level)"
        # Environment variables win over the file, so a variable at (or above) the place
        # of the problem is where the value came from.
        source = [v for v in variables if v.path == lowered[: len(v.path)]]
        inside = [v for v in variables if loc and v.path[: len(lowered)] == lowered]
        if source:
            lines.append(f"{source[-1].name}: {where}: {message}")
        elif inside:
            names = ", ".join(v.name for v in inside)
            lines.append(f"{where}: {message} (set in the environment: {names})")
        else:
            lines.append(f"{where}: {message}")
    return lines


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
    variables = _setting_variables(os.environ)
    problems = []
    explained: set[tuple[str, ...]] = set()
    used = []  # the variables Settings reads, which a validation error may come from
    for variable in variables:
        verdict = _check_variable(variable)
        if verdict.error is not None:
            problems.append(verdict.error)
        if verdict.explains is not None:
            explained.add(verdict.explains)
        if verdict == _Verdict():
            used.append(variable)
    settings: Settings | None = None
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        problems += _describe(exc, used, explained)
    if problems or settings is None:
        origin = str(path) if path else "environment"
        raise SettingsError(f"invalid configuration ({origin}):\n" + "\n".join(problems))
    base = path.parent if path is not None else Path.cwd()
    resolved = {
        "database": settings.database.resolved(base),
        "spool": settings.spool.resolved(base),
        "lines": settings.lines.resolved(base),
    }
    return settings.model_copy(update=resolved), path
