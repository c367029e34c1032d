"""chan_dongle and chan_quectel AMI events, read into inbound SMS and delivery reports.

chan_quectel (IchthysMaranatha) raises the same events as wdoekes chan_dongle with the
prefix `Quectel` instead of `Dongle`; both are read here alike.

Inbound, per SMS (reference §4.2): `*NewCMGR` (the raw PDU, first), then `*NewSMS` (text
split on line breaks, empty lines dropped) and `*NewSMSBase64` (exact UTF-8 text). The
inbox stores one row for them (deduplication); `*NewCMGR` matters only for a part of a
multipart SMS (see `sms.pdu`).

Reports: wdoekes/quectel `*Report` (`Payload` is ours, `Type` 0 = the modem's send result,
1 = network status report, 2 = none before the validity ended); bg111 `DongleSMSStatus`
(`ID` as returned by `DongleSendSMS`, `Status` Sent/NotSent).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from dataclasses import dataclass
from typing import Literal

from primitives.ami import AmiEvent
from sms.errors import PduError
from sms.pdu import cmgr_pdu, decode_deliver
from sms.types import Driver, InboundSms

log = logging.getLogger("pbxbridge.sms")

PREFIXES = ("Dongle", "Quectel")
DRIVER_OF_PREFIX: dict[str, Driver] = {"Dongle": "dongle", "Quectel": "quectel"}
INBOUND_EVENTS = tuple(
    f"{prefix}{name}" for prefix in PREFIXES for name in ("NewCMGR", "NewSMS", "NewSMSBase64")
)
REPORT_EVENTS = tuple(f"{prefix}{name}" for prefix in PREFIXES for name in ("Report", "SMSStatus"))

_LINE = re.compile(r"MessageLine(\d+)", re.IGNORECASE)

ReportOutcome = Literal["sent", "delivered", "failed", "expired"]


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a report says about one of our messages, and how to find it."""

    device: str
    outcome: ReportOutcome
    detail: str
    payload: str | None = None
    modem_id: str | None = None


def _prefix(name: str) -> str | None:
    for prefix in PREFIXES:
        if name.lower().startswith(prefix.lower()):
            return prefix
    return None


def _kind(name: str) -> str | None:
    prefix = _prefix(name)
    return name[len(prefix) :].lower() if prefix is not None else None


def inbound_from_event(event: AmiEvent, name: str) -> InboundSms | None:
    """The SMS an inbound event carries; None for a `*NewCMGR` that is not a part (its text
    comes again in `*NewSMS*`) or an event that cannot be read (logged). The driver is
    the event's: a Quectel event's SMS is answered by QuectelSendSMS."""
    kind = _kind(name)
    prefix = _prefix(name)
    driver = DRIVER_OF_PREFIX[prefix] if prefix is not None else None
    if kind == "newsmsbase64":
        return _base64_sms(event, name, driver)
    if kind == "newsms":
        return _lines_sms(event, driver)
    if kind == "newcmgr":
        return _pdu_part(event, name, driver)
    return None


def _base64_sms(event: AmiEvent, name: str, driver: Driver | None) -> InboundSms | None:
    """`*NewSMSBase64`: the whole text, base64 of its UTF-8."""
    device = event.get("Device") or ""
    try:
        raw = base64.b64decode(event.get("Message") or "", validate=True)
    except (binascii.Error, ValueError):
        log.warning("%s from %s on %s: Message is not base64", name, event.get("From"), device)
        return None
    return InboundSms(
        device=device,
        sender=event.get("From") or "",
        text=raw.decode("utf-8", errors="replace"),
        source="base64",
        driver=driver,
    )


def _lines_sms(event: AmiEvent, driver: Driver | None) -> InboundSms:
    """`*NewSMS`: the text in numbered `MessageLineN` headers."""
    lines: list[tuple[int, str]] = []
    for key, value in event.items():
        match = _LINE.fullmatch(key)
        if match:
            lines.append((int(match.group(1)), value))
    lines.sort()
    return InboundSms(
        device=event.get("Device") or "",
        sender=event.get("From") or "",
        text="\n".join(value for _, value in lines),
        source="lines",
        driver=driver,
    )


def _pdu_part(event: AmiEvent, name: str, driver: Driver | None) -> InboundSms | None:
    """`*NewCMGR`: the raw PDU; only a part of a multipart SMS is read from it (a whole one
    comes again in `*NewSMS*`)."""
    device = event.get("Device") or ""
    try:
        deliver = decode_deliver(cmgr_pdu(event.get("Message") or ""))
    except PduError as exc:
        log.debug("%s on %s not read: %s", name, device, exc)
        return None
    if deliver.part is None or deliver.part.total < 2:
        return None
    return InboundSms(
        device=device,
        sender=deliver.sender,
        text=deliver.text,
        source="reassembled",
        part=deliver.part,
        driver=driver,
    )


def report_from_event(event: AmiEvent, name: str) -> DeliveryReport | None:
    """The delivery report an event carries; None when it says nothing final."""
    kind = _kind(name)
    device = event.get("Device") or ""
    if kind == "report":
        payload = event.get("Payload") or None
        success = (event.get("Success") or "").strip() == "1"
        report_type = (event.get("Type") or "").strip()
        detail = f"type {report_type} success {int(success)} report {(event.get('Report') or '')!r}"
        outcome: ReportOutcome
        if report_type == "0":
            outcome = "sent" if success else "failed"
        elif report_type == "1":
            outcome = "delivered" if success else "failed"
        elif report_type == "2":
            outcome = "expired"
        else:
            return None
        return DeliveryReport(device, outcome, detail, payload=payload)
    if kind == "smsstatus":
        status = (event.get("Status") or "").strip()
        modem_id = (event.get("ID") or "").strip() or None
        word = status.split()[0].lower() if status else ""
        mapped: dict[str, ReportOutcome] = {
            "sent": "sent",
            "notsent": "failed",
            "delivered": "delivered",
        }
        if word not in mapped:
            return None
        return DeliveryReport(device, mapped[word], f"status {status!r}", modem_id=modem_id)
    return None
