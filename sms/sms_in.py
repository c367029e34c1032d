"""sms_in: the FastAGI route of an inbound SMS handed over by the dialplan; sets SMS_RESULT
OK or ERROR.

The route belongs to sms (it only stores into the inbox); the root registers it on the
FastAGI server next to agi's own routes (`build_handlers(inbox.receive)`), so agi knows
nothing of SMS. Classic (process per call) AGI does not serve it: it has no inbox.

Two dialplan sources:

* chan_dongle/chan_quectel run `Local/sms@<device context>` for each SMS, with the
  sender as CallerID number, the device as CallerID name (and `DONGLENAME`), and the text
  in `SMS_BASE64` (UTF-8, exact; `${SMS}` would break on a newline):
  `exten => sms,1,AGI(agi://127.0.0.1/sms_in)`.
* A PJSIP MESSAGE in the endpoint's message context (no AMI event exists for it): the
  body is read as `${BASE64_ENCODE(${MESSAGE(body)})}`, so a newline cannot break the
  AGI reply, and the sender from `${MESSAGE(from)}` (`"Name" <sip:100@host>` → `100`).
  The device is `pjsip`, or `pjsip:<x>` with `?device=pjsip:<x>`; replies go back by
  MessageSend.

`?device=` overrides the device in both cases. Fails closed: SMS_RESULT=ERROR when
nothing could be read or stored (the dialplan may then keep the text some other way); an
SMS that was read but could not be stored is also told to staff (the `alert` the root
passes to `build_handlers`): a SIP MESSAGE has no other way in.
`SMS_ID` is the inbox row (empty for a part held until its siblings arrive).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from agi.errors import AgiError
from agi.request import AgiRequest
from agi.routes.common import leaves_on_error
from agi.server import Handler
from agi.session import AgiSession
from sms.types import InboundHandler, InboundSms
from storage.errors import brief

log = logging.getLogger("pbxbridge.agi")

Alert = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SmsRouteDeps:
    """What sms's routes are given: where an SMS is stored (`Inbox.receive`), and staff's
    alerts for one that cannot be."""

    receive: InboundHandler
    alert: Alert | None = None


SmsRoute = Callable[[SmsRouteDeps, AgiRequest, AgiSession], Awaitable[None]]

PJSIP_BODY = "${BASE64_ENCODE(${MESSAGE(body)})}"
PJSIP_FROM = "${MESSAGE(from)}"
_SIP_USER = re.compile(r"<?\s*(?:sips?|pjsip|tel):([^@;>]+)", re.IGNORECASE)


def sip_user(from_header: str) -> str:
    """The user part of a From value (`"Name" <sip:100@host>` → `100`); the value as is
    when it holds no SIP URI."""
    match = _SIP_USER.search(from_header)
    return (match.group(1) if match else from_header).strip()


def _decode(value: str) -> str | None:
    try:
        return base64.b64decode(value.strip(), validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return None


async def _dongle_sms(request: AgiRequest, session: AgiSession, encoded: str) -> InboundSms | None:
    text = _decode(encoded)
    if text is None:
        return None
    device = request.query.get("device") or ""
    if not device:
        for name in ("DONGLENAME", "QUECTELNAME"):
            device = await session.get_variable(name) or ""
            if device:
                break
    device = device or request.calleridname
    if not device:
        return None
    # driver None: the dialplan does not say which modem driver ran it; replies then go
    # by `[sms] transport`
    return InboundSms(device=device, sender=request.callerid, text=text, source="agi")


async def _pjsip_sms(request: AgiRequest, session: AgiSession) -> InboundSms | None:
    encoded = await session.get_full_variable(PJSIP_BODY)
    text = _decode(encoded or "")
    if not text:
        return None
    sender = sip_user(await session.get_full_variable(PJSIP_FROM) or "")
    if not sender:
        return None
    device = request.query.get("device") or "pjsip"
    return InboundSms(device=device, sender=sender, text=text, source="pjsip", driver="pjsip")


async def _tell_staff(alert: Alert | None, message: str) -> None:
    if alert is None:
        return
    try:
        await alert(message)
    except Exception:
        log.exception("alert failed")


@leaves_on_error({"SMS_RESULT": "ERROR", "SMS_ID": ""})
async def sms_in(deps: SmsRouteDeps, request: AgiRequest, session: AgiSession) -> None:
    result, stored_id = "ERROR", ""
    inbound: InboundSms | None = None
    try:
        encoded = await session.get_variable("SMS_BASE64")
        if encoded:
            inbound = await _dongle_sms(request, session, encoded)
        else:
            inbound = await _pjsip_sms(request, session)
        if inbound is None:
            log.warning("AGI %s sms_in: no SMS on this channel", request.uniqueid or "-")
        else:
            stored = await deps.receive(inbound)
            result = "OK"
            stored_id = str(stored.id) if stored is not None else ""
            log.info(
                "AGI %s sms_in: from %s on %s -> %s",
                request.uniqueid or "-",
                inbound.sender,
                inbound.device,
                f"SMS {stored_id}" if stored_id else "part held",
            )
    except AgiError:
        raise
    except Exception as exc:
        log.exception("AGI %s sms_in: storing the SMS failed", request.uniqueid or "-")
        result = "ERROR"
        if inbound is not None:
            await _tell_staff(
                deps.alert,
                f"an SMS from {inbound.sender} on {inbound.device} could not be stored "
                f"(Asterisk told SMS_RESULT=ERROR): {brief(exc)}",
            )
    await session.set_variable("SMS_RESULT", result)
    await session.set_variable("SMS_ID", stored_id)


ROUTES: dict[str, SmsRoute] = {"sms_in": sms_in}


def build_handlers(receive: InboundHandler, alert: Alert | None = None) -> dict[str, Handler]:
    """The FastAGI handlers of sms's routes, storing through `receive` (`Inbox.receive`);
    what cannot be stored is told to staff through `alert`."""
    deps = SmsRouteDeps(receive, alert)
    return {name: partial(route, deps) for name, route in ROUTES.items()}
