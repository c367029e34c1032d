"""The jobs of this process: the one place that binds each default job's name to the
function it runs and the parts that function needs, and builds the scheduler on them.

The service and `pbxbridge jobs run` build the same table, so a job run by hand runs the
same code on the same settings as its scheduled runs. The only difference is the SMS
outbox: the service's own (its worker sends at once), or for the CLI one that only queues
(the running service's outbox sends what it finds queued).
"""

from __future__ import annotations

import os
import socket
from functools import partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import billing_client.retention
import call_log.retention
import callfile_spooler.retention
import jobs.retention
import missed_calls.retention
import sms.retention
from billing_client.local.autofreeze import autofreeze
from billing_client.local.credit_expiry import end_credits
from billing_client.local.fees import charge_fee
from billing_client.local.reminders import SmsQueue, send_reminders
from callfile_spooler.campaigns import CampaignManager
from callfile_spooler.debtors import debtors_campaign
from jobs.job import Body, Job
from jobs.runner import JobRunner
from jobs.scheduler import Scheduler
from jobs.store import RunStore
from jobs.table import build_table
from jobs.ubilling import PeriodicActions
from missed_calls.daily import missed_stats
from pbxbridge.logs import redact
from pbxbridge.settings import Settings
from storage.backup import db_backup
from storage.engine import sqlite_path
from storage.retention import PruneTarget, prune

if TYPE_CHECKING:
    from pbxbridge.app import Core


def prune_targets() -> list[PruneTarget]:
    """Every component's rows that age out (job `retention`)."""
    return [
        *sms.retention.prune_targets(),
        *billing_client.retention.prune_targets(),
        *callfile_spooler.retention.prune_targets(),
        *call_log.retention.prune_targets(),
        *missed_calls.retention.prune_targets(),
        *jobs.retention.prune_targets(),
    ]


def bodies(core: Core, outbox: SmsQueue) -> dict[str, Body]:
    """What each default job runs (Ubilling's actions are bound by the table itself)."""
    s = core.settings
    found: dict[str, Body] = {
        "missed_stats": partial(missed_stats, core.sessions, core.clock),
        "retention": partial(prune, core.sessions, core.clock, prune_targets(), s.retention),
        "db_backup": partial(db_backup, s.database, core.clock),
    }
    local = core.local
    if local is not None:
        campaigns = CampaignManager(core.sessions, core.clock, core.phones)
        found |= {
            "end_credits": partial(end_credits, core.sessions, core.clock, core.audit),
            "charge_fee": partial(charge_fee, core.sessions, core.clock, s.billing, core.audit),
            "autofreeze": partial(autofreeze, core.sessions, core.clock, s.billing, local),
            "reminders": partial(
                send_reminders, core.sessions, core.clock, s.billing.reminders, outbox, core.phones
            ),
            "debtors_campaign": partial(debtors_campaign, campaigns, local.list, s.spool.debtors),
        }
    return found


def off_by_default(settings: Settings) -> dict[str, str]:
    """Default jobs that are off because of a setting elsewhere, and which."""
    off = {}
    if not settings.billing.reminders.enabled:
        off["reminders"] = "billing.reminders.enabled = false"
    if not settings.missed_calls.enabled:
        off["missed_stats"] = "missed_calls.enabled = false"
    if sqlite_path(settings.database.url) is None:
        off["db_backup"] = "PostgreSQL: use the server's own backups"
    return off


def build_jobs(core: Core, outbox: SmsQueue) -> list[Job]:
    s = core.settings
    backend = core.billing.backend
    return build_table(
        s.jobs,
        s.billing.backend,
        ZoneInfo(s.timezone),
        bodies(core, outbox),
        actions=backend if isinstance(backend, PeriodicActions) else None,
        off=off_by_default(s),
    )


def instance_name(settings: Settings, *, cli: str | None = None) -> str:
    """How this process signs the runs it records: `scheduler.instance`, else host:pid (the
    CLI: `cli:<user>@host`)."""
    host = socket.gethostname()
    if cli is not None:
        return f"{cli}@{host}"[:128]
    return (settings.scheduler.instance or f"{host}:{os.getpid()}")[:128]


def build_runner(core: Core, instance: str) -> JobRunner:
    secrets = core.settings.secrets()
    return JobRunner(
        RunStore(core.sessions, core.clock, instance),
        alert=core.alerts,
        redact=partial(redact, secrets=secrets),
    )


def build_scheduler(core: Core, outbox: SmsQueue) -> Scheduler | None:
    """The scheduler, when `scheduler.enabled` (the default)."""
    s = core.settings
    if not s.scheduler.enabled:
        return None
    return Scheduler(
        build_jobs(core, outbox),
        build_runner(core, instance_name(s)),
        core.clock,
        alert=core.alerts,
        stale_after=s.scheduler.stale_after,
    )
