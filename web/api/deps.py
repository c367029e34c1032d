"""What the API's handlers are given: one dataclass on the API application, typed.

A resource module reads what it needs with `api_deps(request).<part>`; a new resource that
needs another part of the service adds a field here and the root fills it in
(pbxbridge/webserver.py). No globals: tests build their own ApiDeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from billing_client.client import BillingClient
from call_log.store import CallLogStore
from callfile_spooler.audio import CampaignAudio
from callfile_spooler.callbacks import CallbackService
from callfile_spooler.campaigns import CampaignManager
from missed_calls.store import MissedCallStore
from primitives.clock import Clock
from sms.history import SmsHistory
from sms.inbox import Inbox
from sms.outbox import Outbox
from web.middlewares import ACTOR
from web.tokens import TokenStore


@dataclass(frozen=True)
class ApiDeps:
    clock: Clock
    tokens: TokenStore
    billing: BillingClient
    """Subscriber lookups, and `billing.phones`: the one phone normaliser."""
    callbacks: CallbackService
    campaigns: CampaignManager
    audio: CampaignAudio
    wake_spooler: Callable[[], None]
    """Tell the running spooler to look now (a campaign was started or paused)."""
    outbox: Outbox
    inbox: Inbox
    sms: SmsHistory
    missed: MissedCallStore
    calls: CallLogStore
    """The call log: every call (missed ones are `missed` read through the view)."""
    max_upload_bytes: int
    """http.max_upload_bytes: the body limit of `max_body=UPLOAD` routes."""


API_DEPS = web.AppKey("api_deps", ApiDeps)


def api_deps(request: web.Request) -> ApiDeps:
    return request.config_dict[API_DEPS]


def actor(request: web.Request) -> str:
    """Who does what a request does, as every room records it (`cli:<user>` from the
    shell): `api:<token name>`, or `staff:<user>` when an admin page calls a handler."""
    return request[ACTOR]
