"""callfile_spooler: campaigns, schedules, pacing, the call-file writer, outcome reconciliation.

The root builds one `Spooler(sessions, clock, phones, settings)`, adds it to the AMI client
as a consumer (`ami_events`, `on_ami_event`), runs it with the service, and
adds `callfile_spooler.migrations.VERSIONS` to the migration list. The CLI manages
campaigns through `CampaignManager` (also `Spooler.campaigns`).
"""

from callfile_spooler.callfile import CallFile, parse, render
from callfile_spooler.campaigns import (
    CampaignInfo,
    CampaignManager,
    CampaignSettings,
    CampaignStatus,
    ImportReport,
    NumberReport,
)
from callfile_spooler.errors import (
    CallfileSpoolerError,
    CallFileValueError,
    CampaignError,
    SpoolError,
    SpoolMissing,
)
from callfile_spooler.events import EVENTS
from callfile_spooler.settings import RetryDelays, SpoolSettings
from callfile_spooler.spooler import Spooler, TickResult
from callfile_spooler.writer import SpoolFolder

__all__ = [
    "EVENTS",
    "CallFile",
    "CallFileValueError",
    "CallfileSpoolerError",
    "CampaignError",
    "CampaignInfo",
    "CampaignManager",
    "CampaignSettings",
    "CampaignStatus",
    "ImportReport",
    "NumberReport",
    "RetryDelays",
    "SpoolError",
    "SpoolFolder",
    "SpoolMissing",
    "SpoolSettings",
    "Spooler",
    "TickResult",
    "parse",
    "render",
]
