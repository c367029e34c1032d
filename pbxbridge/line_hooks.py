"""How the voice lines are joined to the rest: AMI for their reloads, the billing for the
subscribers they follow. Rooms do not import each other; this is where they meet.

Why a callback and not lines/ watching the billing: a freeze must reach the lines at once
(the subscriber is on the phone), the embedded billing knows the moment it commits one,
and billing_client stays ignorant of lines (it calls `on_flags(login, blocked)`, whoever
listens). What a callback cannot see (a CSV import setting `frozen`, a change made while
the lines' file could not be written) is caught up by `Lines.sync`: at every service
start and with `pbxbridge line sync`.
"""

from __future__ import annotations

import logging

from ami_listener import AmiClient, AmiHealth
from ami_listener.health import HealthCallback
from ami_listener.settings import AmiSettings
from billing_client.client import BillingClient
from billing_client.errors import BillingError
from billing_client.local.admin import LocalAdmin
from billing_client.outcomes import BillingResult
from billing_client.pause import FlagsChanged
from lines.reload import AmiReload, ReloadOutcome, SendAction
from lines.service import BlockedOf, Lines
from lines.settings import LinesSettings
from pbxbridge.alerts import Alert

log = logging.getLogger("pbxbridge.lines")


def one_off_reload(ami: AmiSettings, lines: LinesSettings) -> AmiReload:
    """Reloads on a connection of their own (a CLI process has no AMI link)."""
    send: SendAction | None = AmiClient(ami).action_once if ami.enabled else None
    return AmiReload(send, lines.reload_timeout)


def link_reload(client: AmiClient, lines: LinesSettings) -> AmiReload:
    """Reloads on the service's supervised link (not connected: the reload stays pending)."""
    return AmiReload(client.action, lines.reload_timeout)


def follower(lines: Lines, alert: Alert) -> FlagsChanged:
    """`on_flags` for the embedded billing: hold or release the subscriber's lines. A line
    change that fails never fails the freeze that caused it: staff are told instead."""

    async def follow(login: str, blocked: bool) -> None:
        what = "held" if blocked else "released"
        try:
            done = await lines.follow(login, blocked)
        except Exception as exc:
            log.error("lines of %s not %s: %s", login, what, exc)
            await alert(f"voice lines of {login} not {what}: {exc} (`pbxbridge line sync`)")
            return
        for warning in done.warnings if done is not None else ():
            log.warning("lines of %s: %s", login, warning)

    return follow


def blocked_of(admin: LocalAdmin) -> BlockedOf:
    """Whether a subscriber of the embedded billing is frozen or disabled now."""

    async def blocked(login: str) -> bool | None:
        info = await admin.get(login)
        return None if info is None else info.frozen or info.disabled

    return blocked


async def known_login(billing: BillingClient, login: str) -> bool | None:
    """Whether the billing has a subscriber with this login (None: it cannot say now)."""
    try:
        lookup = await billing.backend.lookup_login(login)
    except BillingError as exc:
        log.warning("the billing could not say whether %s is a subscriber: %s", login, exc)
        return None
    return lookup.result == BillingResult.OK


def on_ami_health(lines: Lines, alert: Alert) -> HealthCallback:
    """An AMI health callback: when the link comes up, send a reload a change missed."""

    async def changed(health: AmiHealth, detail: str) -> None:
        if health is not AmiHealth.CONNECTED:
            return
        try:
            result = await lines.apply_pending()
        except Exception as exc:
            log.error("pending res_pjsip reload not sent: %s", exc)
            return
        if result is not None and result.outcome == ReloadOutcome.REJECTED:
            await alert(
                f"Asterisk refused the pending res_pjsip reload ({result.detail}): "
                f"check {lines.settings.pjsip_file}"
            )

    return changed
