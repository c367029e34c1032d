"""`[spool]`: where call files go, how numbers are dialled, and the retry policy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callfile_spooler import escape

DIAL_FIELDS = ("e164", "national", "national_significant", "country_code")
"""Placeholders of `dial_format`: for +380501234567 they are 380501234567, 0501234567,
501234567 and 380."""

_SAMPLE: Mapping[str, str] = MappingProxyType(
    {
        "e164": "380501234567",
        "national": "0501234567",
        "national_significant": "501234567",
        "country_code": "380",
    }
)


class RetryDelays(BaseModel):
    """Seconds before the next attempt after each outcome (`[spool.retry_delays]`)."""

    model_config = ConfigDict(extra="forbid")

    busy: float = Field(default=600, ge=0, description="After busy (REASON 5): 10 minutes.")
    noanswer: float = Field(
        default=3600, ge=0, description="After no answer (REASON 3, or 1: hung up while ringing)."
    )
    congestion: float = Field(
        default=300, ge=0, description="After congestion (REASON 8): the trunk was full."
    )
    failed: float = Field(
        default=900, ge=0, description="After a failure (REASON 0: channel could not be made)."
    )
    expired: float = Field(
        default=3600,
        ge=0,
        description="After Status: Expired with no reason known (no `failed` extension).",
    )


class SpoolSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dir: Path = Field(
        default=Path("/var/spool/asterisk"),
        description=(
            "Asterisk's spool folder (astspooldir): call files are written in <dir>/tmp, "
            "renamed into <dir>/outgoing and read back from <dir>/outgoing_done. tmp and "
            "outgoing must be on one filesystem. A relative path is taken from the config "
            "file's folder."
        ),
    )
    dial_format: str = Field(
        default="{national}",
        description=(
            "How a number is dialled on the trunk: {national} (0501234567), "
            "{national_significant} (501234567), {e164} (380501234567), {country_code} "
            '(380), with any fixed digits around them, e.g. "8{national_significant}", '
            '"+{e164}".'
        ),
    )
    channel: str = Field(
        default="Local/{number}@pbxbridge-dial",
        description=(
            "Channel each call file dials; {number} is the dialled number. The default goes "
            "through the dialplan context pbxbridge-dial (which Dial()s the trunk, so the "
            "usual outbound routing and CallerID rules apply; it must not Answer()). To dial "
            'a trunk directly: "PJSIP/{number}@trunk".'
        ),
    )
    chown_user: str | None = Field(
        default=None,
        description=(
            "Give each call file to this user (e.g. asterisk) before it enters outgoing/: "
            "Asterisk must be able to read, utime, rename and append to it. Needs root or "
            "CAP_CHOWN; leave unset when pbxbridge runs as Asterisk's user or group."
        ),
    )
    callerid: str | None = Field(
        default=None,
        description=(
            'CallerID of campaign calls that set none, e.g. "ISP" <0441234567> or '
            "0441234567; unset leaves it to the trunk."
        ),
    )
    wait_time: int = Field(
        default=45, ge=1, le=600, description="Seconds a call rings before it counts unanswered."
    )
    retry_delays: RetryDelays = Field(default_factory=RetryDelays)
    max_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Attempts per number and run when a campaign sets none (first call included).",
    )
    max_concurrent: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Calls alive at once over all campaigns together (the trunk's lines); each "
            "campaign also has its own max_concurrent. Unset: campaign limits only."
        ),
    )
    poll_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds between looks at outgoing/ and outgoing_done/ for outcomes.",
    )
    fsync: bool = Field(
        default=True,
        description=(
            "fsync each call file before it is renamed in, and the folder after: a power "
            "cut cannot leave an empty file in outgoing/. Off only for tests and benchmarks."
        ),
    )
    keep_done_files: bool = Field(
        default=False,
        description=(
            "Keep pbxbridge's archived files in outgoing_done/ after their outcome is "
            "recorded (default: delete them; the database has what they said)."
        ),
    )

    @field_validator("dial_format")
    @classmethod
    def _dial_format(cls, value: str) -> str:
        try:
            rendered = value.format(**_SAMPLE)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"dial_format {value!r}: use only the placeholders {', '.join(DIAL_FIELDS)}"
            ) from exc
        escape.dial_string(rendered)
        return value

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if "{number}" not in value:
            raise ValueError(f"channel {value!r} must contain {{number}}")
        try:
            rendered = value.format(number="0501234567")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"channel {value!r}: the only placeholder is {{number}}") from exc
        escape.channel(rendered)
        return value

    @field_validator("callerid")
    @classmethod
    def _callerid(cls, value: str | None) -> str | None:
        return None if value is None else escape.callerid(value)

    def resolved(self, base_dir: Path) -> SpoolSettings:
        """A copy whose relative `dir` is anchored at `base_dir` (the config file's folder)."""
        if self.dir.is_absolute():
            return self
        return self.model_copy(update={"dir": (base_dir / self.dir).resolve()})

    @property
    def tmp_dir(self) -> Path:
        return self.dir / "tmp"

    @property
    def outgoing_dir(self) -> Path:
        return self.dir / "outgoing"

    @property
    def done_dir(self) -> Path:
        return self.dir / "outgoing_done"
