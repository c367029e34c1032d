"""`[scheduler]` and the `[[jobs]]` entries: what runs when, in this instance.

Each backend has a default table of jobs (jobs/defaults.py). A `[[jobs]]` entry with the
name of a default job changes only the keys it sets (`enabled = false` turns the job off,
`schedule = "…"` moves it); an entry with a new name adds a job, which with Ubilling is a
remoteapi `action` (as written after `/bin/ubapi` in a crontab line).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobs.cron import check_expression
from jobs.errors import BadSchedule

JOB_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
ACTION = re.compile(r"[a-z0-9_]{1,64}(&[a-z0-9_]{1,32}=[A-Za-z0-9_.,:-]{0,128})*", re.I)
"""A remoteapi action with its parameters: `fullhostscan&param=traffdiff&nn=1`. No `key=`,
no `module=` (pbxbridge adds both), nothing that would need escaping."""


class SchedulerSettings(BaseModel):
    """`[scheduler]`: whether this instance runs the scheduled jobs, and when to worry."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True,
        description=(
            "Run the scheduled jobs in this instance. Several instances may all run it: each "
            "tick runs once, in whichever claims it first. `pbxbridge jobs run` works either way."
        ),
    )
    stale_after: int = Field(
        default=3,
        ge=2,
        le=100,
        description=(
            "Alert when a job has had no successful run for this many of its scheduled "
            "intervals (every run failed, was skipped, or none happened)."
        ),
    )
    instance: str = Field(
        default="",
        max_length=128,
        description="This instance's name in the run history; empty: host name and process id.",
    )


class JobSettings(BaseModel):
    """One `[[jobs]]` entry. Keys left out keep the default job's value."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The job's name (a default job's, or a new one).")
    schedule: str | None = Field(
        default=None,
        description=(
            "Cron expression (minute hour day month weekday) in `timezone`, e.g. "
            '"*/10 * * * *", "5 0 * * *", or @hourly, @daily…'
        ),
    )
    enabled: bool | None = Field(default=None, description="false: the job is not scheduled.")
    timeout: float | None = Field(
        default=None, gt=0, le=86_400, description="Seconds one attempt may take."
    )
    attempts: int | None = Field(
        default=None,
        ge=1,
        le=10,
        description=(
            "Tries per run (1: no retry). A job that is not idempotent (a Ubilling action "
            "that charges fees) is retried only when its failure came before any work."
        ),
    )
    retry_delay: float | None = Field(
        default=None, ge=0, le=86_400, description="Seconds before the first retry (doubling)."
    )
    retry_delay_max: float | None = Field(
        default=None, ge=0, le=86_400, description="The longest wait between two tries."
    )
    action: str | None = Field(
        default=None,
        description=(
            "Ubilling only: the remoteapi action and its parameters, as after /bin/ubapi in "
            'a crontab line ("vserviceschargefee&param=nofrozen&period=30").'
        ),
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if JOB_NAME.fullmatch(value) is None:
            raise ValueError(f"job name {value!r}: lower-case letters, digits, _ . - (1-64)")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_expression(value)
        except BadSchedule as exc:
            raise ValueError(str(exc)) from None

    @field_validator("action")
    @classmethod
    def _action(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip().strip('"')
        lowered = text.lower()
        if ACTION.fullmatch(text) is None or "&key=" in lowered or "&module=" in lowered:
            raise ValueError(
                f"action {value!r}: an action name and &name=value parameters, as after "
                '/bin/ubapi in a crontab line ("fullhostscan&param=traffdiff&nn=1"); '
                "pbxbridge adds module= and key= itself"
            )
        return text
