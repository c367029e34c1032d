"""`[spool]`: where call files go, how numbers are dialled, and the retry policy;
`[callback]`: how callback requests are limited and dialled."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callfile_spooler import escape
from callfile_spooler.errors import ScheduleError
from callfile_spooler.schedule import TimeWindow

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


AUDIO_FORMATS = ("wav", "sln", "gsm", "ulaw", "alaw")
"""Formats a campaign message can be written in (Asterisk's file extensions): `wav` (8 kHz
mono 16-bit, always written), `sln` (the same samples, raw), `gsm`, `ulaw`, `alaw` (these
three through ffmpeg). Asterisk plays whichever costs least to translate to the call's codec."""


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


CAMPAIGN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""What a campaign may be called (`campaigns.NAME`)."""


class DebtorsCampaignSettings(BaseModel):
    """`[spool.debtors]`: job debtors_campaign, a call campaign built from the embedded
    billing (the campaign's own settings: context, CallerID, pacing, window)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        default="debtors",
        description=(
            "The campaign the job fills and starts (one campaign, refreshed each run, so its "
            "message, `pbxbridge campaign audio NAME FILE`, is recorded once)."
        ),
    )
    days_left_threshold: int | None = Field(
        default=None,
        ge=0,
        le=365,
        description=(
            "Also call subscribers with this many days left or fewer; unset: those in debt "
            "(status 2) only."
        ),
    )
    context: str = Field(default="pbxbridge-campaign", description="Dialplan context of the calls.")
    extension: str = Field(default="s", description="Extension in that context.")
    callerid: str | None = Field(
        default=None, description="CallerID of the calls; unset: spool.callerid."
    )
    max_concurrent: int = Field(default=5, ge=1, description="Calls of this campaign at once.")
    cps: float = Field(default=1.0, gt=0, description="New calls per second at most.")
    window: str | None = Field(
        default="10:00-20:00",
        description='Hours the calls may start, "HH:MM-HH:MM" local; unset: any time.',
    )
    max_attempts: int | None = Field(
        default=None, ge=1, le=20, description="Attempts per number and run; unset: spool's."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if CAMPAIGN_NAME.fullmatch(value) is None or value.lower().startswith("callback-"):
            raise ValueError(
                f"name {value!r}: letters, digits, _ . - (1-64), not beginning callback-"
            )
        return value

    @field_validator("context")
    @classmethod
    def _context(cls, value: str) -> str:
        return escape.context(value)

    @field_validator("extension")
    @classmethod
    def _extension(cls, value: str) -> str:
        return escape.extension(value)

    @field_validator("callerid")
    @classmethod
    def _callerid(cls, value: str | None) -> str | None:
        return None if value is None else escape.callerid(value)

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(TimeWindow.parse(value))
        except ScheduleError as exc:
            raise ValueError(str(exc)) from None


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
    international_format: str = Field(
        default="+{e164}",
        description=(
            "How numbers of other countries are dialled when dial_format uses {national} or "
            "{national_significant} (which only mean something at home: "
            '"8{national_significant}" would turn +48221234567 into a different local '
            'number), e.g. "00{e164}", "810{e164}". Empty: such numbers are refused.'
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
    debtors: DebtorsCampaignSettings = Field(default_factory=DebtorsCampaignSettings)
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
    max_cps: float | None = Field(
        default=None,
        ge=1 / 86_400,
        description=(
            "New calls per second over all campaigns and callbacks together (what the trunk "
            "takes); each campaign also has its own cps, and every callback request is a "
            "campaign of 1 call/s, so many at once add up. Unset: campaign limits only."
        ),
    )
    poll_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description=(
            "Seconds between looks at outgoing/ and outgoing_done/ for outcomes, and for "
            "outgoing/ itself while Asterisk has not created it yet."
        ),
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

    sounds_dir: Path = Field(
        default=Path("/var/lib/asterisk/sounds/pbxbridge-campaigns"),
        description=(
            "Where campaign messages are written (`pbxbridge campaign audio NAME FILE`), one "
            "file per format: campaign-<id>.wav…; pbxbridge needs write access, Asterisk read "
            "access. A relative path is taken from the config file's folder."
        ),
    )
    audio_formats: list[str] = Field(
        default_factory=lambda: ["wav"],
        description=(
            "Formats each campaign message is written in, besides wav (8 kHz mono 16-bit, "
            f"always written): any of {', '.join(AUDIO_FORMATS)}. gsm, ulaw and alaw need "
            "ffmpeg; a ulaw file spares Asterisk transcoding on G.711u trunks."
        ),
    )

    @field_validator("sounds_dir")
    @classmethod
    def _sounds_dir(cls, value: Path) -> Path:
        # Every campaign call file carries `<sounds_dir>/campaign-<id>` as a variable.
        escape.variable_value(str(value))
        if len(str(value).encode()) > 160:
            raise ValueError(f"sounds_dir {str(value)!r}: at most 160 bytes")
        return value

    @field_validator("audio_formats")
    @classmethod
    def _audio_formats(cls, value: list[str]) -> list[str]:
        unknown = [f for f in value if f not in AUDIO_FORMATS]
        if unknown:
            raise ValueError(f"audio_formats {unknown}: choose from {', '.join(AUDIO_FORMATS)}")
        return ["wav", *dict.fromkeys(f for f in value if f != "wav")]

    @field_validator("dial_format", "international_format")
    @classmethod
    def _dial_format(cls, value: str) -> str:
        if not value:
            return value
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
        """A copy whose relative `dir` and `sounds_dir` are anchored at `base_dir` (the
        config file's folder)."""
        update = {
            key: (base_dir / path).resolve()
            for key, path in (("dir", self.dir), ("sounds_dir", self.sounds_dir))
            if not path.is_absolute()
        }
        return self.model_copy(update=update) if update else self

    @property
    def tmp_dir(self) -> Path:
        return self.dir / "tmp"

    @property
    def outgoing_dir(self) -> Path:
        return self.dir / "outgoing"

    @property
    def done_dir(self) -> Path:
        return self.dir / "outgoing_done"


QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
CallbackMode = Literal["customer_first", "operator_first"]


class CallbackSettings(BaseModel):
    """`[callback]`: callback requests (CLI, staff bot, web form) and how they are dialled.

    `customer_first`: the call file rings the customer (through `spool.channel`); once they
    answer, the `context` puts them in the queue. `operator_first`: the call file rings
    the queue through `operator_channel`; once an operator answers, the `connect_context`
    rings the customer, so nobody waits in a queue for a call they did not make.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Take callback requests.")
    mode: CallbackMode = Field(
        default="customer_first",
        description=(
            '"customer_first": ring the customer, then queue them for an operator; '
            '"operator_first": ring the operators\' queue, then the customer.'
        ),
    )
    queue: str = Field(
        default="support",
        description="The operators' queue (its name in queues.conf).",
    )
    operator_channel: str = Field(
        default="Local/{queue}@pbxbridge-callback-queue",
        description=(
            "operator_first: the channel each call file rings first; {queue} is `queue`. The "
            "default context rings the queue (Queue(…,r)) without answering until an operator "
            "takes the call."
        ),
    )
    context: str = Field(
        default="pbxbridge-callback",
        description="customer_first: the context the answered customer goes to (queues them).",
    )
    connect_context: str = Field(
        default="pbxbridge-callback-connect",
        description="operator_first: the context the operator goes to (it rings the customer).",
    )
    callerid: str | None = Field(
        default=None,
        description=(
            'CallerID the customer sees, e.g. "ISP" <0441234567>; unset: spool.callerid, '
            "else the trunk's."
        ),
    )
    max_per_hour: int = Field(
        default=3,
        ge=1,
        le=100,
        description=(
            "Callbacks one number may get within an hour; requests beyond are recorded and "
            "refused (as are numbers on the campaigns' do-not-call list)."
        ),
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Calls per callback before it is given up (busy, no answer… retried).",
    )
    ring_time: int = Field(
        default=45,
        ge=5,
        le=600,
        description="Seconds the customer's phone rings.",
    )
    operator_wait_time: int = Field(
        default=120,
        ge=5,
        le=3600,
        description="operator_first: seconds the call file waits for an operator to answer.",
    )
    window: str | None = Field(
        default=None,
        description=(
            'Hours callbacks may be dialled, "HH:MM-HH:MM" in the service\'s timezone (requests '
            "outside wait for it); unset: any time."
        ),
    )

    @field_validator("queue")
    @classmethod
    def _queue(cls, value: str) -> str:
        if QUEUE_NAME.fullmatch(value) is None:
            raise ValueError(f"queue {value!r}: letters, digits, _ and - (1-64)")
        return value

    @field_validator("operator_channel")
    @classmethod
    def _operator_channel(cls, value: str) -> str:
        if "{queue}" not in value:
            raise ValueError(f"operator_channel {value!r} must contain {{queue}}")
        try:
            rendered = value.format(queue="support")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"operator_channel {value!r}: the only placeholder is {{queue}}"
            ) from exc
        escape.channel(rendered)
        return value

    @field_validator("context", "connect_context")
    @classmethod
    def _context(cls, value: str) -> str:
        return escape.context(value)

    @field_validator("callerid")
    @classmethod
    def _callerid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        escape.callerid(value)
        if not split_callerid(value)[1]:
            raise ValueError(f"callerid {value!r} has no number")
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(TimeWindow.parse(value))
        except ScheduleError as exc:
            raise ValueError(str(exc)) from None

    def channel(self) -> str:
        """operator_first: the call files' Channel."""
        return self.operator_channel.format(queue=self.queue)


def split_callerid(value: str) -> tuple[str, str]:
    """(name, number) of a CallerID that `escape.callerid` accepted."""
    match = escape.CALLERID.fullmatch(value)
    if match is None:
        return "", value
    name = match.group("quoted") if match.group("quoted") is not None else match.group("bare")
    return name.strip(), match.group("number")
