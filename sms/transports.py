"""Senders: chan_dongle/chan_quectel `*SendSMS` and PJSIP `MessageSend`, over AMI.

A transport turns one outbox message into one AMI action and says what came of it, as a
`SendOutcome`; it never raises. The kinds:

* `accepted`: Asterisk took it (`Response: Success`).
* `not_sent`: nothing went out and a retry may work (the link was down before the action
  was written; chan_dongle refused it: device not connected, queue error…).
* `rejected`: nothing went out and a retry cannot help (invalid number, text the AMI
  header cannot carry…).
* `unknown`: the action may have reached Asterisk (timeout, link lost while waiting).

Every header value goes through `ami_listener.escape.header_value`.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from ami_listener.errors import AmiActionError, AmiDisconnected, AmiNotSent, AmiTimeout
from ami_listener.escape import MAX_LINE_BYTES, header_value
from ami_listener.message import AmiMessage
from sms import text as sms_text
from sms.settings import PJSIP_MAX_BODY, SmsSettings
from sms.types import OutboxMessage

log = logging.getLogger("pbxbridge.sms")

OutcomeKind = Literal["accepted", "offline", "not_sent", "rejected", "unknown"]
"""`offline`: nothing was written because the AMI link is down (the attempt does not
count); `not_sent`: Asterisk or the modem refused it in a way worth retrying."""


def action_key(message_id: int, attempt: int) -> str:
    """The idempotency key of one attempt: ActionID, and Payload for chan_dongle."""
    return f"pbxbridge-sms-{message_id}-{attempt}"


def header_line_fits(name: str, value: str) -> bool:
    """Whether `name: value` fits the line Asterisk's manager reads whole (1024 bytes)."""
    return len(f"{name}: {value}\r\n".encode()) <= MAX_LINE_BYTES


def dongle_message(text: str, c_escapes: bool) -> str:
    """The `Message` header value for `*SendSMS`."""
    return sms_text.c_escape(text) if c_escapes else sms_text.flatten_newlines(text)


def pjsip_body(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def pjsip_body_limit() -> int:
    """Bytes of UTF-8 one MessageSend can carry: Asterisk cuts Base64Body at 1300 decoded
    bytes, and before that its manager drops any line over 1024 bytes, which caps the
    base64 at 1008 characters (756 bytes)."""
    room = MAX_LINE_BYTES - len("Base64Body: \r\n")
    return min(PJSIP_MAX_BODY, room // 4 * 3)


@dataclass(frozen=True, slots=True)
class SendOutcome:
    kind: OutcomeKind
    detail: str = ""
    modem_id: str | None = None
    """bg111 chan_dongle's `ID:` in the response, which its `DongleSMSStatus` repeats."""


class AmiActions(Protocol):
    """The one thing the outbox needs from the AMI client (`AmiClient.action`)."""

    async def action(
        self,
        name: str,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - AmiClient's signature
        action_id: str | None = None,
    ) -> AmiMessage: ...


class SmsTransport(Protocol):
    async def send(self, message: OutboxMessage) -> SendOutcome: ...


Ready = Callable[[], bool]
"""Whether the AMI link is up now (e.g. `lambda: ami.health is AmiHealth.CONNECTED`).
Checked right before the action: when down, the send is `offline` without trying."""

# chan_dongle / chan_quectel refusals after which retrying cannot help (reference §4.3).
_DONGLE_PERMANENT = (
    "invalid destination number",
    "invalid phone number",
    "cannot parse utf-8",
    "pdu building error",
    "input too large",
    "not specified",
    "permission denied",
)
_PJSIP_PERMANENT = (
    "no 'to' address",
    "no destination",
    "technology not found",
    "permission denied",
    "invalid",
)


async def _perform(
    ami: AmiActions,
    name: str,
    headers: dict[str, str],
    *,
    message: OutboxMessage,
    action_timeout: float,
    ready: Ready | None,
    permanent: tuple[str, ...],
) -> tuple[SendOutcome, AmiMessage | None]:
    if ready is not None and not ready():
        return SendOutcome("offline", "AMI not connected: not sent"), None
    return await _send(ami, name, headers, message, action_timeout, permanent)


async def _send(
    ami: AmiActions,
    name: str,
    headers: dict[str, str],
    message: OutboxMessage,
    action_timeout: float,
    permanent: tuple[str, ...],
) -> tuple[SendOutcome, AmiMessage | None]:
    """One action, and what its answer (or its failure) means for the message: only an
    answer proving nothing went out lets the outbox try again (`not_sent`, `offline`)."""
    try:
        response = await ami.action(
            name, headers, timeout=action_timeout, action_id=message.action_id or None
        )
    except AmiActionError as exc:
        reason = exc.response.get("Message") or exc.message or "Response: Error"
        lowered = reason.lower()
        kind: OutcomeKind = "rejected" if any(p in lowered for p in permanent) else "not_sent"
        return SendOutcome(kind, f"{name} refused: {reason}"), exc.response
    except AmiTimeout as exc:
        return SendOutcome("unknown", f"{name}: {exc}; may have been sent"), None
    except AmiNotSent as exc:  # nothing reached the wire: safe to try again
        return SendOutcome("offline", f"{name}: {exc}"), None
    except AmiDisconnected as exc:  # may or may not have reached Asterisk
        return SendOutcome("unknown", f"{name}: {exc}; may have been sent"), None
    except ValueError as exc:  # a header the AMI cannot carry: nothing was written
        return SendOutcome("rejected", f"{name} not sent: {exc}"), None
    return SendOutcome("accepted", response.get("Message", "")), response


class DongleTransport:
    """`DongleSendSMS` (chan_dongle) or `QuectelSendSMS` (chan_quectel)."""

    def __init__(
        self,
        ami: AmiActions,
        settings: SmsSettings,
        *,
        prefix: Literal["Dongle", "Quectel"] = "Dongle",
        ready: Ready | None = None,
    ) -> None:
        self._ami = ami
        self._settings = settings
        self._action = f"{prefix}SendSMS"
        self._ready = ready

    def headers(self, message: OutboxMessage) -> dict[str, str]:
        """The action's headers (ValueError when a value cannot be an AMI header)."""
        s = self._settings
        headers = {
            "Device": header_value(message.device),
            "Number": header_value(message.number),
            "Message": header_value(dongle_message(message.text, s.c_escapes)),
        }
        if s.validity:
            headers["Validity"] = str(s.validity)
        headers["Report"] = "yes" if s.report else "no"
        if message.action_id:
            headers["Payload"] = header_value(message.action_id)
        return headers

    async def send(self, message: OutboxMessage) -> SendOutcome:
        try:
            headers = self.headers(message)
        except ValueError as exc:
            return SendOutcome("rejected", f"{self._action} not sent: {exc}")
        outcome, response = await _perform(
            self._ami,
            self._action,
            headers,
            message=message,
            action_timeout=self._settings.action_timeout,
            ready=self._ready,
            permanent=_DONGLE_PERMANENT,
        )
        if outcome.kind == "accepted" and response is not None:
            modem_id = (response.get("ID") or "").strip() or None
            return SendOutcome("accepted", outcome.detail, modem_id)
        return outcome


class PjsipTransport:
    """Asterisk's `MessageSend` to a PJSIP destination, the body as `Base64Body`.

    PJSIP has no delivery report: `sent` means Asterisk handed it to pjsip.
    """

    def __init__(
        self, ami: AmiActions, settings: SmsSettings, *, ready: Ready | None = None
    ) -> None:
        self._ami = ami
        self._settings = settings
        self._ready = ready

    def destination(self, message: OutboxMessage) -> str:
        device = message.device.partition(":")[2]
        return self._settings.pjsip_endpoint.format(number=message.number, device=device)

    def headers(self, message: OutboxMessage) -> dict[str, str]:
        s = self._settings
        size = len(message.text.encode("utf-8"))
        limit = pjsip_body_limit()
        if size > limit:
            raise ValueError(
                f"the body is {size} bytes; MessageSend over AMI carries at most {limit}"
            )
        headers: dict[str, str] = {s.pjsip_address_header: header_value(self.destination(message))}
        if s.pjsip_from:
            headers["From"] = header_value(s.pjsip_from)
        headers["Base64Body"] = pjsip_body(message.text)
        return headers

    async def send(self, message: OutboxMessage) -> SendOutcome:
        try:
            headers = self.headers(message)
        except (ValueError, KeyError, IndexError) as exc:
            return SendOutcome("rejected", f"MessageSend not sent: {exc}")
        outcome, _ = await _perform(
            self._ami,
            "MessageSend",
            headers,
            message=message,
            action_timeout=self._settings.action_timeout,
            ready=self._ready,
            permanent=_PJSIP_PERMANENT,
        )
        return outcome


class RoutingTransport:
    """Sends each message by the transport recorded on it when it was queued."""

    def __init__(self, transports: Mapping[str, SmsTransport]) -> None:
        self._transports = dict(transports)

    async def send(self, message: OutboxMessage) -> SendOutcome:
        transport = self._transports.get(message.transport)
        if transport is None:
            return SendOutcome("rejected", f"no transport {message.transport!r} configured")
        return await transport.send(message)


def build_transport(
    settings: SmsSettings, ami: AmiActions, *, ready: Ready | None = None
) -> SmsTransport:
    """Every transport on one AMI client; a message goes by the one it was queued for."""
    return RoutingTransport(
        {
            "dongle": DongleTransport(ami, settings, prefix="Dongle", ready=ready),
            "quectel": DongleTransport(ami, settings, prefix="Quectel", ready=ready),
            "pjsip": PjsipTransport(ami, settings, ready=ready),
        }
    )
