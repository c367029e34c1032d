"""The job table: the backend's defaults changed and added to by [[jobs]], and the entries
the settings refuse (with the key's problem said once, at load)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from jobs.defaults import EMBEDDED, HOUSEKEEPING
from jobs.errors import JobConfigError
from jobs.settings import JobSettings
from jobs.table import build_table
from pbxbridge.settings import Settings
from primitives.job_result import JobResult
from tests.jobs.rig import KYIV


async def nothing() -> JobResult:
    return JobResult("nothing")


BODIES = {d.name: nothing for d in EMBEDDED + HOUSEKEEPING}


def test_an_entry_changes_only_the_keys_it_sets() -> None:
    entries = [
        JobSettings(name="charge_fee", schedule="15 0 * * *", attempts=3, retry_delay=30),
        JobSettings(name="autofreeze", enabled=False),
        JobSettings(name="debtors_campaign", enabled=True, timeout=120),
    ]
    jobs = {j.name: j for j in build_table(entries, "local", KYIV, BODIES, off={})}
    fee = jobs["charge_fee"]
    assert (fee.schedule.expression, fee.timeout, fee.attempts) == ("15 0 * * *", 1800.0, 3)
    assert [fee.retry.delay_for(n) for n in (1, 2, 3)] == [30.0, 60.0, 120.0]
    assert fee.bound() == 3 * 1800 + 30 + 60 + 60  # attempts, the waits between, the grace
    assert not jobs["autofreeze"].enabled
    assert jobs["autofreeze"].off_because == "[[jobs]] enabled = false"
    assert jobs["autofreeze"].schedule.expression == "*/10 * * * *"
    assert (jobs["debtors_campaign"].enabled, jobs["debtors_campaign"].timeout) == (True, 120.0)
    assert jobs["end_credits"].attempts == 1


def test_off_by_a_setting_elsewhere_unless_an_entry_turns_it_on() -> None:
    off = {"reminders": "billing.reminders.enabled = false"}
    jobs = {j.name: j for j in build_table([], "local", KYIV, BODIES, off=off)}
    assert (jobs["reminders"].enabled, jobs["reminders"].off_because) == (False, off["reminders"])
    entries = [JobSettings(name="reminders", enabled=True)]
    jobs = {j.name: j for j in build_table(entries, "local", KYIV, BODIES, off=off)}
    assert jobs["reminders"].enabled


@pytest.mark.parametrize(
    ("backend", "entries", "says"),
    [
        ("local", [{"name": "swping"}], "'swping' is no job of the embedded billing"),
        (
            "local",
            [{"name": "charge_fee", "action": "swping"}],
            "actions are Ubilling's remoteapi",
        ),
        (
            "ubilling",
            [{"name": "vservices_weekly", "action": "vserviceschargefee&period=7"}],
            "a new job needs a schedule and an action",
        ),
        ("ubilling", [{"name": "retention", "action": "swping"}], "pbxbridge's own job"),
        (
            "local",
            [{"name": "charge_fee", "enabled": False}, {"name": "charge_fee"}],
            "'charge_fee' is listed 2 times",
        ),
    ],
)
def test_entries_that_fit_no_job_are_refused_at_load(
    backend: str, entries: list[dict[str, Any]], says: str
) -> None:
    billing: dict[str, Any] = {"backend": backend}
    if backend == "ubilling":
        billing["url"] = "http://billing.isp/"
    with pytest.raises(ValidationError, match=says):
        Settings(billing=billing, jobs=entries)
    with pytest.raises(JobConfigError, match=says):
        build_table([JobSettings(**e) for e in entries], backend, KYIV, BODIES)


@pytest.mark.parametrize(
    "action",
    [
        "swping&key=UB0000",
        "swping&module=x",
        "swping;rm -rf /",
        "swping&param=a b",
        "https://billing.isp/?module=remoteapi&action=swping",
    ],
)
def test_an_action_is_an_action_and_parameters_only(action: str) -> None:
    with pytest.raises(ValidationError, match="an action name and &name=value parameters"):
        JobSettings(name="x", schedule="* * * * *", action=action)


def test_an_action_copied_from_a_crontab_line_keeps_its_quotes_off() -> None:
    entry = JobSettings(
        name="scan", schedule="5 * * * *", action='"fullhostscan&param=traffdiff&nn=1"'
    )
    assert entry.action == "fullhostscan&param=traffdiff&nn=1"


def test_a_body_missing_for_a_default_job_is_a_wiring_error() -> None:
    with pytest.raises(JobConfigError, match="job charge_fee: nothing to run"):
        build_table([], "local", KYIV, {k: v for k, v in BODIES.items() if k != "charge_fee"})
