"""What the live feed hears, and from where: the parts' objects turned into feed events.

The parts know nothing of the feed: the root hands them small callables made here, each
ending in `LiveFeed.publish` (web/feed.py), as pbxbridge/staff.py does for Telegram.

- missed calls and SMS in: the notices the Service already makes for staff (`notice`);
- alerts: a sink attached to the process's `Alerts` while the service runs (`alert`);
- campaign progress: the spooler's `on_progress(campaign_id)`, gathered for `PROGRESS_EVERY`
  seconds so that a bundle of outcomes is one event per campaign (`CampaignProgress`);
- the screen pop: web/screen_pop.py, an AMI consumer and the AGI routes' `on_lookup`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from callfile_spooler.campaigns import KIND, CampaignManager
from notify import InboundSmsNotice, MissedCallNotice, Notice
from web.feed import LiveFeed

log = logging.getLogger("pbxbridge")

PROGRESS_EVERY: Final = 0.5
"""Seconds a campaign's changes are gathered before its progress is published."""


def notice(feed: LiveFeed, note: Notice) -> None:
    """A staff notice that belongs on the feed: a missed call, an SMS in."""
    if isinstance(note, MissedCallNotice):
        feed.publish(
            "missed",
            {
                "number": note.number,
                "login": note.login,
                "name": note.name,
                "status": note.status,
                "queue": note.queue,
                "at": note.at.isoformat(),
                "waited_seconds": note.waited_seconds,
            },
        )
    elif isinstance(note, InboundSmsNotice):
        feed.publish(
            "sms",
            {
                "sender": note.sender,
                "login": note.login,
                "name": note.name,
                "text": note.text,
                "at": note.at.isoformat(),
            },
        )


def alert(feed: LiveFeed) -> Callable[[str], Awaitable[None]]:
    async def sink(text: str) -> None:
        feed.publish("alert", {"text": text})

    return sink


class CampaignProgress:
    """The spooler's `on_progress`: each changed campaign's counts, once per interval."""

    def __init__(
        self, feed: LiveFeed, campaigns: CampaignManager, every: float = PROGRESS_EVERY
    ) -> None:
        self._feed = feed
        self._campaigns = campaigns
        self._every = every
        self._changed: set[int] = set()
        self._flush: asyncio.Task[None] | None = None

    def __call__(self, campaign_id: int) -> None:
        self._changed.add(campaign_id)
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(
                self._publish_later(), name="live feed: campaign progress"
            )

    async def _publish_later(self) -> None:
        await asyncio.sleep(self._every)
        changed, self._changed = self._changed, set()
        for campaign_id in sorted(changed):
            try:
                await self._publish(campaign_id)
            except Exception:
                log.exception("live feed: progress of campaign %d not read", campaign_id)

    async def _publish(self, campaign_id: int) -> None:
        info = await self._campaigns.get_by_id(campaign_id)
        if info is None or info.kind != KIND:
            return  # deleted meanwhile, or a callback request
        status = await self._campaigns.status(info.name)
        self._feed.publish(
            "campaign",
            {
                "id": info.id,
                "name": info.name,
                "state": str(info.state),
                "numbers": status.numbers,
                "done": status.done_numbers,
                "by_status": status.by_number_status,
            },
        )

    async def aclose(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            await asyncio.gather(self._flush, return_exceptions=True)
