"""The job table of an instance: the backend's defaults, changed and added to by `[[jobs]]`.

The root hands in the bodies (what each default job runs, built from the parts it has) and,
with Ubilling, what runs remoteapi actions; this module knows no component.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from jobs.cron import CronSchedule
from jobs.defaults import Default, default_table
from jobs.errors import JobConfigError
from jobs.job import RETRY_DELAY, RETRY_DELAY_MAX, Body, Job
from jobs.settings import JobSettings
from jobs.ubilling import PeriodicActions, action_body
from primitives.backoff import Backoff


def check_entries(entries: Sequence[JobSettings], backend: str) -> list[str]:
    """What is wrong with the `[[jobs]]` entries for `backend`, one line per problem."""
    problems = []
    defaults = {d.name: d for d in default_table(backend)}
    known = set(defaults)
    for name, times in Counter(e.name for e in entries).items():
        if times > 1:
            problems.append(f"jobs: {name!r} is listed {times} times; one entry per job")
    for entry in entries:
        if entry.action is not None and backend != "ubilling":
            problems.append(
                f"jobs: {entry.name!r} has an action, and actions are Ubilling's remoteapi "
                "(billing.backend = 'ubilling')"
            )
        elif entry.name not in known and (entry.action is None or entry.schedule is None):
            problems.append(_unknown(entry.name, backend, known))
        elif entry.action is not None and entry.name in known and not defaults[entry.name].action:
            problems.append(f"jobs: {entry.name!r} is pbxbridge's own job: it takes no action")
    return problems


def _unknown(name: str, backend: str, known: set[str]) -> str:
    jobs = ", ".join(sorted(known))
    if backend == "ubilling":
        return (
            f"jobs: {name!r} is no default job ({jobs}); a new job needs a schedule and an "
            "action (Ubilling's remoteapi)"
        )
    return f"jobs: {name!r} is no job of the embedded billing ({jobs})"


def _merged(default: Default, entry: JobSettings | None) -> Default:
    if entry is None:
        return default
    return Default(
        name=default.name,
        schedule=entry.schedule or default.schedule,
        timeout=entry.timeout or default.timeout,
        about=default.about,
        enabled=default.enabled if entry.enabled is None else entry.enabled,
        idempotent=default.idempotent,
        action=entry.action or default.action,
    )


def _new(entry: JobSettings) -> Default:
    assert entry.schedule is not None  # check_entries said so
    assert entry.action is not None
    return Default(
        name=entry.name,
        schedule=entry.schedule,
        timeout=entry.timeout or 600.0,
        about=f"Ubilling action {entry.action}",
        enabled=entry.enabled is not False,
        idempotent=False,  # nothing says a new action may run twice
        action=entry.action,
    )


def build_table(
    entries: Sequence[JobSettings],
    backend: str,
    tz: ZoneInfo,
    bodies: Mapping[str, Body],
    *,
    actions: PeriodicActions | None = None,
    off: Mapping[str, str] | None = None,
) -> list[Job]:
    """The jobs, defaults first (in their order), then the new ones of `entries`.

    `off`: default jobs off unless an entry turns them on, and why (a setting elsewhere).
    """
    problems = check_entries(entries, backend)
    if problems:
        raise JobConfigError("; ".join(problems))
    by_name = {e.name: e for e in entries}
    defaults = default_table(backend)
    known = {d.name for d in defaults}
    off = off or {}
    jobs = []
    for default in defaults:
        entry = by_name.get(default.name)
        merged = _merged(_off(default, off), entry)
        why = _why_off(default, entry, off) if not merged.enabled else ""
        jobs.append(_job(merged, entry, tz, bodies, actions, why))
    for entry in entries:
        if entry.name not in known:
            new = _new(entry)
            why = _why_off(new, entry, off) if not new.enabled else ""
            jobs.append(_job(new, entry, tz, bodies, actions, why))
    return jobs


def _why_off(default: Default, entry: JobSettings | None, off: Mapping[str, str]) -> str:
    if entry is not None and entry.enabled is False:
        return "[[jobs]] enabled = false"
    return off.get(default.name) or "off by default"


def _off(default: Default, off: Mapping[str, str]) -> Default:
    if default.name not in off:
        return default
    return Default(
        default.name,
        default.schedule,
        default.timeout,
        default.about,
        enabled=False,
        idempotent=default.idempotent,
        action=default.action,
    )


def _job(
    spec: Default,
    entry: JobSettings | None,
    tz: ZoneInfo,
    bodies: Mapping[str, Body],
    actions: PeriodicActions | None,
    off_because: str,
) -> Job:
    body = bodies.get(spec.name)
    if spec.action is not None:
        if actions is None:
            raise JobConfigError(f"job {spec.name}: an action needs the Ubilling backend")
        body = action_body(actions, spec.action)
    if body is None:
        raise JobConfigError(f"job {spec.name}: nothing to run (no body given for it)")
    entry = entry or JobSettings(name=spec.name)
    retry = Backoff(
        entry.retry_delay if entry.retry_delay is not None else RETRY_DELAY,
        entry.retry_delay_max if entry.retry_delay_max is not None else RETRY_DELAY_MAX,
    )
    return Job(
        name=spec.name,
        schedule=CronSchedule(spec.schedule, tz),
        body=body,
        timeout=spec.timeout,
        attempts=entry.attempts or 1,
        retry=retry,
        enabled=spec.enabled,
        idempotent=spec.idempotent,
        about=spec.about,
        off_because=off_because,
        action=spec.action,
    )
